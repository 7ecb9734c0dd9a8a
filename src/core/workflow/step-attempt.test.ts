import { describe, expect, it } from "vitest";
import { RetryableError, TerminalError } from "../errors.ts";
import {
  decideStepAttempt,
  DEFAULT_STEP_RETRY,
  stepRetryPolicy,
  type StepRetryPolicy,
} from "./step-attempt.ts";
import { NonRetriableError } from "./workflow-errors.ts";

const half = { next: () => 0.5 };
const now = 1_000_000;

describe("stepRetryPolicy", () => {
  it("applies the defaults (4 attempts, exponential full jitter from 1 s, capped at 60 s)", () => {
    expect(stepRetryPolicy("s")).toEqual({
      maxAttempts: 4,
      backoff: "exponential",
      initialDelayMs: 1_000,
      maxDelayMs: 60_000,
    });
    expect(stepRetryPolicy("s", { maxAttempts: 1 }).maxAttempts).toBe(1);
  });

  it("refuses out-of-range options, naming the step and the field", () => {
    expect(() => stepRetryPolicy("s", { maxAttempts: 1.5 })).toThrow('Step "s": retry.maxAttempts');
    expect(() => stepRetryPolicy("s", { maxAttempts: 1_001 })).toThrow(/at most 1000/);
    expect(() => stepRetryPolicy("s", { backoff: "decorrelated" as never })).toThrow(
      /retry.backoff/,
    );
    expect(() => stepRetryPolicy("s", { maxDelayMs: -1 })).toThrow(/retry.maxDelayMs/);
    expect(() => stepRetryPolicy("s", { initialDelayMs: Number.NaN })).toThrow(
      /retry.initialDelayMs/,
    );
  });
});

describe("decideStepAttempt", () => {
  const policy: StepRetryPolicy = DEFAULT_STEP_RETRY;

  it("fails at once on a TerminalError, NonRetriableError included", () => {
    for (const error of [
      new TerminalError("invalid_request", "no"),
      new NonRetriableError("declined"),
    ]) {
      expect(decideStepAttempt({ error, attempt: 1, policy, now }, half)).toEqual({
        type: "fail",
        code: "terminal",
        reason: `terminal error (${error.code})`,
      });
    }
  });

  it("retries any other error with full-jitter exponential backoff until maxAttempts", () => {
    const delays = [1, 2, 3].map((attempt) =>
      decideStepAttempt({ error: new Error("x"), attempt, policy, now }, half),
    );
    expect(delays).toEqual([
      { type: "retry", delayMs: 500, retryAt: now + 500, reason: "exponential backoff" },
      { type: "retry", delayMs: 1_000, retryAt: now + 1_000, reason: "exponential backoff" },
      { type: "retry", delayMs: 2_000, retryAt: now + 2_000, reason: "exponential backoff" },
    ]);
    expect(decideStepAttempt({ error: "a string", attempt: 4, policy, now }, half)).toEqual({
      type: "fail",
      code: "attempts_exhausted",
      reason: "maxAttempts (4) reached",
    });
    // Full jitter: a draw of 0 waits nothing, a draw near 1 waits nearly the whole window.
    expect(
      decideStepAttempt({ error: 1, attempt: 3, policy, now }, { next: () => 0 }),
    ).toMatchObject({ delayMs: 0 });
    expect(
      decideStepAttempt({ error: 1, attempt: 3, policy, now }, { next: () => 0.999 }),
    ).toMatchObject({
      delayMs: 3_996,
    });
  });

  it("honours a RetryableError's retryAfterMs, capped at maxDelayMs", () => {
    const asked = (retryAfterMs: number) =>
      decideStepAttempt(
        {
          error: new RetryableError("internal", "busy", { retryAfterMs }),
          attempt: 1,
          policy,
          now,
        },
        half,
      );
    expect(asked(7_000)).toEqual({
      type: "retry",
      delayMs: 7_000,
      retryAt: now + 7_000,
      reason: "the error asked to wait 7000 ms",
    });
    expect(asked(120_000)).toMatchObject({
      delayMs: 60_000,
      reason: "the error asked to wait 120000 ms, capped at maxDelayMs 60000",
    });
  });
});
