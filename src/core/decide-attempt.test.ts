import { describe, expect, it } from "vitest";
import type { RetryPolicy } from "./call.ts";
import { classifyOutcome } from "./classify-outcome.ts";
import { decideAttempt, type DecideAttemptInput } from "./decide-attempt.ts";

const retry: RetryPolicy = {
  maxAttempts: 5,
  backoff: "exponential",
  initialDelayMs: 1_000,
  maxDelayMs: 60_000,
};
const half = { next: () => 0.5 };
const base: DecideAttemptInput = {
  outcome: { type: "response", status: 503 },
  sent: true,
  method: "POST",
  idempotencyKeySent: true,
  retry,
  attemptsUsed: 1,
  now: 1_000_000,
};

describe("classifyOutcome", () => {
  it("retries the transient statuses and network errors by default, nothing else", () => {
    for (const status of [408, 425, 429, 500, 502, 503, 504, 507, 599])
      expect(classifyOutcome({ type: "response", status }).kind).toBe("transient");
    for (const status of [301, 400, 401, 403, 404, 409, 410, 422, 501, 505])
      expect(classifyOutcome({ type: "response", status }).kind).toBe("permanent");
    expect(classifyOutcome({ type: "response", status: 204 }).kind).toBe("success");
    expect(classifyOutcome({ type: "error", code: "reset", message: "x" }).kind).toBe("transient");
    expect(classifyOutcome({ type: "error", code: "blocked_destination", message: "x" }).kind).toBe(
      "permanent",
    );
  });

  it("lets retryOn replace the defaults", () => {
    expect(classifyOutcome({ type: "response", status: 409 }, [409]).kind).toBe("transient");
    expect(classifyOutcome({ type: "response", status: 501 }, ["5xx"]).kind).toBe("transient");
    expect(classifyOutcome({ type: "response", status: 503 }, [409]).kind).toBe("permanent");
    expect(classifyOutcome({ type: "error", code: "reset", message: "x" }, [503]).kind).toBe(
      "permanent",
    );
    expect(classifyOutcome({ type: "error", code: "reset", message: "x" }, ["network"]).kind).toBe(
      "transient",
    );
  });
});

describe("decideAttempt", () => {
  it("succeeds on 2xx and fails at once on 400", () => {
    expect(decideAttempt({ ...base, outcome: { type: "response", status: 200 } }, half)).toEqual({
      type: "succeed",
    });
    expect(
      decideAttempt({ ...base, outcome: { type: "response", status: 400 } }, half),
    ).toMatchObject({ type: "fail", code: "not_retryable" });
  });

  it("schedules a jittered retry for 503 and stops at maxAttempts", () => {
    expect(decideAttempt(base, half)).toMatchObject({ type: "retry", delayMs: 500 });
    expect(decideAttempt({ ...base, attemptsUsed: 3 }, half)).toMatchObject({
      type: "retry",
      delayMs: 2_000,
    });
    expect(decideAttempt({ ...base, attemptsUsed: 5 }, half)).toMatchObject({
      type: "fail",
      code: "attempts_exhausted",
    });
  });

  it("waits at least what Retry-After asks, capped at maxDelayMs, and says so", () => {
    const asked = decideAttempt(
      {
        ...base,
        outcome: { type: "response", status: 429 },
        responseHeaders: { "retry-after": "2" },
      },
      half,
    );
    expect(asked).toMatchObject({ type: "retry", delayMs: 2_000 });
    const capped = decideAttempt({ ...base, responseHeaders: { "retry-after": "600" } }, half);
    expect(capped).toMatchObject({ type: "retry", delayMs: 60_000 });
    expect(capped.type === "retry" && capped.reason).toContain("capped at maxDelayMs 60000");
  });

  it("fails rather than retry past the deadline", () => {
    const decision = decideAttempt({ ...base, deadlineAt: base.now + 100 }, half);
    expect(decision).toMatchObject({ type: "fail", code: "deadline_exceeded" });
  });

  it("retries a POST that may have reached the upstream only when a key travelled with it", () => {
    const readTimeout = {
      type: "error" as const,
      code: "read_timeout" as const,
      message: "no answer",
    };
    expect(
      decideAttempt({ ...base, outcome: readTimeout, idempotencyKeySent: false }, half),
    ).toMatchObject({ type: "fail", code: "unsafe_to_retry" });
    expect(
      decideAttempt({ ...base, outcome: readTimeout, idempotencyKeySent: true }, half),
    ).toMatchObject({ type: "retry" });
    expect(
      decideAttempt(
        { ...base, outcome: readTimeout, sent: false, idempotencyKeySent: false },
        half,
      ),
    ).toMatchObject({ type: "retry" });
    expect(
      decideAttempt(
        { ...base, method: "PUT", outcome: readTimeout, idempotencyKeySent: false },
        half,
      ),
    ).toMatchObject({ type: "retry" });
  });
});
