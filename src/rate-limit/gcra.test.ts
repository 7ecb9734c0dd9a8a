import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isSteadfastError } from "../core/errors.ts";
import { allowanceOf, gcraShape, gcraStep, gcraTake, type GcraStep } from "./gcra.ts";

// 100 per minute, all at once: 600 ms per request.
const SHAPE = gcraShape(100, 60_000, 100);
const T0 = 1_700_000_000_000; // ms

/** Runs `count` requests at `nowMs`, from `tat`; returns the decisions and the last TAT. */
function run(count: number, nowMs: number, tat: number | undefined, shape = SHAPE) {
  const step = gcraStep(shape, nowMs);
  const decisions = [];
  for (let i = 0; i < count; i++) {
    const outcome = gcraTake(tat, step);
    if (outcome.allowed) tat = outcome.tatUs;
    decisions.push({ allowed: outcome.allowed, ...allowanceOf(outcome, step) });
  }
  return { decisions, tat };
}

describe("gcraShape", () => {
  it("spaces requests window / limit apart, rounded down to the microsecond", () => {
    expect(gcraShape(100, 60_000, 100)).toEqual({
      incrementUs: 600_000,
      capacityUs: 60_000_000,
      burst: 100,
    });
    expect(gcraShape(7, 60_000, 2)).toEqual({
      incrementUs: 8_571_428,
      capacityUs: 17_142_856,
      burst: 2,
    });
  });

  it("refuses more than one request per microsecond", () => {
    const error: unknown = (() => {
      try {
        return gcraShape(2_000_001, 2_000, 1);
      } catch (e) {
        return e;
      }
    })();
    expect(isSteadfastError(error) && error.code).toBe("invalid_option");
    expect(String(error)).toMatch(/more than one request per microsecond/);
  });
});

describe("gcraTake and allowanceOf on a fake clock", () => {
  it("allows the burst at once, then one request per increment", () => {
    const first = run(101, T0, undefined);
    expect(first.decisions.slice(0, 3)).toEqual([
      { allowed: true, remaining: 99, resetSeconds: 1 },
      { allowed: true, remaining: 98, resetSeconds: 1 },
      { allowed: true, remaining: 97, resetSeconds: 1 },
    ]);
    expect(first.decisions[99]).toEqual({ allowed: true, remaining: 0, resetSeconds: 1 });
    expect(first.decisions[100]).toEqual({
      allowed: false,
      remaining: 0,
      resetSeconds: 1,
      retryAfterSeconds: 1,
    });
    // 599 ms later: still one millisecond short; at 600 ms one request, and only one.
    expect(run(1, T0 + 599, first.tat).decisions[0]?.allowed).toBe(false);
    const later = run(2, T0 + 600, first.tat);
    expect(later.decisions.map((d) => d.allowed)).toEqual([true, false]);
  });

  it("tells a refused client how long until its request fits, rounded up", () => {
    const shape = gcraShape(1, 10_000, 1); // one per 10 s
    const { tat } = run(1, T0, undefined, shape);
    const refused = run(1, T0 + 2_500, tat, shape).decisions[0];
    expect(refused).toEqual({
      allowed: false,
      remaining: 0,
      resetSeconds: 8, // 7.5 s, rounded up
      retryAfterSeconds: 8,
    });
  });

  it("reports t = 0 for a full allowance, and refills to the burst, never past it", () => {
    const step: GcraStep = gcraStep(SHAPE, T0);
    expect(allowanceOf({ allowed: true, tatUs: step.nowUs }, step)).toEqual({
      remaining: 100,
      resetSeconds: 0,
    });
    const { tat } = run(100, T0, undefined);
    const after = run(101, T0 + 3_600_000, tat);
    expect(after.decisions.filter((d) => d.allowed)).toHaveLength(100);
  });

  it("lets a burst smaller than the limit come back to back, at the limit's rate", () => {
    const shape = gcraShape(60, 60_000, 5); // one per second, five at once
    const { decisions, tat } = run(6, T0, undefined, shape);
    expect(decisions.map((d) => d.allowed)).toEqual([true, true, true, true, true, false]);
    expect(decisions[0]).toEqual({ allowed: true, remaining: 4, resetSeconds: 1 });
    expect(run(2, T0 + 1_000, tat, shape).decisions.map((d) => d.allowed)).toEqual([true, false]);
  });

  it("never refuses a client that keeps to the advertised quota, whatever the rounding", () => {
    const shape = gcraShape(7, 60_000, 7); // 8.571428... s per request
    const first = run(7, T0, undefined, shape);
    const second = run(7, T0 + 60_000, first.tat, shape);
    expect([...first.decisions, ...second.decisions].every((d) => d.allowed)).toBe(true);
  });

  it("leaves the TAT of a refused request as it was", () => {
    const step = gcraStep(SHAPE, T0);
    const ahead = step.nowUs + SHAPE.capacityUs;
    expect(gcraTake(ahead, step)).toEqual({ allowed: false, tatUs: ahead });
  });

  it("waits one increment, not the length of the step, when the clock stepped back", () => {
    const { tat } = run(100, T0, undefined); // bucket empty at T0
    const stepped = run(1, T0 - 3_600_000, tat).decisions[0]; // the wall clock went back an hour
    expect(stepped).toEqual({
      allowed: false,
      remaining: 0,
      resetSeconds: 1,
      retryAfterSeconds: 1,
    });
  });

  it("never allows more than burst + elapsed / increment requests (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 1, max: 20 }),
        fc.array(fc.integer({ min: 0, max: 5_000 }), { minLength: 1, maxLength: 200 }),
        (limit, burst, gaps) => {
          const shape = gcraShape(limit, 1_000, burst);
          let tat: number | undefined;
          let now = T0;
          let allowed = 0;
          for (const gap of gaps) {
            now += gap;
            const step = gcraStep(shape, now);
            const outcome = gcraTake(tat, step);
            const allowance = allowanceOf(outcome, step);
            if (outcome.allowed) {
              allowed++;
              tat = outcome.tatUs;
            } else {
              // A refused request would fit once its Retry-After has passed.
              const retry = allowance.retryAfterSeconds!;
              const then = gcraStep(shape, now + retry * 1_000);
              expect(gcraTake(tat, then).allowed).toBe(true);
            }
            expect(allowance.remaining).toBeGreaterThanOrEqual(0);
            expect(allowance.remaining).toBeLessThanOrEqual(burst);
          }
          const elapsedUs = (now - T0) * 1_000;
          expect(allowed).toBeLessThanOrEqual(burst + Math.floor(elapsedUs / shape.incrementUs));
        },
      ),
    );
  });
});
