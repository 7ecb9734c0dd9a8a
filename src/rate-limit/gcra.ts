/**
 * The rate limit's algorithm (issue 13): the generic cell rate algorithm (GCRA, ITU-T I.371), a
 * token bucket kept as one number per key, its theoretical arrival time (TAT). The engine's
 * destination rate schedule (`engine/destinations/rate-schedule.ts`) is the same algorithm.
 *
 * A quota of `limit` requests per `window` spaces requests `increment = window / limit` apart,
 * and lets up to `burst` of them come back to back. A key's TAT is when its bucket would be full
 * again; a request at `now` moves it to `max(TAT, now) + increment`, and is allowed when that is
 * at most `burst * increment` (the capacity) ahead of `now`. A refused request changes nothing.
 *
 * A TAT more than the capacity ahead of `now` cannot come from this policy on a steady clock: the
 * wall clock stepped back, or the policy shrank. It is read as an empty bucket (`now + capacity`),
 * so such a key waits one increment, not the length of the step.
 *
 * Times are whole microseconds (epoch), so that every store (SQLite, PostgreSQL, Redis's Lua,
 * JavaScript) computes the same integers: a rate of 7 per minute is an increment of 8,571,428 µs,
 * which milliseconds could not hold, and an epoch in microseconds (about 1.8e15) stays well
 * within the 2^53 that doubles count exactly.
 *
 * Pure: the stores apply `gcraTake` atomically (in JavaScript, SQL or Lua), and `allowanceOf`
 * reads what a client is told from its outcome.
 */
import { InvalidOptionError } from "../core/errors.ts";

/** The shape of a quota, in the algorithm's terms. */
export interface GcraShape {
  /** Time one request uses up: the window divided by the limit, rounded down, µs. */
  readonly incrementUs: number;
  /** How far ahead of now the TAT may go: `burst * incrementUs`. */
  readonly capacityUs: number;
  /** Requests allowed back to back from a full bucket. */
  readonly burst: number;
}

/** One request's step, as a store applies it. */
export interface GcraStep {
  /** The caller's time, epoch µs. */
  readonly nowUs: number;
  readonly incrementUs: number;
  readonly capacityUs: number;
}

/** What a store answers for a step. */
export interface GcraOutcome {
  readonly allowed: boolean;
  /**
   * The key's TAT after the step, epoch µs: the new one when allowed; when refused, the one in
   * force (between `nowUs` and `nowUs` + capacity).
   */
  readonly tatUs: number;
}

/** What a client is told after a step (draft-ietf-httpapi-ratelimit-headers-11, section 4.1). */
export interface Allowance {
  /** Requests that would be allowed now, back to back (`r`). */
  readonly remaining: number;
  /**
   * Seconds until one more request becomes available (`t`), rounded up: within them the client
   * can use no more than `remaining`. `0` when the bucket is full.
   */
  readonly resetSeconds: number;
  /** Seconds until the refused request would be allowed (`Retry-After`); absent when allowed. */
  readonly retryAfterSeconds?: number;
}

const US_PER_MS = 1_000;
const US_PER_SECOND = 1_000_000;

/**
 * The shape of `limit` requests per `windowMs`, `burst` back to back. Throws
 * `InvalidOptionError` when a request would use up less than a microsecond.
 *
 * @example gcraShape(100, 60_000, 100) // { incrementUs: 600_000, capacityUs: 60_000_000, burst: 100 }
 */
export function gcraShape(limit: number, windowMs: number, burst: number): GcraShape {
  const windowUs = windowMs * US_PER_MS;
  if (limit > windowUs) {
    throw new InvalidOptionError(
      `createRateLimit: limit ${limit} per ${windowMs} ms is more than one request per microsecond; use a lower limit or a longer window`,
    );
  }
  // Rounded down: a client that keeps to the advertised quota is never refused for a rounding
  // (the rate enforced is above it by less than a microsecond per request).
  const incrementUs = Math.floor(windowUs / limit);
  return { incrementUs, capacityUs: burst * incrementUs, burst };
}

/** The step of a request at `nowMs` (epoch ms of the caller's clock) under `shape`. */
export function gcraStep(shape: GcraShape, nowMs: number): GcraStep {
  return {
    nowUs: Math.round(nowMs * US_PER_MS),
    incrementUs: shape.incrementUs,
    capacityUs: shape.capacityUs,
  };
}

/**
 * One request under GCRA: the key's next TAT given the stored one (`undefined`: none, a full
 * bucket). What every store does atomically.
 *
 * @example gcraTake(undefined, { nowUs: 0, incrementUs: 100, capacityUs: 200 }) // { allowed: true, tatUs: 100 }
 */
export function gcraTake(storedTatUs: number | undefined, step: GcraStep): GcraOutcome {
  const base = Math.min(
    Math.max(storedTatUs ?? step.nowUs, step.nowUs),
    step.nowUs + step.capacityUs,
  );
  const next = base + step.incrementUs;
  if (next - step.nowUs <= step.capacityUs) return { allowed: true, tatUs: next };
  return { allowed: false, tatUs: base };
}

/**
 * What the client is told after `outcome` of `step`: requests left, seconds until one more,
 * and, when refused, seconds until it would be allowed. Both are rounded up, so a client that
 * waits them is never early.
 *
 * @example allowanceOf({ allowed: true, tatUs: 600_000 }, { nowUs: 0, incrementUs: 600_000, capacityUs: 60_000_000 })
 * // { remaining: 99, resetSeconds: 1 }
 */
export function allowanceOf(outcome: GcraOutcome, step: GcraStep): Allowance {
  // What the bucket holds, in µs of requests: capacity less the TAT's lead over now.
  const slackUs = step.capacityUs - Math.max(0, outcome.tatUs - step.nowUs);
  const remaining = Math.max(0, Math.floor(slackUs / step.incrementUs));
  const full = slackUs >= step.capacityUs;
  // One more request is available once the slack reaches (remaining + 1) increments.
  const nextUs = (remaining + 1) * step.incrementUs - slackUs;
  const resetSeconds = full ? 0 : Math.ceil(nextUs / US_PER_SECOND);
  if (outcome.allowed) return { remaining, resetSeconds };
  // Refused: this request needs one increment of slack, which comes `nextUs` from now.
  return { remaining, resetSeconds, retryAfterSeconds: Math.max(1, resetSeconds) };
}
