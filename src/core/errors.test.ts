import { describe, expect, it } from "vitest";
import { CliError } from "../cli/cli-error.ts";
import { SteadfastApiError, SteadfastConnectionError } from "../client/errors.ts";
import { BlockedDestinationError } from "../http/guarded-connector.ts";
import {
  BrokenCircuitError,
  BulkheadRejectedError,
  DeadlineExceededError,
  isBrokenCircuitError,
  isResilienceError,
  RateLimitedError,
  RetryBudgetExhaustedError,
  TimeoutError,
} from "../resilience/errors.ts";
import { StoreUnavailableError } from "../store/postgres/postgres-errors.ts";
import {
  InvalidOptionError,
  isErrorCode,
  isRetryableError,
  isSteadfastError,
  isTerminalError,
  isWaitTimeoutError,
  RetryableError,
  SteadfastError,
  TerminalError,
  WaitTimeoutError,
} from "./errors.ts";

describe("one error root (issue 10, item 14)", () => {
  it("recognises every error the package raises with one guard, each with a code", () => {
    const raised: [unknown, string][] = [
      [new TerminalError("invalid_request", "bad"), "invalid_request"],
      [new RetryableError("store_unavailable", "down"), "store_unavailable"],
      [new StoreUnavailableError(new Error("ECONNREFUSED")), "store_unavailable"],
      [new WaitTimeoutError("call_1", "running", 10), "wait_timeout"],
      [new InvalidOptionError("x must be > 0"), "invalid_option"],
      [
        new BrokenCircuitError({
          state: "open",
          openedAt: 0,
          openUntil: 1,
          retryAfterMs: 1,
          reason: { strategy: "isolated" },
        }),
        "circuit_open",
      ],
      [
        new BulkheadRejectedError({ maxConcurrent: 1, maxQueue: 0, executing: 1, queued: 0 }),
        "bulkhead_full",
      ],
      [new RateLimitedError({ retryAfterMs: 1, tokensPerSecond: 1, maxWaitMs: 0 }), "rate_limited"],
      [new TimeoutError({ timeoutMs: 1, elapsedMs: 1 }), "timeout"],
      [
        new RetryBudgetExhaustedError({
          ratio: 0.1,
          minRetriesPerSecond: 1,
          windowMs: 1,
          requests: 1,
          retries: 1,
          allowed: 0,
        }),
        "retry_budget_exhausted",
      ],
      [
        new DeadlineExceededError({ expiresAt: 0, remainingMs: 0, neededMs: 1 }),
        "deadline_exceeded",
      ],
      [new SteadfastApiError({ title: "Not found", status: 404, code: "not_found" }), "not_found"],
      [new SteadfastConnectionError("http://127.0.0.1:1", new Error("x")), "connection_failed"],
      [new CliError("bad flag"), "cli_failed"],
      [new BlockedDestinationError("x.test", ["10.0.0.1"], "private"), "blocked_destination"],
    ];
    for (const [error, code] of raised) {
      expect(isSteadfastError(error), code).toBe(true);
      expect(error).toBeInstanceOf(SteadfastError);
      expect((error as SteadfastError<string>).code).toBe(code);
    }
  });

  it("keeps the resilience guards and fields", () => {
    const error = new TimeoutError({ timeoutMs: 5, elapsedMs: 6 });
    expect(isResilienceError(error)).toBe(true);
    expect(isBrokenCircuitError(error)).toBe(false);
    expect(error).toMatchObject({ kind: "TimeoutError", policy: "timeout", name: "TimeoutError" });
  });

  it("tells terminal from retryable by brand, whatever the name", () => {
    const outage = new StoreUnavailableError(new Error("down"));
    expect(outage.name).toBe("StoreUnavailableError");
    expect(isRetryableError(outage)).toBe(true);
    expect(isTerminalError(outage)).toBe(false);
    expect(isTerminalError(new InvalidOptionError("no"))).toBe(true);
    expect(isTerminalError(new BlockedDestinationError("h", ["10.0.0.1"], "private"))).toBe(true);
    const waited = new WaitTimeoutError("call_1", "waiting", 5);
    expect(isTerminalError(waited) || isRetryableError(waited)).toBe(false);
    for (const plain of [new Error("x"), { name: "RetryableError" }, null, "RetryableError"]) {
      expect(isRetryableError(plain)).toBe(false);
      expect(isTerminalError(plain)).toBe(false);
      expect(isSteadfastError(plain)).toBe(false);
    }
  });

  it("recognises errors of another copy of the package", () => {
    const foreign = {
      code: "wait_timeout",
      [Symbol.for("steadfast.error")]: true,
    };
    expect(isSteadfastError(foreign)).toBe(true);
    expect(isWaitTimeoutError(foreign)).toBe(true);
    const foreignTerminal = { ...foreign, [Symbol.for("steadfast.error.retryable")]: false };
    expect(isTerminalError(foreignTerminal)).toBe(true);
  });

  it("gives the wait timeout its own class and code, naming the call", () => {
    const error = new WaitTimeoutError("call_01ABC", "running", 2_000);
    expect(error).toMatchObject({
      code: "wait_timeout",
      callId: "call_01ABC",
      status: "running",
      timeoutMs: 2_000,
    });
    expect(error.message).toBe(
      "Call call_01ABC is still running after 2000 ms; call result() again to keep waiting",
    );
    expect(isErrorCode("wait_timeout")).toBe(false);
    expect(isErrorCode("not_found")).toBe(true);
  });
});
