/**
 * Property tests over random interleavings of successes, failures, timeouts, aborts, hung calls
 * and concurrent calls (issue 3): never more half-open probes than configured, never stuck
 * half-open.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { FakeClock } from "../testing/fake-clock.ts";
import { consecutiveFailures, failureRate } from "./breaker-strategies.ts";
import { circuitBreaker, type CircuitBreakerPolicy } from "./circuit-breaker.ts";
import { pipeline } from "./pipeline.ts";
import type { Policy } from "./policy.ts";
import { timeout } from "./timeout.ts";

type Outcome = "success" | "failure" | "abort";
type Op =
  | { type: "call"; outcome: Outcome | "hang" }
  | { type: "settle"; pick: number; outcome: Outcome }
  | { type: "advance"; ms: number };

const opArbitrary: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      type: fc.constant("call" as const),
      outcome: fc.constantFrom<Outcome | "hang">("success", "failure", "abort", "hang", "hang"),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      type: fc.constant("settle" as const),
      pick: fc.nat(),
      outcome: fc.constantFrom<Outcome>("success", "failure", "abort"),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      type: fc.constant("advance" as const),
      ms: fc.integer({ min: 0, max: 400 }),
    }),
  },
);

interface Pending {
  settle: (outcome: Outcome) => void;
  /** `since` of the half-open period it probes, or undefined when not a probe. */
  probeOf: number | undefined;
  done: boolean;
}

const OPEN_MS = 200;
const MAX_OPEN_MS = 800;
const HALF_OPEN_TIMEOUT_MS = 1_000;

function settleWith(
  outcome: Outcome,
  resolve: (v: string) => void,
  reject: (e: unknown) => void,
): void {
  if (outcome === "success") resolve("ok");
  else if (outcome === "failure") reject(new Error("upstream failed"));
  else reject(new DOMException("caller gave up", "AbortError"));
}

async function runScenario(
  ops: Op[],
  probes: number,
  withTimeout: boolean,
  rateStrategy: boolean,
): Promise<void> {
  const clock = new FakeClock(0);
  const breaker: CircuitBreakerPolicy = circuitBreaker({
    clock,
    strategy: rateStrategy
      ? failureRate({ minimumThroughput: 3, threshold: 0.5, windowMs: 2_000 })
      : consecutiveFailures({ threshold: 2 }),
    openDurationMs: OPEN_MS,
    maxOpenDurationMs: MAX_OPEN_MS,
    halfOpenProbes: probes,
    halfOpenTimeoutMs: HALF_OPEN_TIMEOUT_MS,
  });
  const policy: Policy = withTimeout
    ? pipeline(breaker, timeout({ timeoutMs: 300, clock }))
    : breaker;
  const pending: Pending[] = [];

  const check = (): void => {
    const state = breaker.state;
    if (state.state !== "half-open") return;
    expect(state.probesInFlight).toBeGreaterThanOrEqual(0);
    expect(state.probesInFlight + state.probesSucceeded).toBeLessThanOrEqual(probes);
    const running = pending.filter((p) => !p.done && p.probeOf === state.since).length;
    expect(running).toBeLessThanOrEqual(probes);
  };

  const start = (outcome: Outcome | "hang"): void => {
    const entry: Pending = { settle: () => {}, probeOf: undefined, done: false };
    policy
      .execute(() => {
        const state = breaker.state;
        entry.probeOf = state.state === "half-open" ? state.since : undefined;
        return new Promise<string>((resolve, reject) => {
          entry.settle = (o) => settleWith(o, resolve, reject);
          if (outcome !== "hang") settleWith(outcome, resolve, reject);
        });
      })
      .then(
        () => {},
        () => {},
      )
      .finally(() => {
        entry.done = true;
      });
    pending.push(entry);
  };

  for (const op of ops) {
    if (op.type === "call") start(op.outcome);
    else if (op.type === "settle") {
      const open = pending.filter((p) => !p.done);
      if (open.length > 0) open[op.pick % open.length]!.settle(op.outcome);
    } else await clock.advance(op.ms);
    await clock.advance(0);
    check();
  }

  // Liveness: whatever is still hung, a healthy dependency closes the breaker again.
  for (let round = 0; round < 6 * probes && breaker.state.state !== "closed"; round++) {
    await clock.advance(MAX_OPEN_MS + HALF_OPEN_TIMEOUT_MS);
    const batch = Array.from({ length: probes }, () =>
      policy.execute(() => Promise.resolve("ok")).catch(() => "rejected"),
    );
    await Promise.all(batch);
    check();
  }
  expect(breaker.state.state).toBe("closed");
}

describe("circuitBreaker properties", () => {
  it("never lets more probes through than configured, and is never stuck half-open", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(opArbitrary, { minLength: 20, maxLength: 150, size: "max" }),
        fc.integer({ min: 1, max: 3 }),
        fc.boolean(),
        fc.boolean(),
        runScenario,
      ),
      { numRuns: 150 },
    );
  });
});
