import { describe, expect, it } from "vitest";
import { RollingWindow } from "./rolling-window.ts";

describe("RollingWindow", () => {
  it("sums the current bucket and the buckets before it that fit in windowMs", () => {
    const window = new RollingWindow(1_000, 10, 2);
    window.add(0, 0, 5);
    window.add(450, 0);
    window.add(450, 1, 3);
    expect(window.sum(999, 0)).toBe(6);
    expect(window.sum(1_000, 0)).toBe(1);
    // The [400, 500) bucket leaves the window when the [1400, 1500) one starts.
    expect(window.sum(1_399, 1)).toBe(3);
    expect(window.sum(1_400, 1)).toBe(0);
  });

  it("reuses a slot when time comes round to it", () => {
    const window = new RollingWindow(1_000, 10, 1);
    window.add(50, 0, 7);
    window.add(1_050, 0, 1);
    expect(window.sum(1_050, 0)).toBe(1);
  });

  it("exports and restores its slots", () => {
    const window = new RollingWindow(1_000, 10, 2);
    window.add(100, 0, 2);
    window.add(300, 1, 4);
    const copy = new RollingWindow(1_000, 10, 2);
    copy.restore(JSON.parse(JSON.stringify(window.export())) as number[][]);
    expect([copy.sum(500, 0), copy.sum(500, 1)]).toEqual([2, 4]);
  });

  it("takes back what was added at a time while its slot still holds that time", () => {
    const window = new RollingWindow(1_000, 10, 1);
    window.add(150, 0, 2);
    window.add(250, 0, 1);
    window.remove(150, 0);
    expect(window.sum(300, 0)).toBe(2);
    // Never below zero, and nothing once the slot moved on to a later time.
    window.remove(150, 0, 5);
    expect(window.sum(300, 0)).toBe(1);
    window.add(1_250, 0, 4);
    window.remove(250, 0);
    expect(window.sum(1_250, 0)).toBe(4);
  });
});
