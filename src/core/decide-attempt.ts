import { backoffDelayMs } from "./backoff.ts";
import type { AttemptDecision, ExchangeOutcome, RetryPolicy } from "./call.ts";
import { classifyOutcome, isIdempotentMethod } from "./classify-outcome.ts";
import type { Random } from "./ports.ts";
import { retryAfterFromHeaders } from "./retry-after.ts";

/** Everything `decideAttempt` needs to know about an attempt that just ended. */
export interface DecideAttemptInput {
  outcome: ExchangeOutcome;
  /** False only when the request certainly did not reach the upstream. */
  sent: boolean;
  /** Response headers, lower-cased, for `Retry-After` and the rate-limit reset headers. */
  responseHeaders?: Readonly<Record<string, string>>;
  method: string;
  /** Whether an `Idempotency-Key` travelled with the request. */
  idempotencyKeySent: boolean;
  retry: RetryPolicy;
  /** Attempts counted against `maxAttempts`, this one included. */
  attemptsUsed: number;
  /** When the attempt ended, epoch ms. */
  now: number;
  /** The call's deadline, epoch ms. */
  deadlineAt?: number;
}

/**
 * Decides what follows an attempt (ARCHITECTURE.md section 4): succeed on 2xx; fail on a
 * permanent outcome; otherwise retry after a backoff delay with full jitter, or after the delay
 * the upstream asked for (`Retry-After`, `RateLimit-Reset`, `X-RateLimit-Reset`, `RateLimit`; see
 * `retryAfterFromHeaders`) capped at `maxDelayMs`, unless
 * `maxAttempts` is used up, the deadline would pass first, or a non-idempotent request that may
 * have reached the upstream carries no idempotency key. Pure: the same input and random draws give
 * the same decision.
 *
 * @example decideAttempt({ outcome: { type: "response", status: 503 }, sent: true, ... }, random)
 */
export function decideAttempt(input: DecideAttemptInput, random: Random): AttemptDecision {
  const classification = classifyOutcome(input.outcome, input.retry.retryOn);
  if (classification.kind === "success") return { type: "succeed" };
  if (classification.kind === "permanent") {
    return {
      type: "fail",
      code: "not_retryable",
      reason: `${classification.reason} is not retryable`,
    };
  }
  if (input.sent && !input.idempotencyKeySent && !isIdempotentMethod(input.method)) {
    return {
      type: "fail",
      code: "unsafe_to_retry",
      reason: `${classification.reason} after the ${input.method} request may have reached the upstream, and no Idempotency-Key was sent, so retrying could repeat its effect`,
    };
  }
  const { maxAttempts, maxDelayMs } = input.retry;
  if (input.attemptsUsed >= maxAttempts) {
    return {
      type: "fail",
      code: "attempts_exhausted",
      reason: `${classification.reason}; maxAttempts (${maxAttempts}) reached`,
    };
  }
  let delayMs = backoffDelayMs(
    input.attemptsUsed,
    { kind: input.retry.backoff, initialDelayMs: input.retry.initialDelayMs, maxDelayMs },
    random,
  );
  let reason = `${classification.reason}; ${input.retry.backoff} backoff`;
  const askedMs =
    input.responseHeaders === undefined
      ? undefined
      : retryAfterFromHeaders(input.responseHeaders, input.now)?.delayMs;
  if (askedMs !== undefined) {
    if (askedMs > maxDelayMs) {
      delayMs = maxDelayMs;
      reason = `${classification.reason}; upstream asked to wait ${askedMs} ms, capped at maxDelayMs ${maxDelayMs}`;
    } else {
      delayMs = askedMs;
      reason = `${classification.reason}; upstream asked to wait ${askedMs} ms`;
    }
  }
  if (input.deadlineAt !== undefined && input.now + delayMs >= input.deadlineAt) {
    return {
      type: "fail",
      code: "deadline_exceeded",
      reason: `${classification.reason}; the deadline passes before the next attempt could start (in ${delayMs} ms)`,
    };
  }
  return { type: "retry", delayMs, reason };
}
