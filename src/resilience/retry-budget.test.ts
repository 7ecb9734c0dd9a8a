import { describe, expect, it } from "vitest";
import { FakeClock } from "../testing/fake-clock.ts";
import { Context } from "./context.ts";
import { retryBudget } from "./retry-budget.ts";

describe("retryBudget", () => {
  it("allows the reserved minimum plus ratio x recent requests, by default 10 % and 1/s over 10 s", () => {
    const clock = new FakeClock(0);
    const budget = retryBudget({ clock });
    for (let i = 0; i < 100; i++) budget.recordRequest();
    expect(budget.stats).toMatchObject({ requests: 100, retries: 0, allowed: 20, ratio: 0.1 });
    let granted = 0;
    while (budget.tryAcquire()) granted++;
    expect(granted).toBe(20);
  });

  it("forgets requests and retries older than the window", async () => {
    const clock = new FakeClock(0);
    const budget = retryBudget({ clock, minRetriesPerSecond: 0, ratio: 0.5 });
    for (let i = 0; i < 10; i++) budget.recordRequest();
    expect(budget.tryAcquire()).toBe(true);
    await clock.advance(10_000);
    expect(budget.stats).toMatchObject({ requests: 0, retries: 0, allowed: 0 });
    expect(budget.tryAcquire()).toBe(false);
  });

  it("emits an event with the figures when it refuses", () => {
    const clock = new FakeClock(0);
    const budget = retryBudget({ clock, minRetriesPerSecond: 0, ratio: 0 });
    const refused: number[] = [];
    budget.on("retry-budget:exhausted", (e) => refused.push(e.allowed));
    expect(budget.tryAcquire()).toBe(false);
    expect(refused).toEqual([0]);
    expect(budget.exhausted()).toMatchObject({ kind: "RetryBudgetExhaustedError", allowed: 0 });
  });

  it("counts an execution's request once, however many policies share the budget", () => {
    const clock = new FakeClock(0);
    const budget = retryBudget({ clock });
    const root = Context.root();
    budget.recordRequestOnce(root);
    budget.recordRequestOnce(root.derive());
    budget.recordRequestOnce(root.scope());
    expect(budget.stats.requests).toBe(1);
    budget.recordRequestOnce(Context.root());
    expect(budget.stats.requests).toBe(2);
  });

  it("validates its options", () => {
    expect(() => retryBudget({ ratio: 2 })).toThrow(/ratio/);
    expect(() => retryBudget({ windowMs: 10 })).toThrow(/windowMs/);
  });

  it("gives back a request or a retry counted at a given time", () => {
    const clock = new FakeClock(0);
    const budget = retryBudget({ clock, minRetriesPerSecond: 0.1, ratio: 0 });
    budget.recordRequest(0);
    expect(budget.tryAcquire(0)).toBe(true);
    expect(budget.tryAcquire(0)).toBe(false);
    budget.giveBack("retry", 0);
    budget.giveBack("request", 0);
    expect(budget.stats).toMatchObject({ requests: 0, retries: 0 });
    expect(budget.tryAcquire()).toBe(true);
  });
});
