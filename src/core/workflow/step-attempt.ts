/**
 * Per-step retry: the policy of a `step.run` (or a compensation), the pure decision after each
 * failed attempt, and the record of every attempt (like a call's: start, duration, outcome,
 * decision).
 *
 * A `TerminalError` (`NonRetriableError` included) fails the step at once; any other error is
 * retried until `maxAttempts`, after a full-jitter backoff (`core/backoff.ts`, the engine's own),
 * or after a `RetryableError`'s `retryAfterMs` when it gives one, capped at `maxDelayMs`. The wait
 * is durable: the run parks until `retryAt`, and the attempt count lives in the checkpoint, so a
 * crash neither restarts the count nor skips the wait.
 */
import type { BackoffKind } from "../call.ts";
import { backoffDelayMs } from "../backoff.ts";
import { InvalidOptionError, isRetryableError, isTerminalError } from "../errors.ts";
import type { Random } from "../ports.ts";
import type { StepId } from "./step-id.ts";
import type { RecordedError } from "./workflow-errors.ts";

/** A step's retry policy, defaults applied. */
export interface StepRetryPolicy {
  /** Attempts in all, the first included. Default 4. */
  maxAttempts: number;
  /** Default `exponential`, with full jitter. */
  backoff: BackoffKind;
  /** Base delay, ms. Default 1,000. */
  initialDelayMs: number;
  /** Cap on any one delay, ms, `retryAfterMs` included. Default 60,000. */
  maxDelayMs: number;
}

/** A step's retry options: any field left out takes its default. */
export type StepRetryOptions = Partial<StepRetryPolicy>;

/**
 * The default step retry: 4 attempts, exponential backoff with full jitter from 1 s, capped at
 * 60 s (waits of at most 1 s, 2 s, 4 s: a flaky dependency gets some seconds to recover, a bug
 * fails the step within about 7 s of waiting).
 */
export const DEFAULT_STEP_RETRY: StepRetryPolicy = Object.freeze({
  maxAttempts: 4,
  backoff: "exponential",
  initialDelayMs: 1_000,
  maxDelayMs: 60_000,
});

/** Most attempts a step may be given. */
export const MAX_STEP_ATTEMPTS = 1_000;
const MAX_DELAY_MS = 30 * 86_400_000;

/**
 * `options` over the defaults, checked; throws an `InvalidOptionError` naming the step, the
 * field and the value.
 *
 * @example stepRetryPolicy("charge", { maxAttempts: 5 })
 */
export function stepRetryPolicy(stepId: string, options?: StepRetryOptions): StepRetryPolicy {
  const policy = { ...DEFAULT_STEP_RETRY, ...options };
  const bad = (field: string, value: unknown, rule: string): never => {
    throw new InvalidOptionError(`Step "${stepId}": retry.${field} ${rule}, got ${String(value)}.`);
  };
  if (!Number.isInteger(policy.maxAttempts) || policy.maxAttempts < 1) {
    bad("maxAttempts", policy.maxAttempts, "must be an integer >= 1 (1: no retry)");
  }
  if (policy.maxAttempts > MAX_STEP_ATTEMPTS) {
    bad("maxAttempts", policy.maxAttempts, `must be at most ${MAX_STEP_ATTEMPTS}`);
  }
  if (!["exponential", "linear", "fixed"].includes(policy.backoff)) {
    bad("backoff", policy.backoff, `must be "exponential", "linear" or "fixed"`);
  }
  for (const field of ["initialDelayMs", "maxDelayMs"] as const) {
    const value = policy[field];
    if (!Number.isFinite(value) || value < 0 || value > MAX_DELAY_MS) {
      bad(field, value, `must be a number of ms from 0 to ${MAX_DELAY_MS} (30 days)`);
    }
  }
  return policy;
}

/** What follows a failed attempt. */
export type StepAttemptDecision =
  | { type: "succeed" }
  | {
      type: "retry";
      /** The wait, ms. */
      delayMs: number;
      /** When the next attempt is due, epoch ms. */
      retryAt: number;
      reason: string;
    }
  | { type: "fail"; code: StepFailCode; reason: string };

/**
 * Why a step's attempt ended it: its function threw a `TerminalError` (`terminal`), its attempts
 * were used up, its output could not be encoded for storage, or the run was cancelled while the
 * attempt ran (`cancelled`: the step is not failed, the run stops, nothing is compensated).
 */
export type StepFailCode = "terminal" | "attempts_exhausted" | "output_not_encodable" | "cancelled";

/** One attempt of a run or compensate step, as recorded. */
export interface StepAttempt {
  stepId: StepId;
  /** 1-based, over the step's life. */
  number: number;
  startedAt: number;
  durationMs: number;
  outcome: { type: "succeeded" } | { type: "failed"; error: RecordedError };
  decision: StepAttemptDecision;
}

/** Inputs of `decideStepAttempt`. */
export interface DecideStepAttemptInput {
  /** What the attempt threw. */
  error: unknown;
  /** The attempt that just failed (1-based). */
  attempt: number;
  policy: StepRetryPolicy;
  /** When it ended, epoch ms. */
  now: number;
}

/**
 * Decides what follows a failed attempt: fail at once on a `TerminalError`, fail when the
 * attempts are used up, otherwise retry after a full-jitter backoff (one draw from `random`) or
 * after the `retryAfterMs` a `RetryableError` asked for, capped at `maxDelayMs`. Pure.
 *
 * @example decideStepAttempt({ error, attempt: 1, policy: DEFAULT_STEP_RETRY, now }, random)
 */
export function decideStepAttempt(
  input: DecideStepAttemptInput,
  random: Random,
): StepAttemptDecision {
  const { error, attempt, policy, now } = input;
  if (isTerminalError(error)) {
    return { type: "fail", code: "terminal", reason: `terminal error (${error.code})` };
  }
  if (attempt >= policy.maxAttempts) {
    return {
      type: "fail",
      code: "attempts_exhausted",
      reason: `maxAttempts (${policy.maxAttempts}) reached`,
    };
  }
  const asked = isRetryableError(error) ? error.retryAfterMs : undefined;
  let delayMs: number;
  let reason: string;
  if (asked !== undefined && Number.isFinite(asked) && asked >= 0) {
    delayMs = Math.min(Math.ceil(asked), policy.maxDelayMs);
    reason =
      asked > policy.maxDelayMs
        ? `the error asked to wait ${asked} ms, capped at maxDelayMs ${policy.maxDelayMs}`
        : `the error asked to wait ${asked} ms`;
  } else {
    delayMs = backoffDelayMs(
      attempt,
      {
        kind: policy.backoff,
        initialDelayMs: policy.initialDelayMs,
        maxDelayMs: policy.maxDelayMs,
      },
      random,
    );
    reason = `${policy.backoff} backoff`;
  }
  return { type: "retry", delayMs, retryAt: now + delayMs, reason };
}
