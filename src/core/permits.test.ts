import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { grantPermits, parsePermitHolders, type PermitHolders } from "./permits.ts";

const D = "https://api.example.com";
const ask = (holder: string, wanted: number, limit: number, now: number, leaseMs = 1_000) => ({
  destination: D,
  holder,
  wanted,
  limit,
  now,
  expiresAt: now + leaseMs,
});

function live(holders: PermitHolders, now: number): number {
  return Object.values(holders).reduce((sum, [n, until]) => (until > now ? sum + n : sum), 0);
}

describe("grantPermits", () => {
  it("grants up to what the others leave, drops lapsed and empty holders", () => {
    const held: PermitHolders = { a: [3, 2_000, 3], old: [4, 999, 4], none: [0, 5_000, 0] };
    expect(grantPermits(held, ask("b", 4, 5, 1_000))).toEqual({
      holders: { a: [3, 2_000, 3], b: [2, 2_000, 4] },
      granted: 2,
      share: 3,
    });
    expect(grantPermits(held, ask("a", 0, 5, 1_000))).toEqual({
      holders: {},
      granted: 0,
      share: 5,
    });
  });

  it("records a holder that got none for a second, and shares the limit among those wanting", () => {
    const held: PermitHolders = { a: [4, 30_000, 4] };
    const b = grantPermits(held, ask("b", 2, 4, 1_000, 30_000));
    expect(b).toEqual({
      holders: { a: [4, 30_000, 4], b: [0, 2_000, 2] },
      granted: 0,
      share: 2,
    });
    expect(grantPermits(b.holders, ask("a", 4, 4, 1_999)).share).toBe(2);
    expect(grantPermits(b.holders, ask("a", 4, 4, 2_000)).share).toBe(4);
  });

  it("never lets the live permits exceed the limit, and grants exactly what is free", () => {
    const step = fc.record({
      holder: fc.constantFrom("a", "b", "c", "d"),
      wanted: fc.integer({ min: 0, max: 12 }),
      advanceMs: fc.integer({ min: 0, max: 600 }),
    });
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10 }),
        fc.array(step, { maxLength: 40 }),
        (limit, steps) => {
          let holders: PermitHolders = {};
          let now = 0;
          for (const { holder, wanted, advanceMs } of steps) {
            now += advanceMs;
            const others = live(
              Object.fromEntries(Object.entries(holders).filter(([h]) => h !== holder)),
              now,
            );
            const result = grantPermits(holders, ask(holder, wanted, limit, now));
            expect(result.granted).toBe(Math.max(0, Math.min(wanted, limit - others)));
            holders = result.holders;
            expect(live(holders, now)).toBeLessThanOrEqual(limit);
          }
        },
      ),
    );
  });

  it("names the invalid field", () => {
    expect(() => grantPermits({}, ask("a", -1, 5, 0))).toThrow(/wanted must be an integer >= 0/);
    expect(() => grantPermits({}, ask("a", 1, 0.5, 0))).toThrow(/limit must be an integer >= 1/);
    expect(() => grantPermits({}, ask("a", 1, 1, Number.NaN))).toThrow(/finite/);
  });
});

describe("parsePermitHolders", () => {
  it("reads triples (a pair wanted what it holds) and ignores anything else", () => {
    expect(parsePermitHolders(undefined)).toEqual({});
    expect(parsePermitHolders("[]")).toEqual({});
    expect(
      parsePermitHolders('{"a":[2,10,3],"p":[2,10],"b":"x","c":[1],"d":[1,"2"],"e":[1,2,3,4]}'),
    ).toEqual({ a: [2, 10, 3], p: [2, 10, 2] });
  });
});
