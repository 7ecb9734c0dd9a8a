import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { SeededRandom } from "../testing/seeded-random.ts";
import { backoffDelayMs } from "./backoff.ts";

const fixedRandom = (value: number) => ({ next: () => value });

describe("backoffDelayMs", () => {
  it("draws exponential delays with full jitter below min(max, initial * 2^(n-1))", () => {
    const options = { kind: "exponential" as const, initialDelayMs: 100, maxDelayMs: 1_000 };
    expect(backoffDelayMs(1, options, fixedRandom(0.999999))).toBe(99);
    expect(backoffDelayMs(3, options, fixedRandom(0.5))).toBe(200);
    expect(backoffDelayMs(10, options, fixedRandom(0.5))).toBe(500);
    expect(backoffDelayMs(3, options, fixedRandom(0))).toBe(0);
  });

  it("grows linearly for linear backoff and stays exact for fixed", () => {
    expect(
      backoffDelayMs(
        4,
        { kind: "linear", initialDelayMs: 100, maxDelayMs: 10_000 },
        fixedRandom(0.5),
      ),
    ).toBe(200);
    expect(
      backoffDelayMs(
        4,
        { kind: "fixed", initialDelayMs: 250, maxDelayMs: 10_000 },
        fixedRandom(0.1),
      ),
    ).toBe(250);
    expect(
      backoffDelayMs(4, { kind: "fixed", initialDelayMs: 250, maxDelayMs: 100 }, fixedRandom(0.1)),
    ).toBe(100);
  });

  it("never exceeds the cap nor goes negative, for any attempt number", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 0, max: 60_000 }),
        fc.integer({ min: 0, max: 600_000 }),
        fc.integer(),
        (retry, initialDelayMs, maxDelayMs, seed) => {
          const delay = backoffDelayMs(
            retry,
            { kind: "exponential", initialDelayMs, maxDelayMs },
            new SeededRandom(seed),
          );
          expect(delay).toBeGreaterThanOrEqual(0);
          expect(delay).toBeLessThanOrEqual(maxDelayMs);
          expect(Number.isInteger(delay)).toBe(true);
        },
      ),
    );
  });

  it("is deterministic for a seeded random", () => {
    const options = { kind: "exponential" as const, initialDelayMs: 1_000, maxDelayMs: 60_000 };
    const a = [1, 2, 3, 4].map((n) => backoffDelayMs(n, options, new SeededRandom(7)));
    const b = [1, 2, 3, 4].map((n) => backoffDelayMs(n, options, new SeededRandom(7)));
    expect(a).toEqual(b);
  });
});
