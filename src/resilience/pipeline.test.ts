import { describe, expect, it } from "vitest";
import { FakeClock } from "../testing/fake-clock.ts";
import { consecutiveFailures } from "./breaker-strategies.ts";
import { bulkhead } from "./bulkhead.ts";
import { circuitBreaker } from "./circuit-breaker.ts";
import { isBrokenCircuitError, isTimeoutError } from "./errors.ts";
import { fallback } from "./fallback.ts";
import { pipeline } from "./pipeline.ts";
import { executeWith, type Operation, type Policy } from "./policy.ts";
import type { ExecuteOptions, PolicyContext } from "./context.ts";
import { retry } from "./retry.ts";
import { timeout } from "./timeout.ts";

/** A user-written policy: records entry and exit, passes the context through. */
function recorder(name: string, log: string[]): Policy {
  const policy: Policy = {
    execute: <T>(fn: Operation<T>, options?: ExecuteOptions) => executeWith(policy, fn, options),
    run: async <T>(fn: Operation<T>, context: PolicyContext): Promise<T> => {
      log.push(`${name}>`);
      try {
        return await fn(context);
      } finally {
        log.push(`<${name}`);
      }
    },
  };
  return policy;
}

describe("pipeline", () => {
  it("runs the first policy outermost", async () => {
    const log: string[] = [];
    const policy = pipeline(recorder("a", log), recorder("b", log), recorder("c", log));
    await policy.execute(() => {
      log.push("fn");
      return Promise.resolve(1);
    });
    expect(log).toEqual(["a>", "b>", "c>", "fn", "<c", "<b", "<a"]);
  });

  it("retries timed-out attempts through the breaker, which opens and then fails fast", async () => {
    const clock = new FakeClock(0);
    const breaker = circuitBreaker({
      clock,
      strategy: consecutiveFailures({ threshold: 3 }),
      openDurationMs: 10_000,
    });
    const policy = pipeline(
      retry({ clock, maxAttempts: 3, backoff: "fixed", initialDelayMs: 100 }),
      breaker,
      timeout({ timeoutMs: 1_000, clock }),
    );
    let calls = 0;
    let error: unknown;
    policy
      .execute(() => {
        calls++;
        return new Promise<never>(() => {});
      })
      .catch((e: unknown) => {
        error = e;
      });
    for (let i = 0; i < 100 && error === undefined; i++) await clock.advance(50);
    expect(calls).toBe(3);
    expect(isTimeoutError(error)).toBe(true);
    expect(breaker.state.state).toBe("open");
    // Open: refused at once, not retried (retrying into an open breaker only burns attempts).
    const refused: unknown = await policy
      .execute(() => Promise.resolve("x"))
      .catch((e: unknown) => e);
    expect(isBrokenCircuitError(refused)).toBe(true);
    expect(calls).toBe(3);
    await clock.advance(10_000);
    await expect(policy.execute(() => Promise.resolve("healthy"))).resolves.toBe("healthy");
    expect(breaker.state.state).toBe("closed");
  });

  it("composes with a fallback first, a bulkhead and a timeout", async () => {
    const clock = new FakeClock(0);
    const policy = pipeline(
      fallback({ value: () => "degraded answer" }),
      bulkhead({ maxConcurrent: 1 }),
      timeout({ timeoutMs: 100, clock }),
    );
    const slow = policy.execute(() => new Promise<string>(() => {}));
    await expect(policy.execute(() => Promise.resolve("x"))).resolves.toMatchObject({
      degraded: true,
      reason: "bulkhead: BulkheadRejectedError",
    });
    await clock.advance(100);
    await expect(slow).resolves.toMatchObject({ degraded: true, reason: "timeout: TimeoutError" });
  });

  it("nests pipelines", async () => {
    const log: string[] = [];
    const inner = pipeline(recorder("b", log), recorder("c", log));
    await pipeline(recorder("a", log), inner).execute(() => Promise.resolve(0));
    expect(log).toEqual(["a>", "b>", "c>", "<c", "<b", "<a"]);
  });

  it("refuses to be empty, and refuses a context it did not make", () => {
    expect(() => pipeline()).toThrow(/at least one policy/);
    const fake = {} as PolicyContext;
    expect(() => retry().run(() => 1, fake)).toThrow(/execute\(\)/);
  });
});
