import { describe, expect, it } from "vitest";
import {
  BrokenCircuitError,
  BulkheadRejectedError,
  DeadlineExceededError,
  isBrokenCircuitError,
  isBulkheadRejectedError,
  isDeadlineExceededError,
  isRateLimitedError,
  isResilienceError,
  isRetryBudgetExhaustedError,
  isTimeoutError,
  RateLimitedError,
  RetryBudgetExhaustedError,
  TimeoutError,
} from "./errors.ts";

describe("resilience errors", () => {
  it("name the policy and carry the numbers behind the decision", () => {
    const error = new BulkheadRejectedError({
      maxConcurrent: 2,
      maxQueue: 1,
      executing: 2,
      queued: 1,
    });
    expect(error).toMatchObject({
      policy: "bulkhead",
      kind: "BulkheadRejectedError",
      executing: 2,
      queued: 1,
    });
    expect(error.message).toMatch(/2\/2 running, 1\/1 queued/);
    expect(error).toBeInstanceOf(Error);
  });

  it("describe why a circuit opened", () => {
    const error = new BrokenCircuitError({
      state: "open",
      openedAt: 0,
      openUntil: 5_000,
      retryAfterMs: 4_000,
      reason: {
        strategy: "failure-rate",
        metric: "failure-rate",
        rate: 0.6,
        threshold: 0.5,
        calls: 20,
        failures: 12,
        slowCalls: 0,
        windowMs: 10_000,
      },
    });
    expect(error.message).toBe(
      "circuit open (failure-rate 60% over 20 calls in 10000 ms, threshold 50%); next probe allowed in 4000 ms",
    );
  });

  it("are recognised by brand, across copies of the package", () => {
    // A copy of the package has its own classes but the same registered symbol.
    const foreign = { [Symbol.for("steadfast.resilience.error")]: "BrokenCircuitError" };
    expect(isBrokenCircuitError(foreign)).toBe(true);
    expect(isResilienceError(foreign)).toBe(true);
    expect(isTimeoutError(foreign)).toBe(false);
    expect(isBrokenCircuitError(new Error("x"))).toBe(false);
    expect(isBrokenCircuitError(null)).toBe(false);
  });

  it("each guard matches its own kind only", () => {
    const cases = [
      [new TimeoutError({ timeoutMs: 1, elapsedMs: 1 }), isTimeoutError],
      [
        new RateLimitedError({ retryAfterMs: 1, tokensPerSecond: 1, maxWaitMs: 0 }),
        isRateLimitedError,
      ],
      [
        new RetryBudgetExhaustedError({
          ratio: 0.1,
          minRetriesPerSecond: 1,
          windowMs: 10_000,
          requests: 0,
          retries: 10,
          allowed: 10,
        }),
        isRetryBudgetExhaustedError,
      ],
      [
        new DeadlineExceededError({ expiresAt: 0, remainingMs: 0, neededMs: 0 }),
        isDeadlineExceededError,
      ],
      [
        new BulkheadRejectedError({ maxConcurrent: 1, maxQueue: 0, executing: 1, queued: 0 }),
        isBulkheadRejectedError,
      ],
    ] as const;
    for (const [error, guard] of cases) {
      expect(guard(error)).toBe(true);
      expect(isBrokenCircuitError(error)).toBe(false);
    }
  });

  it("keep the cause", () => {
    const cause = new Error("503");
    expect(
      new DeadlineExceededError({ expiresAt: 0, remainingMs: 5, neededMs: 10 }, { cause }).cause,
    ).toBe(cause);
  });
});
