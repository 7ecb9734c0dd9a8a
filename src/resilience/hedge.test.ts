import { getEventListeners } from "node:events";
import { describe, expect, it } from "vitest";
import { FakeClock } from "../testing/fake-clock.ts";
import { hedge, type HedgeEvents } from "./hedge.ts";
import { retryBudget } from "./retry-budget.ts";

function deferred<T = string>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((a, b) => {
    resolve = a;
    reject = b;
  });
  return { promise, resolve, reject };
}

describe("hedge", () => {
  it("starts a second attempt after delayMs, takes the first answer, aborts the loser", async () => {
    const clock = new FakeClock(0);
    const policy = hedge({ delayMs: 100, clock });
    const events: string[] = [];
    policy.on("hedge:launched", (e) => events.push(`launched ${e.hedge} after ${e.afterMs}`));
    policy.on("hedge:won", (e) => events.push(`won ${e.hedge}`));
    const attempts = [deferred(), deferred()];
    const signals: AbortSignal[] = [];
    const result = policy.execute((ctx) => {
      signals.push(ctx.signal);
      return attempts[signals.length - 1]!.promise;
    });
    await clock.advance(99);
    expect(signals).toHaveLength(1);
    await clock.advance(1);
    expect(signals).toHaveLength(2);
    attempts[1]!.resolve("from the hedge");
    await expect(result).resolves.toBe("from the hedge");
    expect(signals[0]!.aborted).toBe(true);
    expect((signals[0]!.reason as DOMException).name).toBe("AbortError");
    expect(signals[1]!.aborted).toBe(false);
    expect(events).toEqual(["launched 1 after 100", "won 1"]);
  });

  it("does not hedge an answer that comes in time", async () => {
    const clock = new FakeClock(0);
    let calls = 0;
    const policy = hedge({ delayMs: 100, clock });
    await expect(
      policy.execute(() => {
        calls++;
        return Promise.resolve("fast");
      }),
    ).resolves.toBe("fast");
    await clock.advance(1_000);
    expect(calls).toBe(1);
  });

  it("waits for the other attempt when one fails, and fails with the first failure when all do", async () => {
    const clock = new FakeClock(0);
    const policy = hedge({ delayMs: 50, clock });
    const attempts = [deferred(), deferred()];
    let n = 0;
    const result = policy.execute(() => attempts[n++]!.promise).catch((e: unknown) => e);
    await clock.advance(50);
    attempts[0]!.reject(new Error("first"));
    await clock.advance(0);
    attempts[1]!.reject(new Error("second"));
    expect(((await result) as Error).message).toBe("first");
  });

  it("pays hedges from the retry budget and skips them when it is spent", async () => {
    const clock = new FakeClock(0);
    const budget = retryBudget({ clock, ratio: 0, minRetriesPerSecond: 0.1 });
    const policy = hedge({ delayMs: 10, budget, clock });
    const skipped: HedgeEvents["hedge:skipped"][] = [];
    policy.on("hedge:skipped", (e) => skipped.push(e));
    let calls = 0;
    const slow = () => {
      calls++;
      return new Promise<string>((resolve) => void clock.sleep(100).then(() => resolve("slow")));
    };
    const first = policy.execute(slow);
    await clock.advance(100);
    await first;
    expect(calls).toBe(2);
    const second = policy.execute(slow);
    await clock.advance(100);
    await second;
    expect(calls).toBe(3);
    expect(skipped).toEqual([{ reason: "budget-exhausted" }]);
    expect(budget.stats.requests).toBe(2);
  });

  it("never sends two copies of a non-idempotent request without an idempotency key", async () => {
    const clock = new FakeClock(0);
    const policy = hedge({ delayMs: 10, clock });
    let calls = 0;
    const gate = deferred();
    const result = policy.execute(
      () => {
        calls++;
        return gate.promise;
      },
      { method: "POST" },
    );
    await clock.advance(100);
    expect(calls).toBe(1);
    gate.resolve("ok");
    await result;
    const keyed = policy.execute(
      () => {
        calls++;
        return deferred().promise;
      },
      { method: "POST", idempotencyKey: "k" },
    );
    void keyed;
    await clock.advance(10);
    expect(calls).toBe(3);
  });

  it("leaves no listener on the caller's signal", async () => {
    const clock = new FakeClock(0);
    const caller = new AbortController();
    const policy = hedge({ delayMs: 1, clock, maxHedges: 2 });
    for (let i = 0; i < 100; i++) {
      const result = policy.execute(
        (ctx) => {
          void ctx.signal;
          return new Promise<string>((resolve) => void clock.sleep(5).then(() => resolve("x")));
        },
        { signal: caller.signal },
      );
      await clock.advance(5);
      await result;
    }
    expect(getEventListeners(caller.signal, "abort")).toHaveLength(0);
  });
});
