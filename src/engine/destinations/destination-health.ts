/**
 * Recent health of one destination, in this process's memory (not saved): requests and failures
 * over a rolling window, and their latency in log-spaced buckets, from which p50, p95 and p99 are
 * estimated. The latency of answers (responses, of any status) is also kept on its own: the
 * typical time the destination takes to answer, against which an expired timeout is judged
 * (`destinationVerdict`). Recording is O(1) and allocation-free; reading is O(buckets).
 */
import { RollingWindow } from "../../resilience/rolling-window.ts";

/** What `DestinationHealth.snapshot` reports. */
export interface HealthSnapshot {
  /** The window the figures cover, ms. */
  windowMs: number;
  /** Attempts that ended in the window. */
  requests: number;
  /** Of those, failures for the breaker (5xx, 408, network errors, telling timeouts). */
  failures: number;
  /** `failures / requests`, 0 without requests. */
  errorRate: number;
  /** Latency quantiles in ms, absent without requests. Within one bucket (about 19%) of the truth. */
  latencyMs?: { p50: number; p95: number; p99: number };
}

// Bucket upper bounds: 0.5 ms to about 10 minutes, each 1.19 times the one before (2^0.25).
const GROWTH = Math.pow(2, 0.25);
const FIRST_MS = 0.5;
const BOUNDS: readonly number[] = Array.from(
  { length: 82 },
  (_, i) => FIRST_MS * Math.pow(GROWTH, i),
);
// How long a computed median is reused.
const MEDIAN_REFRESH_MS = 100;
const LOG_GROWTH = Math.log(GROWTH);
// Counter fields: requests, failures, answers, then one per latency bucket for every attempt,
// then one per latency bucket for answers only.
const REQUESTS = 0;
const FAILURES = 1;
const ANSWERS = 2;
const ALL_BUCKETS = 3;
const ANSWER_BUCKETS = ALL_BUCKETS + BOUNDS.length;

function bucketOf(durationMs: number): number {
  if (!(durationMs > FIRST_MS)) return 0;
  const index = Math.ceil(Math.log(durationMs / FIRST_MS) / LOG_GROWTH - 1e-9);
  return Math.min(BOUNDS.length - 1, index);
}

/** A median computed at most once per `MEDIAN_REFRESH_MS` (the engine asks on hot paths). */
interface CachedMedian {
  value: number | undefined;
  at: number;
}

/** Rolling request, failure and latency counts of one destination. */
export class DestinationHealth {
  readonly windowMs: number;
  readonly #window: RollingWindow;
  readonly #median: CachedMedian = { value: undefined, at: Number.NEGATIVE_INFINITY };
  readonly #answerMedian: CachedMedian = { value: undefined, at: Number.NEGATIVE_INFINITY };

  /** `windowMs` default 60,000, kept in 6 slots. */
  constructor(windowMs = 60_000) {
    this.windowMs = windowMs;
    this.#window = new RollingWindow(windowMs, 6, ANSWER_BUCKETS + BOUNDS.length);
  }

  /**
   * Records one attempt that ended at `now`, after `durationMs`. `answered`: it got a response
   * (of any status), rather than a transport error or a timeout. Default true.
   */
  record(now: number, durationMs: number, failure: boolean, answered = true): void {
    const bucket = bucketOf(durationMs);
    this.#window.add(now, REQUESTS);
    if (failure) this.#window.add(now, FAILURES);
    this.#window.add(now, ALL_BUCKETS + bucket);
    if (answered) {
      this.#window.add(now, ANSWERS);
      this.#window.add(now, ANSWER_BUCKETS + bucket);
    }
  }

  /**
   * The median latency over the window, ms, or `undefined` without requests. Timeouts count at
   * the time they took: while a destination hangs, this rises toward its callers' timeouts.
   */
  medianMs(now: number): number | undefined {
    return this.#cached(this.#median, now, ALL_BUCKETS, REQUESTS);
  }

  /**
   * The median time the destination took to answer over the window, ms, or `undefined` when it
   * answered nothing in it: its typical latency, which timeouts and errors do not pull down.
   */
  answerMedianMs(now: number): number | undefined {
    return this.#cached(this.#answerMedian, now, ANSWER_BUCKETS, ANSWERS);
  }

  /** The figures over the window ending at `now`. */
  snapshot(now: number): HealthSnapshot {
    const requests = this.#window.sum(now, REQUESTS);
    const failures = this.#window.sum(now, FAILURES);
    const snapshot: HealthSnapshot = {
      windowMs: this.windowMs,
      requests,
      failures,
      errorRate: requests === 0 ? 0 : failures / requests,
    };
    if (requests === 0) return snapshot;
    const counts = this.#counts(now, ALL_BUCKETS);
    snapshot.latencyMs = {
      p50: quantile(counts, requests, 0.5),
      p95: quantile(counts, requests, 0.95),
      p99: quantile(counts, requests, 0.99),
    };
    return snapshot;
  }

  #cached(cache: CachedMedian, now: number, first: number, total: number): number | undefined {
    if (cache.value === undefined || now < cache.at || now - cache.at >= MEDIAN_REFRESH_MS) {
      const count = this.#window.sum(now, total);
      cache.value = count === 0 ? undefined : quantile(this.#counts(now, first), count, 0.5);
      cache.at = now;
    }
    return cache.value;
  }

  #counts(now: number, first: number): number[] {
    return BOUNDS.map((_, i) => this.#window.sum(now, first + i));
  }
}

/** The `q` quantile of `total` durations counted per bucket, linear within its bucket. */
function quantile(counts: readonly number[], total: number, q: number): number {
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    const count = counts[i]!;
    if (count > 0 && seen + count >= rank) {
      const lower = i === 0 ? 0 : BOUNDS[i - 1]!;
      const upper = BOUNDS[i]!;
      return round(lower + ((rank - seen) / count) * (upper - lower));
    }
    seen += count;
  }
  return round(BOUNDS.at(-1)!);
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
