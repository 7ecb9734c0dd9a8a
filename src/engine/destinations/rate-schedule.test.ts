import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SqliteStore } from "../../store/sqlite/sqlite-store.ts";
import { RateSchedule, type RateScheduleOptions } from "./rate-schedule.ts";
import { InvalidOptionError } from "../../core/errors.ts";

const API = "https://api.example.com";
let store: SqliteStore;
let now = 0;
const clock = (): number => now;

beforeEach(async () => {
  store = SqliteStore.open({ path: ":memory:" });
  await store.migrate();
  now = 0;
});
afterEach(async () => {
  await store.close();
});

/** A schedule on the store's shared schedule of `API`, as one process holds it. */
function schedule(options: Omit<RateScheduleOptions, "reserve">): RateSchedule {
  return new RateSchedule({
    ...options,
    reserve: (at, spanMs) => store.reserveRate(API, at, spanMs),
  });
}

async function slotAt(s: RateSchedule, key: string): Promise<number> {
  return await s.take(key, now, clock);
}

describe("RateSchedule", () => {
  it("lets a burst through, then gives each call the next slot, once", async () => {
    const s = schedule({ ratePerSecond: 2 });
    const slots = [];
    for (const key of ["a", "b", "c", "d"]) slots.push(await slotAt(s, key));
    expect(slots).toEqual([0, 0, 500, 1_000]);
    expect(s.reserved).toBe(2);
    now = 200;
    expect(await slotAt(s, "c")).toBe(500);
    now = 500;
    expect(await slotAt(s, "c")).toBe(500);
    expect(await slotAt(s, "e")).toBe(1_500);
    now = 1_000;
    expect(await slotAt(s, "d")).toBe(1_000);
    expect(s.reserved).toBe(1);
  });

  it("holds the long-run rate: 10 calls at 1/s span 9 seconds after the first", async () => {
    const s = schedule({ ratePerSecond: 1 });
    const slots = [];
    for (let i = 0; i < 10; i++) slots.push(await slotAt(s, `k${i}`));
    expect(slots).toEqual([0, 1_000, 2_000, 3_000, 4_000, 5_000, 6_000, 7_000, 8_000, 9_000]);
  });

  it("shares one schedule between processes: together they keep to the rate", async () => {
    const a = schedule({ ratePerSecond: 10, burst: 1 });
    const b = schedule({ ratePerSecond: 10, burst: 1 });
    const slots = [];
    for (let i = 0; i < 6; i++) slots.push(await slotAt(i % 2 === 0 ? a : b, `k${i}`));
    expect(slots).toEqual([0, 100, 200, 300, 400, 500]);
  });

  it("uses a slot that passed unused now, and forgets a reservation sent on", async () => {
    const s = schedule({ ratePerSecond: 10, burst: 1, spanMs: 200 });
    expect(await slotAt(s, "a")).toBe(0);
    // The span holds 2 slots: the second (100 ms) is used late, at 150.
    now = 150;
    expect(await slotAt(s, "b")).toBe(150);
    expect(await slotAt(s, "c")).toBe(200);
    expect(s.reserved).toBe(1);
    s.forget("c");
    expect(s.reserved).toBe(0);
  });

  it("refills while idle, up to the burst, and forgets stale reservations", async () => {
    const s = schedule({ ratePerSecond: 4 });
    for (let i = 0; i < 4; i++) expect(await slotAt(s, `a${i}`)).toBe(0);
    expect(await slotAt(s, "late")).toBe(250);
    now = 10_000;
    for (let i = 0; i < 4; i++) expect(await slotAt(s, `b${i}`)).toBe(10_000);
    s.forgetBefore(5_000);
    expect(s.reserved).toBe(0);
    expect(() => schedule({ ratePerSecond: 0 })).toThrow(InvalidOptionError);
  });

  it("does not honour a reservation more than a second past (its slot went elsewhere)", async () => {
    const s = schedule({ ratePerSecond: 1, burst: 1 });
    expect(await slotAt(s, "a")).toBe(0);
    expect(await slotAt(s, "b")).toBe(1_000);
    now = 2_500;
    expect(await slotAt(s, "b")).toBe(2_500);
    // b took a fresh slot (2,500): the next one is a second later.
    now = 2_600;
    expect(await slotAt(s, "c")).toBe(3_500);
    expect(s.reserved).toBe(1);
  });

  it("fails the take, sending nothing, when the store cannot reserve", async () => {
    const s = new RateSchedule({
      ratePerSecond: 5,
      reserve: () => Promise.reject(new Error("store unreachable")),
    });
    await expect(s.take("k", now, clock)).rejects.toThrow("store unreachable");
  });
});
