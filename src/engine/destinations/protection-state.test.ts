import { describe, expect, it } from "vitest";
import { SeededRandom } from "../../testing/seeded-random.ts";
import {
  abandonProbe,
  closeBreaker,
  INITIAL_PROTECTION,
  isCurrentProbe,
  MAX_TENANT_PAUSES,
  parseProtectionState,
  pauseTenant,
  pauseUntil,
  resetProtection,
  startProbe,
  tenantPauseOf,
  tripBreaker,
  type OpenDurations,
} from "./protection-state.ts";

const DURATIONS: OpenDurations = {
  openDurationMs: 1_000,
  openDurationFactor: 2,
  maxOpenDurationMs: 5_000,
  openDurationJitter: 0,
};
const random = new SeededRandom(1);
const failed = { strategy: "half-open-probe-failed" } as const;

describe("protection state", () => {
  it("opens for longer each time without a close, up to the cap, and starts over after a close", () => {
    let state = INITIAL_PROTECTION;
    const durations: number[] = [];
    for (let i = 0; i < 5; i++) {
      state = tripBreaker(state, 100, failed, DURATIONS, random);
      if (state.breaker.state === "open") durations.push(state.breaker.openUntil - 100);
    }
    expect(durations).toEqual([1_000, 2_000, 4_000, 5_000, 5_000]);
    const closed = closeBreaker(state);
    expect(closed).toEqual({ breaker: { state: "closed" }, consecutiveOpens: 0 });
    const again = tripBreaker(closed, 0, failed, DURATIONS, random);
    expect(again.breaker).toMatchObject({ openUntil: 1_000 });
  });

  it("spreads the open duration with jitter", () => {
    const spread = { ...DURATIONS, openDurationJitter: 0.2 };
    const seen = new Set<number>();
    for (let i = 0; i < 20; i++) {
      const state = tripBreaker(INITIAL_PROTECTION, 0, failed, spread, random);
      if (state.breaker.state !== "open") throw new Error("expected open");
      expect(state.breaker.openUntil).toBeGreaterThanOrEqual(800);
      expect(state.breaker.openUntil).toBeLessThan(1_200);
      seen.add(state.breaker.openUntil);
    }
    expect(seen.size).toBeGreaterThan(5);
  });

  it("elects a probe only once open has run out, or when the probe's deadline passed", () => {
    const open = tripBreaker(INITIAL_PROTECTION, 0, failed, DURATIONS, random);
    expect(startProbe(open, 999, "a", 5_000)).toBeUndefined();
    const half = startProbe(open, 1_000, "a", 5_000);
    expect(half?.breaker).toMatchObject({ state: "half-open", owner: "a", probeDeadline: 5_000 });
    expect(startProbe(half!, 4_999, "b", 9_000)).toBeUndefined();
    const takeover = startProbe(half!, 5_000, "b", 9_000);
    expect(takeover?.breaker).toMatchObject({ owner: "b", since: 5_000 });
    expect(isCurrentProbe(takeover!, half!.breaker)).toBe(false);
    expect(isCurrentProbe(takeover!, takeover!.breaker)).toBe(true);
    expect(startProbe(INITIAL_PROTECTION, 0, "a", 1)).toBeUndefined();
    expect(abandonProbe(takeover!, 6_000).breaker).toMatchObject({
      state: "open",
      openUntil: 6_000,
    });
  });

  it("only extends a pause, and a reset ends it with the breaker", () => {
    const paused = pauseUntil(INITIAL_PROTECTION, 10_000, "429");
    expect(pauseUntil(paused, 9_000, "shorter")).toBe(paused);
    expect(pauseUntil(paused, 11_000, "longer").pause).toEqual({ until: 11_000, reason: "longer" });
    const open = tripBreaker(paused, 0, failed, DURATIONS, random);
    expect(resetProtection(open)).toEqual({ breaker: { state: "closed" }, consecutiveOpens: 0 });
    expect(resetProtection(INITIAL_PROTECTION)).toBe(INITIAL_PROTECTION);
  });

  it("pauses one tenant at a time, only ever extending, shedding ended pauses (issue 10)", () => {
    const a = pauseTenant(INITIAL_PROTECTION, "a", 10_000, "429", 0);
    expect(tenantPauseOf(a, "a", 0)).toEqual({ tenant: "a", until: 10_000, reason: "429" });
    expect(tenantPauseOf(a, "b", 0)).toBeUndefined();
    expect(tenantPauseOf(a, "a", 10_000)).toBeUndefined();
    expect(a.pause).toBeUndefined();
    expect(pauseTenant(a, "a", 9_000, "shorter", 0)).toBe(a);
    const both = pauseTenant(pauseTenant(a, "b", 5_000, "b", 0), "a", 12_000, "longer", 0);
    expect(both.tenantPauses).toEqual([
      { tenant: "a", until: 12_000, reason: "longer" },
      { tenant: "b", until: 5_000, reason: "b" },
    ]);
    // b's ended by 6 s: shed when c's is added.
    expect(pauseTenant(both, "c", 7_000, "c", 6_000).tenantPauses?.map((p) => p.tenant)).toEqual([
      "a",
      "c",
    ]);
    // Names that mean something to objects are plain tenants here.
    const odd = pauseTenant(INITIAL_PROTECTION, "__proto__", 1_000, "x", 0);
    expect(tenantPauseOf(odd, "__proto__", 0)?.until).toBe(1_000);
    expect(tenantPauseOf(odd, "constructor", 0)).toBeUndefined();
    let many = INITIAL_PROTECTION;
    for (let i = 0; i < MAX_TENANT_PAUSES + 5; i++)
      many = pauseTenant(many, `t${i}`, 1_000 + i, "x", 0);
    expect(many.tenantPauses).toHaveLength(MAX_TENANT_PAUSES);
    expect(tenantPauseOf(many, "t0", 0)).toBeUndefined();
    expect(resetProtection(both)).toEqual({ breaker: { state: "closed" }, consecutiveOpens: 0 });
  });

  it("reads documents saved before tenant pauses existed, and drops tenant pauses it cannot read", () => {
    // As the previous version saved an open breaker with a destination pause.
    const older = {
      breaker: { state: "open", openedAt: 0, openUntil: 5_000, reason: { strategy: "restored" } },
      consecutiveOpens: 1,
      pause: { until: 9_000, reason: "status 429 with Retry-After 9 s" },
    };
    expect(parseProtectionState(older)).toEqual(older);
    const mixed = {
      breaker: { state: "closed" },
      consecutiveOpens: 0,
      tenantPauses: [{ tenant: "a", until: 1_000, reason: "429" }, { tenant: 1 }, null, "x"],
    };
    expect(parseProtectionState(mixed)).toEqual({
      breaker: { state: "closed" },
      consecutiveOpens: 0,
      tenantPauses: [{ tenant: "a", until: 1_000, reason: "429" }],
    });
    expect(parseProtectionState({ ...mixed, tenantPauses: "junk" })).toEqual(INITIAL_PROTECTION);
  });

  it("reads back what it writes, and nothing else", () => {
    const open = pauseUntil(tripBreaker(INITIAL_PROTECTION, 0, failed, DURATIONS, random), 9, "x");
    const half = startProbe(open, 1_000, "a", 2_000)!;
    const tenants = pauseTenant(pauseTenant(half, "a", 5_000, "429", 0), "b", 6_000, "429", 0);
    for (const state of [INITIAL_PROTECTION, open, half, tenants]) {
      expect(parseProtectionState(JSON.parse(JSON.stringify(state)))).toEqual(state);
    }
    for (const junk of [null, 1, "x", {}, { breaker: { state: "open" }, consecutiveOpens: 1 }]) {
      expect(parseProtectionState(junk)).toBeUndefined();
    }
  });
});
