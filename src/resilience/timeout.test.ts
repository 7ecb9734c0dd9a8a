import { getEventListeners } from "node:events";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FakeClock } from "../testing/fake-clock.ts";
import { Deadline } from "./deadline.ts";
import { isDeadlineExceededError, isTimeoutError, TimeoutError } from "./errors.ts";
import { pipeline } from "./pipeline.ts";
import { retry } from "./retry.ts";
import { timeout } from "./timeout.ts";

const hang = (): Promise<never> => new Promise<never>(() => {});

/** Records when (clock time) a promise settled, and how. */
function track<T>(clock: FakeClock, promise: Promise<T>) {
  const state: { at?: number; value?: T; error?: unknown } = {};
  promise.then(
    (value) => {
      state.at = clock.now();
      state.value = value;
    },
    (error: unknown) => {
      state.at = clock.now();
      state.error = error;
    },
  );
  return state;
}

let warnings: Error[] = [];
const onWarning = (warning: Error): void => {
  warnings.push(warning);
};
beforeEach(() => {
  warnings = [];
  process.on("warning", onWarning);
});
afterEach(() => {
  process.off("warning", onWarning);
});

describe("timeout", () => {
  it("abandons a hung function at the timeout and aborts its signal with the TimeoutError", async () => {
    const clock = new FakeClock(0);
    const policy = timeout({ timeoutMs: 1_000, clock });
    let signal: AbortSignal | undefined;
    const result = track(
      clock,
      policy.execute((ctx) => {
        signal = ctx.signal;
        return hang();
      }),
    );
    await clock.advance(999);
    expect(result.at).toBeUndefined();
    expect(signal!.aborted).toBe(false);
    await clock.advance(1);
    expect(result.at).toBe(1_000);
    expect(isTimeoutError(result.error)).toBe(true);
    expect(result.error).toMatchObject({ policy: "timeout", timeoutMs: 1_000, elapsedMs: 1_000 });
    expect(signal!.aborted).toBe(true);
    expect(signal!.reason).toBe(result.error);
  });

  it("returns a fast result and leaves nothing armed for it", async () => {
    const clock = new FakeClock(0);
    const policy = timeout({ timeoutMs: 50, clock });
    await expect(policy.execute(() => Promise.resolve("ok"))).resolves.toBe("ok");
    await expect(policy.execute(() => 7)).resolves.toBe(7);
    await expect(
      policy.execute(() => {
        throw new Error("sync");
      }),
    ).rejects.toThrow("sync");
  });

  it("never abandons an attempt early, and at most resolutionMs late", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 20, max: 5_000 }),
        fc.array(fc.integer({ min: 0, max: 300 }), { minLength: 1, maxLength: 15 }),
        async (timeoutMs, gaps) => {
          const clock = new FakeClock(0);
          const policy = timeout({ timeoutMs, clock });
          const calls: { startedAt: number; state: ReturnType<typeof track> }[] = [];
          for (const gap of gaps) {
            await clock.advance(gap);
            calls.push({ startedAt: clock.now(), state: track(clock, policy.execute(hang)) });
          }
          await clock.advance(timeoutMs + 2 * policy.resolutionMs);
          for (const { startedAt, state } of calls) {
            expect(state.at).toBeGreaterThanOrEqual(startedAt + timeoutMs);
            expect(state.at).toBeLessThanOrEqual(startedAt + timeoutMs + policy.resolutionMs);
            expect(state.error).toBeInstanceOf(TimeoutError);
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it("leaves no listener on the caller's signal after 10,000 attempts that read their signal", async () => {
    const clock = new FakeClock(0);
    const caller = new AbortController();
    const policy = pipeline(retry({ clock }), timeout({ timeoutMs: 1_000, clock }));
    let maxListeners = 0;
    for (let i = 0; i < 10_000; i++) {
      await policy.execute(
        (ctx) => {
          ctx.signal.addEventListener("abort", () => {});
          maxListeners = Math.max(maxListeners, getEventListeners(caller.signal, "abort").length);
          return Promise.resolve(i);
        },
        { signal: caller.signal },
      );
    }
    expect(maxListeners).toBe(1);
    expect(getEventListeners(caller.signal, "abort")).toHaveLength(0);
    expect(warnings.filter((w) => w.name === "MaxListenersExceededWarning")).toEqual([]);
  });

  it("leaves no listener behind across 10,000 attempts of one execution (retries after timeouts)", async () => {
    const clock = new FakeClock(0);
    const caller = new AbortController();
    const policy = pipeline(
      retry({ clock, maxAttempts: 10_000, backoff: "fixed", initialDelayMs: 0 }),
      timeout({ timeoutMs: 10, clock }),
    );
    let attempts = 0;
    const result = track(
      clock,
      policy.execute(
        (ctx) => {
          attempts++;
          void ctx.signal;
          return attempts < 10_000 ? hang() : Promise.resolve("done");
        },
        { signal: caller.signal },
      ),
    );
    while (result.at === undefined) await clock.advance(10);
    expect(result.value).toBe("done");
    expect(attempts).toBe(10_000);
    expect(getEventListeners(caller.signal, "abort")).toHaveLength(0);
    expect(warnings.filter((w) => w.name === "MaxListenersExceededWarning")).toEqual([]);
  });

  it("passes a caller's abort through to the attempt's signal", async () => {
    const clock = new FakeClock(0);
    const caller = new AbortController();
    let signal: AbortSignal | undefined;
    const result = track(
      clock,
      timeout({ timeoutMs: 1_000, clock }).execute(
        (ctx) =>
          new Promise((_, reject) => {
            signal = ctx.signal;
            ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason as Error));
          }),
        { signal: caller.signal },
      ),
    );
    caller.abort(new Error("user cancelled"));
    await clock.advance(0);
    expect(signal!.aborted).toBe(true);
    expect((result.error as Error).message).toBe("user cancelled");
  });

  it("tells the function how long it has, as a header it names", async () => {
    const clock = new FakeClock(0);
    const result = track(
      clock,
      timeout({ timeoutMs: 2_000, clock }).execute(async (ctx) => {
        await clock.sleep(500);
        return ctx.deadlineHeader("x-request-timeout-ms");
      }),
    );
    await clock.advance(500);
    expect(result.value).toEqual({ "x-request-timeout-ms": "1500" });
  });

  it("shares one wheel among timeouts of one length, each keeping its own events", async () => {
    const clock = new FakeClock(0);
    const a = timeout({ timeoutMs: 100, clock });
    const b = timeout({ timeoutMs: 100, clock });
    const fired: string[] = [];
    a.on("timeout:fired", () => fired.push("a"));
    b.on("timeout:fired", () => fired.push("b"));
    const results = [track(clock, a.execute(hang)), track(clock, b.execute(hang))];
    await clock.advance(100 + a.resolutionMs);
    expect(fired.sort()).toEqual(["a", "b"]);
    expect(results.every((r) => r.error instanceof TimeoutError)).toBe(true);
  });

  it("rejects options that are not a usable timer", () => {
    expect(() => timeout(0)).toThrow(/timeoutMs must be > 0/);
    expect(() => timeout(2 ** 31)).toThrow(/2147483647/);
  });
});

describe("timeout carved from a deadline", () => {
  it("ends the attempt at the deadline when it comes first, with DeadlineExceededError", async () => {
    const clock = new FakeClock(0);
    const deadline = Deadline.after(300, { clock });
    const result = track(clock, timeout({ timeoutMs: 1_000, clock }).execute(hang, { deadline }));
    await clock.advance(299);
    expect(result.at).toBeUndefined();
    await clock.advance(1);
    expect(result.at).toBe(300);
    expect(isDeadlineExceededError(result.error)).toBe(true);
  });

  it("does not start an attempt when less than minAttemptMs remains", async () => {
    const clock = new FakeClock(0);
    const deadline = Deadline.after(100, { clock, minAttemptMs: 150 });
    let called = false;
    const error: unknown = await timeout({ timeoutMs: 1_000, clock })
      .execute(
        () => {
          called = true;
          return 1;
        },
        { deadline },
      )
      .catch((e: unknown) => e);
    expect(called).toBe(false);
    expect(error).toMatchObject({ kind: "DeadlineExceededError", remainingMs: 100, neededMs: 150 });
  });

  it("keeps its own timeout when the deadline is further away", async () => {
    const clock = new FakeClock(0);
    const deadline = Deadline.after(10_000, { clock });
    const result = track(clock, timeout({ timeoutMs: 1_000, clock }).execute(hang, { deadline }));
    await clock.advance(1_000);
    expect(result.error).toBeInstanceOf(TimeoutError);
  });
});
