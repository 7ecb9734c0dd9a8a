/**
 * `steadfast/resilience`: composable policies (retry, timeout, deadline, circuit breaker, retry
 * budget, bulkhead, rate limiter, fallback, hedge) with injected time and randomness, typed
 * events, and rejections that say which policy fired and why. See docs/resilience.md.
 */
export type { Clock, Random } from "../core/ports.ts";
export type { RetryOnRule } from "../core/call.ts";

export { pipeline, PipelinePolicy } from "./pipeline.ts";
export type { Policy, Operation } from "./policy.ts";
export type { ExecuteOptions, PolicyContext } from "./context.ts";

export {
  retry,
  decideRetry,
  RetryPolicy,
  type RetryOptions,
  type RetryEvents,
  type RetryPredicate,
  type RetryDecision,
  type RetryDecisionInput,
  type GiveUpReason,
} from "./retry.ts";
export {
  exponentialBackoff,
  linearBackoff,
  fixedBackoff,
  decorrelatedBackoff,
  applyJitter,
  type Backoff,
  type BackoffKind,
  type BackoffStep,
  type Jitter,
  type ExponentialBackoffOptions,
  type LinearBackoffOptions,
  type FixedBackoffOptions,
  type DecorrelatedBackoffOptions,
} from "./backoff.ts";
export {
  classify,
  classifyError,
  classifyResult,
  isIdempotentMethod,
  isRetryableStatus,
  retryOnRules,
  statusHealth,
  type Outcome,
  type Verdict,
} from "./classify.ts";
export {
  getHeader,
  parseRetryAfter,
  parseRateLimitReset,
  retryAfterFromHeaders,
  type HeadersLike,
  type RetryAfterHint,
} from "../core/retry-after.ts";

export { timeout, TimeoutPolicy, type TimeoutOptions, type TimeoutEvents } from "./timeout.ts";
export {
  deadline,
  Deadline,
  DeadlinePolicy,
  type DeadlineOptions,
  type DeadlinePolicyOptions,
  type DeadlineEvents,
} from "./deadline.ts";

export {
  circuitBreaker,
  CircuitBreakerPolicy,
  type CircuitBreakerOptions,
  type BreakerEvents,
} from "./circuit-breaker.ts";
export type { BreakerState, BreakerSnapshot } from "./breaker-state.ts";
export type { HealthVerdict } from "../core/classify-outcome.ts";
export {
  consecutiveFailures,
  failureRate,
  type BreakerStrategy,
  type StrategySnapshot,
  type ConsecutiveFailuresOptions,
  type FailureRateOptions,
} from "./breaker-strategies.ts";

export {
  retryBudget,
  RetryBudget,
  type RetryBudgetOptions,
  type RetryBudgetEvents,
} from "./retry-budget.ts";
export { bulkhead, BulkheadPolicy, type BulkheadOptions, type BulkheadEvents } from "./bulkhead.ts";
export {
  rateLimiter,
  RateLimiterPolicy,
  type RateLimiterOptions,
  type RateLimiterEvents,
} from "./rate-limiter.ts";
export {
  fallback,
  FallbackPolicy,
  type FallbackOptions,
  type FallbackEvents,
  type FallbackResult,
  type FreshResult,
  type DegradedResult,
  type FallbackFailure,
} from "./fallback.ts";
export {
  hedge,
  HedgePolicy,
  hedgeLostError,
  type HedgeOptions,
  type HedgeEvents,
} from "./hedge.ts";

export {
  ResilienceError,
  BrokenCircuitError,
  BulkheadRejectedError,
  RateLimitedError,
  TimeoutError,
  RetryBudgetExhaustedError,
  DeadlineExceededError,
  isResilienceError,
  isBrokenCircuitError,
  isBulkheadRejectedError,
  isRateLimitedError,
  isTimeoutError,
  isRetryBudgetExhaustedError,
  isDeadlineExceededError,
  describeTrip,
  type PolicyName,
  type ResilienceErrorKind,
  type ResilienceErrorCode,
  type TripReason,
  type BrokenCircuitDetails,
  type BulkheadRejectedDetails,
  type RateLimitedDetails,
  type TimeoutDetails,
  type RetryBudgetDetails,
  type DeadlineExceededDetails,
} from "./errors.ts";
export {
  SteadfastError,
  TerminalError,
  RetryableError,
  isSteadfastError,
  isTerminalError,
  isRetryableError,
} from "../core/errors.ts";
export type { EventSource, Listener, Unsubscribe } from "./events.ts";
export { systemClock, mathRandom, type UnrefClock } from "./system.ts";
