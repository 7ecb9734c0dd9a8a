import { describe, expect, it } from "vitest";
import { SeededRandom } from "../testing/seeded-random.ts";
import {
  applyJitter,
  decorrelatedBackoff,
  exponentialBackoff,
  fixedBackoff,
  linearBackoff,
  type Backoff,
} from "./backoff.ts";

/** A `Random` that always returns `value`. */
const constant = (value: number) => ({ next: () => value });

function delays<S>(backoff: Backoff<S>, count: number, random = constant(0.999999)): number[] {
  let state = backoff.initialState;
  const result: number[] = [];
  for (let attempt = 1; attempt <= count; attempt++) {
    const step = backoff.next(attempt, state, random);
    result.push(Math.round(step.delayMs));
    state = step.state;
  }
  return result;
}

describe("exponentialBackoff", () => {
  it("doubles from initialDelayMs up to maxDelayMs (upper bound of the full jitter)", () => {
    const backoff = exponentialBackoff({ initialDelayMs: 100, maxDelayMs: 1_000 });
    expect(delays(backoff, 6)).toEqual([100, 200, 400, 800, 1_000, 1_000]);
  });

  it("draws full jitter in [0, cap) by default: random 0 gives 0, 0.5 gives half", () => {
    const backoff = exponentialBackoff({ initialDelayMs: 100 });
    expect(backoff.next(3, undefined, constant(0)).delayMs).toBe(0);
    expect(backoff.next(3, undefined, constant(0.5)).delayMs).toBe(200);
  });

  it("defaults to 250 ms, x2, 30 s cap", () => {
    expect(delays(exponentialBackoff(), 9)).toEqual([
      250, 500, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000,
    ]);
  });

  it("is pure: the same inputs give the same delay", () => {
    const backoff = exponentialBackoff();
    const a = backoff.next(4, undefined, new SeededRandom(7));
    const b = backoff.next(4, undefined, new SeededRandom(7));
    expect(a).toEqual(b);
  });

  it("keeps every full-jitter delay within [0, min(max, initial * 2^n))", () => {
    const backoff = exponentialBackoff({ initialDelayMs: 10, maxDelayMs: 500 });
    const random = new SeededRandom(42);
    for (let attempt = 1; attempt <= 200; attempt++) {
      const { delayMs } = backoff.next(attempt, undefined, random);
      expect(delayMs).toBeGreaterThanOrEqual(0);
      expect(delayMs).toBeLessThan(Math.min(500, 10 * 2 ** (attempt - 1)));
    }
  });

  it("rejects nonsense options with a message naming the option", () => {
    expect(() => exponentialBackoff({ initialDelayMs: -1 })).toThrow(/initialDelayMs/);
    expect(() => exponentialBackoff({ initialDelayMs: 10, maxDelayMs: 5 })).toThrow(/maxDelayMs/);
    expect(() => exponentialBackoff({ factor: 0.5 })).toThrow(/factor/);
  });
});

describe("linearBackoff and fixedBackoff", () => {
  it("linear adds incrementMs per retry, capped", () => {
    const backoff = linearBackoff({ initialDelayMs: 100, incrementMs: 50, maxDelayMs: 220 });
    expect(delays(backoff, 4)).toEqual([100, 150, 200, 220]);
  });

  it("fixed keeps the same delay; jitter none keeps it exact", () => {
    const backoff = fixedBackoff({ delayMs: 300, jitter: "none" });
    expect(delays(backoff, 3, constant(0.1))).toEqual([300, 300, 300]);
  });
});

describe("decorrelatedBackoff", () => {
  it("carries the previous delay as state and stays within [initial, min(max, 3 * previous)]", () => {
    const backoff = decorrelatedBackoff({ initialDelayMs: 100, maxDelayMs: 10_000 });
    const random = new SeededRandom(3);
    let state = backoff.initialState;
    for (let attempt = 1; attempt <= 100; attempt++) {
      const step = backoff.next(attempt, state, random);
      expect(step.delayMs).toBeGreaterThanOrEqual(100);
      expect(step.delayMs).toBeLessThanOrEqual(Math.min(10_000, Math.max(100, state * 3)));
      expect(step.state).toBe(step.delayMs);
      state = step.state;
    }
  });
});

describe("applyJitter", () => {
  it("equal jitter draws in [d/2, d)", () => {
    expect(applyJitter(100, "equal", constant(0))).toBe(50);
    expect(applyJitter(100, "equal", constant(0.5))).toBe(75);
  });
});
