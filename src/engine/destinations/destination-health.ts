/**
 * Recent health of one destination, in this process's memory (not saved): requests and failures
 * over a rolling window, and their latency in log-spaced buckets, from which p50, p95 and p99 are
 * estimated. Recording is O(1) and allocation-free; reading is O(buckets).
 */
import { RollingWindow } from "../../resilience/rolling-window.ts";

/** What `DestinationHealth.snapshot` reports. */
export interface HealthSnapshot {
  /** The window the figures cover, ms. */
  windowMs: number;
  /** Attempts that ended in the window. */
  requests: number;
  /** Of those, failures for the breaker (5xx, 429, 408, network errors). */
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
// Counter fields: requests, failures, then one per latency bucket.
const REQUESTS = 0;
const FAILURES = 1;
const FIRST_BUCKET = 2;

function bucketOf(durationMs: number): number {
  if (!(durationMs > FIRST_MS)) return 0;
  const index = Math.ceil(Math.log(durationMs / FIRST_MS) / LOG_GROWTH - 1e-9);
  return Math.min(BOUNDS.length - 1, index);
}

/** Rolling request, failure and latency counts of one destination. */
export class DestinationHealth {
  readonly windowMs: number;
  readonly #window: RollingWindow;
  #median: number | undefined;
  #medianAt = Number.NEGATIVE_INFINITY;

  /** `windowMs` default 60,000, kept in 6 slots. */
  constructor(windowMs = 60_000) {
    this.windowMs = windowMs;
    this.#window = new RollingWindow(windowMs, 6, FIRST_BUCKET + BOUNDS.length);
  }

  /** Records one attempt that ended at `now`, after `durationMs`. */
  record(now: number, durationMs: number, failure: boolean): void {
    this.#window.add(now, REQUESTS);
    if (failure) this.#window.add(now, FAILURES);
    this.#window.add(now, FIRST_BUCKET + bucketOf(durationMs));
  }

  /**
   * The median latency over the window, ms, or `undefined` without requests. Computed at most
   * once per `MEDIAN_REFRESH_MS` (the engine asks for it on hot paths).
   */
  medianMs(now: number): number | undefined {
    if (
      this.#median === undefined ||
      now < this.#medianAt ||
      now - this.#medianAt >= MEDIAN_REFRESH_MS
    ) {
      this.#median = this.snapshot(now).latencyMs?.p50;
      this.#medianAt = now;
    }
    return this.#median;
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
    const counts = BOUNDS.map((_, i) => this.#window.sum(now, FIRST_BUCKET + i));
    const quantile = (q: number): number => {
      const rank = q * requests;
      let seen = 0;
      for (let i = 0; i < counts.length; i++) {
        const count = counts[i]!;
        if (count > 0 && seen + count >= rank) {
          // Linear within the bucket, between its lower and upper bound.
          const lower = i === 0 ? 0 : BOUNDS[i - 1]!;
          const upper = BOUNDS[i]!;
          return round(lower + ((rank - seen) / count) * (upper - lower));
        }
        seen += count;
      }
      return round(BOUNDS.at(-1)!);
    };
    snapshot.latencyMs = { p50: quantile(0.5), p95: quantile(0.95), p99: quantile(0.99) };
    return snapshot;
  }
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
