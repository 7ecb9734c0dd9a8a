/**
 * Rejections raised by the resilience policies. Each names the policy that fired (`policy`) and
 * carries the numbers behind its decision, so a log line or an error handler can say why a call
 * was refused without guessing. The guards (`isBrokenCircuitError` and friends) check a brand, not
 * `instanceof`, so they work across copies of the package (cockatiel's `isBrokenCircuitError`).
 * Each is also a `SteadfastError` with a `code` (`circuit_open`, `timeout`...), so
 * `isSteadfastError` recognises every error the package raises.
 */
import { SteadfastError } from "../core/errors.ts";

const BRAND = Symbol.for("steadfast.resilience.error");

/** Names of the policies that can reject a call. */
export type PolicyName =
  | "retry"
  | "timeout"
  | "deadline"
  | "circuit-breaker"
  | "retry-budget"
  | "bulkhead"
  | "rate-limiter"
  | "hedge"
  | "fallback";

/** The concrete error kinds, as carried by the brand. */
export type ResilienceErrorKind =
  | "BrokenCircuitError"
  | "BulkheadRejectedError"
  | "RateLimitedError"
  | "TimeoutError"
  | "RetryBudgetExhaustedError"
  | "DeadlineExceededError";

/** The `code` of each kind, as `isSteadfastError` callers see it. */
const CODES = {
  BrokenCircuitError: "circuit_open",
  BulkheadRejectedError: "bulkhead_full",
  RateLimitedError: "rate_limited",
  TimeoutError: "timeout",
  RetryBudgetExhaustedError: "retry_budget_exhausted",
  DeadlineExceededError: "deadline_exceeded",
} as const satisfies Record<ResilienceErrorKind, string>;

/** The `code` of a resilience rejection: `circuit_open`, `bulkhead_full`, `rate_limited`, `timeout`, `retry_budget_exhausted` or `deadline_exceeded`. */
export type ResilienceErrorCode = (typeof CODES)[ResilienceErrorKind];

/** Base of every rejection a resilience policy raises; a `SteadfastError` with a `code`. */
export class ResilienceError extends SteadfastError<ResilienceErrorCode> {
  /** The policy that rejected the call. */
  readonly policy: PolicyName;
  /** The error kind; also the brand the `isXxx` guards check. */
  readonly kind: ResilienceErrorKind;
  readonly [BRAND]: ResilienceErrorKind;

  constructor(
    kind: ResilienceErrorKind,
    policy: PolicyName,
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super(CODES[kind], message, options);
    this.name = kind;
    this.kind = kind;
    this.policy = policy;
    this[BRAND] = kind;
  }
}

/** Why a breaker opened: the strategy and the figures that crossed its threshold. */
export type TripReason =
  | { strategy: "consecutive-failures"; consecutiveFailures: number; threshold: number }
  | {
      strategy: "failure-rate";
      /** Which rate crossed its threshold. */
      metric: "failure-rate" | "slow-call-rate";
      /** The rate observed, in [0, 1]. */
      rate: number;
      threshold: number;
      calls: number;
      failures: number;
      slowCalls: number;
      windowMs: number;
    }
  | { strategy: "half-open-probe-failed" }
  | { strategy: "half-open-probe-lost"; halfOpenTimeoutMs: number }
  | { strategy: "isolated" }
  | { strategy: "restored" };

/** Fields of a `BrokenCircuitError`. */
export interface BrokenCircuitDetails {
  /** `open`, or `half-open` when every probe slot is taken. */
  state: "open" | "half-open";
  /** When the breaker opened (epoch ms). */
  openedAt: number;
  /** When it will let a probe through (epoch ms). */
  openUntil: number;
  /** `openUntil - now`, never negative. */
  retryAfterMs: number;
  /** Why it opened. */
  reason: TripReason;
}

/** The circuit breaker refused the call: the dependency is considered down. */
export class BrokenCircuitError extends ResilienceError implements BrokenCircuitDetails {
  readonly state: "open" | "half-open";
  readonly openedAt: number;
  readonly openUntil: number;
  readonly retryAfterMs: number;
  readonly reason: TripReason;

  constructor(details: BrokenCircuitDetails) {
    super(
      "BrokenCircuitError",
      "circuit-breaker",
      details.state === "open"
        ? `circuit open (${describeTrip(details.reason)}); next probe allowed in ${details.retryAfterMs} ms`
        : `circuit half-open and every probe slot is taken; retry in ${details.retryAfterMs} ms`,
    );
    this.state = details.state;
    this.openedAt = details.openedAt;
    this.openUntil = details.openUntil;
    this.retryAfterMs = details.retryAfterMs;
    this.reason = details.reason;
  }
}

/** Fields of a `BulkheadRejectedError`. */
export interface BulkheadRejectedDetails {
  /** Calls the bulkhead runs at once. */
  maxConcurrent: number;
  /** Calls it lets wait. */
  maxQueue: number;
  /** Calls running when this one was refused. */
  executing: number;
  /** Calls queued when this one was refused. */
  queued: number;
}

/** The bulkhead refused the call: every slot and every queue place is taken. */
export class BulkheadRejectedError extends ResilienceError implements BulkheadRejectedDetails {
  readonly maxConcurrent: number;
  readonly maxQueue: number;
  readonly executing: number;
  readonly queued: number;

  constructor(details: BulkheadRejectedDetails) {
    super(
      "BulkheadRejectedError",
      "bulkhead",
      `bulkhead full: ${details.executing}/${details.maxConcurrent} running, ${details.queued}/${details.maxQueue} queued; raise maxConcurrent or maxQueue, or shed load upstream`,
    );
    this.maxConcurrent = details.maxConcurrent;
    this.maxQueue = details.maxQueue;
    this.executing = details.executing;
    this.queued = details.queued;
  }
}

/** Fields of a `RateLimitedError`. */
export interface RateLimitedDetails {
  /** Wait before a token is available (or the pause ends), in ms. */
  retryAfterMs: number;
  /** The configured refill rate, tokens per second. */
  tokensPerSecond: number;
  /** Longest wait the limiter accepts, in ms. */
  maxWaitMs: number;
  /** Set when the limiter is paused: the end of the pause (epoch ms). */
  pausedUntil?: number | undefined;
}

/** The rate limiter refused the call: no token within `maxWaitMs`, or paused. */
export class RateLimitedError extends ResilienceError implements RateLimitedDetails {
  readonly retryAfterMs: number;
  readonly tokensPerSecond: number;
  readonly maxWaitMs: number;
  readonly pausedUntil: number | undefined;

  constructor(details: RateLimitedDetails) {
    super(
      "RateLimitedError",
      "rate-limiter",
      details.pausedUntil === undefined
        ? `rate limited: next token in ${details.retryAfterMs} ms (limit ${details.tokensPerSecond}/s, maxWaitMs ${details.maxWaitMs})`
        : `rate limiter paused until ${new Date(details.pausedUntil).toISOString()} (${details.retryAfterMs} ms)`,
    );
    this.retryAfterMs = details.retryAfterMs;
    this.tokensPerSecond = details.tokensPerSecond;
    this.maxWaitMs = details.maxWaitMs;
    this.pausedUntil = details.pausedUntil;
  }
}

/** Fields of a `TimeoutError`. */
export interface TimeoutDetails {
  /** The limit that applied to this attempt, in ms. */
  timeoutMs: number;
  /**
   * Time the attempt had run when abandoned, in ms, measured from the first clock reading known
   * to follow its start (so it may under-count by up to the timeout's `resolutionMs`).
   */
  elapsedMs: number;
}

/** One attempt ran past its timeout and was abandoned (its signal aborted). */
export class TimeoutError extends ResilienceError implements TimeoutDetails {
  readonly timeoutMs: number;
  readonly elapsedMs: number;

  constructor(details: TimeoutDetails) {
    super(
      "TimeoutError",
      "timeout",
      `attempt timed out after ${details.elapsedMs} ms (timeoutMs ${details.timeoutMs})`,
    );
    this.timeoutMs = details.timeoutMs;
    this.elapsedMs = details.elapsedMs;
  }
}

/** Fields of a `RetryBudgetExhaustedError`. */
export interface RetryBudgetDetails {
  /** Allowed retries as a fraction of recent requests. */
  ratio: number;
  /** Retries always allowed per second, whatever the traffic. */
  minRetriesPerSecond: number;
  /** The window the figures cover, in ms. */
  windowMs: number;
  /** Requests seen in the window. */
  requests: number;
  /** Retries and hedges spent in the window. */
  retries: number;
  /** Retries the window allows. */
  allowed: number;
}

/** The retry budget refused a retry or a hedge: the dependency already gets too many. */
export class RetryBudgetExhaustedError extends ResilienceError implements RetryBudgetDetails {
  readonly ratio: number;
  readonly minRetriesPerSecond: number;
  readonly windowMs: number;
  readonly requests: number;
  readonly retries: number;
  readonly allowed: number;

  constructor(details: RetryBudgetDetails, options: { cause?: unknown } = {}) {
    super(
      "RetryBudgetExhaustedError",
      "retry-budget",
      `retry budget exhausted: ${details.retries} retries for ${details.requests} requests in the last ${details.windowMs} ms (allowed ${details.allowed}: ${details.ratio * 100}% plus ${details.minRetriesPerSecond}/s)`,
      options,
    );
    this.ratio = details.ratio;
    this.minRetriesPerSecond = details.minRetriesPerSecond;
    this.windowMs = details.windowMs;
    this.requests = details.requests;
    this.retries = details.retries;
    this.allowed = details.allowed;
  }
}

/** Fields of a `DeadlineExceededError`. */
export interface DeadlineExceededDetails {
  /** When the deadline falls (epoch ms). */
  expiresAt: number;
  /** Time left when the decision was made, in ms (0 when it has passed). */
  remainingMs: number;
  /** Time the next step needed (a retry delay plus the attempt minimum), in ms. */
  neededMs: number;
}

/**
 * The end-to-end deadline ran out, or too little of it was left to start another attempt.
 * Never retried.
 */
export class DeadlineExceededError extends ResilienceError implements DeadlineExceededDetails {
  readonly expiresAt: number;
  readonly remainingMs: number;
  readonly neededMs: number;

  constructor(details: DeadlineExceededDetails, options: { cause?: unknown } = {}) {
    super(
      "DeadlineExceededError",
      "deadline",
      details.remainingMs <= 0
        ? `deadline exceeded at ${new Date(details.expiresAt).toISOString()}`
        : `deadline too close: ${details.remainingMs} ms left, ${details.neededMs} ms needed`,
      options,
    );
    this.expiresAt = details.expiresAt;
    this.remainingMs = details.remainingMs;
    this.neededMs = details.neededMs;
  }
}

function brandOf(value: unknown): unknown {
  return typeof value === "object" && value !== null
    ? (value as Record<symbol, unknown>)[BRAND]
    : undefined;
}

/** True for any resilience rejection, from this copy of the package or another. */
export function isResilienceError(value: unknown): value is ResilienceError {
  return typeof brandOf(value) === "string";
}

/** True for a `BrokenCircuitError` from any copy of the package. */
export function isBrokenCircuitError(value: unknown): value is BrokenCircuitError {
  return brandOf(value) === "BrokenCircuitError";
}

/** True for a `BulkheadRejectedError` from any copy of the package. */
export function isBulkheadRejectedError(value: unknown): value is BulkheadRejectedError {
  return brandOf(value) === "BulkheadRejectedError";
}

/** True for a `RateLimitedError` from any copy of the package. */
export function isRateLimitedError(value: unknown): value is RateLimitedError {
  return brandOf(value) === "RateLimitedError";
}

/** True for a `TimeoutError` from any copy of the package. */
export function isTimeoutError(value: unknown): value is TimeoutError {
  return brandOf(value) === "TimeoutError";
}

/** True for a `RetryBudgetExhaustedError` from any copy of the package. */
export function isRetryBudgetExhaustedError(value: unknown): value is RetryBudgetExhaustedError {
  return brandOf(value) === "RetryBudgetExhaustedError";
}

/** True for a `DeadlineExceededError` from any copy of the package. */
export function isDeadlineExceededError(value: unknown): value is DeadlineExceededError {
  return brandOf(value) === "DeadlineExceededError";
}

/** One line describing why a breaker opened, for messages and logs. */
export function describeTrip(reason: TripReason): string {
  switch (reason.strategy) {
    case "consecutive-failures":
      return `${reason.consecutiveFailures} consecutive failures, threshold ${reason.threshold}`;
    case "failure-rate":
      return `${reason.metric} ${formatRate(reason.rate)} over ${reason.calls} calls in ${reason.windowMs} ms, threshold ${formatRate(reason.threshold)}`;
    case "half-open-probe-failed":
      return "a half-open probe failed";
    case "half-open-probe-lost":
      return `half-open probes did not finish within ${reason.halfOpenTimeoutMs} ms`;
    case "isolated":
      return "isolated by hand";
    case "restored":
      return "restored from an exported state";
  }
}

function formatRate(rate: number): string {
  return `${Math.round(rate * 1000) / 10}%`;
}
