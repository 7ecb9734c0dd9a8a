import { describe, expect, it } from "vitest";
import {
  consecutiveFailures,
  failureRate,
  type BreakerStrategy,
  type StrategySnapshot,
} from "./breaker-strategies.ts";

/** The contract every strategy honours, run against each (as Hono runs one suite per router). */
function describeStrategyContract(name: string, make: () => BreakerStrategy): void {
  describe(`${name}: strategy contract`, () => {
    const at = (i: number) => 1_000_000 + i * 10;

    it("never trips on successes alone", () => {
      const strategy = make();
      for (let i = 0; i < 1_000; i++) expect(strategy.record(false, 1, at(i))).toBeUndefined();
    });

    it("trips on failures alone, naming itself in the reason", () => {
      const strategy = make();
      let trip;
      for (let i = 0; i < 100 && trip === undefined; i++) trip = strategy.record(true, 1, at(i));
      expect(trip?.strategy).toBe(strategy.name);
    });

    it("forgets everything on reset", () => {
      const strategy = make();
      let failuresToTrip = 0;
      for (let i = 0; strategy.record(true, 1, at(i)) === undefined; i++) failuresToTrip++;
      strategy.reset();
      for (let i = 0; i < failuresToTrip; i++)
        expect(strategy.record(true, 1, at(i))).toBeUndefined();
    });

    it("restores from its exported JSON and then behaves like the original", () => {
      const original = make();
      for (let i = 0; i < 3; i++) original.record(i % 2 === 0, 1, at(i));
      const copy = make();
      copy.restore(JSON.parse(JSON.stringify(original.export())) as StrategySnapshot);
      for (let i = 3; i < 100; i++) {
        const a = original.record(true, 1, at(i));
        const b = copy.record(true, 1, at(i));
        expect(b).toEqual(a);
        if (a !== undefined) break;
      }
    });

    it("ignores a snapshot of another strategy", () => {
      const strategy = make();
      const other: StrategySnapshot =
        strategy.name === "failure-rate"
          ? { strategy: "consecutive-failures", consecutiveFailures: 99 }
          : { strategy: "failure-rate", slots: [[1, 99, 99, 0]] };
      strategy.restore(other);
      expect(strategy.record(true, 1, at(0))).toBeUndefined();
    });
  });
}

describeStrategyContract("consecutiveFailures", () => consecutiveFailures({ threshold: 3 }));
describeStrategyContract("failureRate", () => failureRate({ minimumThroughput: 4 }));
describeStrategyContract("failureRate with slow calls", () =>
  failureRate({ minimumThroughput: 4, slowCallDurationMs: 100 }),
);

describe("consecutiveFailures", () => {
  it("trips at the threshold; a success starts the count again", () => {
    const strategy = consecutiveFailures({ threshold: 3 });
    expect(strategy.record(true, 0, 0)).toBeUndefined();
    expect(strategy.record(true, 0, 0)).toBeUndefined();
    expect(strategy.record(false, 0, 0)).toBeUndefined();
    expect(strategy.record(true, 0, 0)).toBeUndefined();
    expect(strategy.record(true, 0, 0)).toBeUndefined();
    expect(strategy.record(true, 0, 0)).toEqual({
      strategy: "consecutive-failures",
      consecutiveFailures: 3,
      threshold: 3,
    });
  });
});

describe("failureRate", () => {
  it("waits for the minimum throughput before any rate counts", () => {
    const strategy = failureRate({ minimumThroughput: 10, threshold: 0.5 });
    for (let i = 0; i < 9; i++) expect(strategy.record(true, 0, 1_000)).toBeUndefined();
    expect(strategy.record(true, 0, 1_000)).toMatchObject({
      strategy: "failure-rate",
      metric: "failure-rate",
      calls: 10,
      failures: 10,
      rate: 1,
    });
  });

  it("trips at the threshold rate, not below", () => {
    const strategy = failureRate({ minimumThroughput: 10, threshold: 0.5 });
    for (let i = 0; i < 6; i++) strategy.record(false, 0, 1_000);
    for (let i = 0; i < 5; i++) expect(strategy.record(true, 0, 1_000)).toBeUndefined();
    // 6 failures in 12 calls: 50 %.
    expect(strategy.record(true, 0, 1_000)).toMatchObject({ rate: 0.5, calls: 12, failures: 6 });
  });

  it("forgets outcomes older than the window", () => {
    const strategy = failureRate({ minimumThroughput: 4, threshold: 0.5, windowMs: 10_000 });
    for (let i = 0; i < 3; i++) strategy.record(true, 0, 0);
    // 10 s later the three failures have left the window: one more is 1 call, below the minimum.
    expect(strategy.record(true, 0, 10_000)).toBeUndefined();
    expect(strategy.record(true, 0, 10_500)).toBeUndefined();
  });

  it("trips on the slow-call rate when failures alone would not", () => {
    const strategy = failureRate({
      minimumThroughput: 4,
      threshold: 0.9,
      slowCallDurationMs: 1_000,
      slowCallRateThreshold: 0.5,
    });
    expect(strategy.needsDuration).toBe(true);
    strategy.record(false, 10, 0);
    strategy.record(false, 10, 0);
    strategy.record(false, 1_500, 0);
    expect(strategy.record(false, 2_000, 0)).toMatchObject({
      metric: "slow-call-rate",
      rate: 0.5,
      slowCalls: 2,
    });
  });

  it("validates its options", () => {
    expect(() => failureRate({ threshold: 0 })).toThrow(/threshold/);
    expect(() => failureRate({ minimumThroughput: 0 })).toThrow(/minimumThroughput/);
  });
});
