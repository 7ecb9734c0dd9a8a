import { describe, expect, it } from "vitest";
import { RateSchedule } from "./rate-schedule.ts";

describe("RateSchedule", () => {
  it("lets a burst through, then gives each call the next slot, once", () => {
    const schedule = new RateSchedule(2);
    expect(["a", "b", "c", "d"].map((key) => schedule.take(key, 0))).toEqual([0, 0, 500, 1_000]);
    expect(schedule.reserved).toBe(2);
    expect(schedule.take("c", 200)).toBe(500);
    expect(schedule.take("c", 500)).toBe(500);
    expect(schedule.take("e", 500)).toBe(1_500);
    expect(schedule.take("d", 1_000)).toBe(1_000);
    expect(schedule.reserved).toBe(1);
  });

  it("holds the long-run rate: 10 calls at 1/s span 9 seconds after the first", () => {
    const schedule = new RateSchedule(1);
    const slots = Array.from({ length: 10 }, (_, i) => schedule.take(`k${i}`, 0));
    expect(slots).toEqual([0, 1_000, 2_000, 3_000, 4_000, 5_000, 6_000, 7_000, 8_000, 9_000]);
    expect(new RateSchedule(0.5).take("x", 0)).toBe(0);
  });

  it("refills while idle, up to the burst, and forgets stale reservations", () => {
    const schedule = new RateSchedule(4);
    for (let i = 0; i < 4; i++) expect(schedule.take(`a${i}`, 0)).toBe(0);
    expect(schedule.take("late", 0)).toBe(250);
    for (let i = 0; i < 4; i++) expect(schedule.take(`b${i}`, 10_000)).toBe(10_000);
    schedule.forgetBefore(5_000);
    expect(schedule.reserved).toBe(0);
    expect(() => new RateSchedule(0)).toThrow(RangeError);
  });
});
