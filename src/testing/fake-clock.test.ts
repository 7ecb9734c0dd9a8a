import { describe, expect, it } from "vitest";
import { FakeClock } from "./fake-clock.ts";

describe("FakeClock", () => {
  it("resolves sleeps in time order as it advances, moving wall and monotonic time alike", async () => {
    const clock = new FakeClock(1_000);
    const woke: number[] = [];
    void clock.sleep(300).then(() => woke.push(clock.monotonicNow()));
    void clock.sleep(100).then(() => woke.push(clock.monotonicNow()));
    await clock.advance(250);
    expect(woke).toEqual([100]);
    expect([clock.now(), clock.monotonicNow()]).toEqual([1_250, 250]);
    await clock.advance(50);
    expect(woke).toEqual([100, 300]);
  });

  it("steps its wall clock without time passing: monotonic time and sleeps stay put", async () => {
    const clock = new FakeClock(10_000);
    let woke = false;
    void clock.sleep(1_000).then(() => (woke = true));
    clock.stepWall(5_000);
    await clock.advance(0);
    expect([clock.now(), clock.monotonicNow(), woke]).toEqual([15_000, 0, false]);
    clock.stepWall(-8_000);
    await clock.advance(1_000);
    expect([clock.now(), clock.monotonicNow(), woke]).toEqual([8_000, 1_000, true]);
  });
});
