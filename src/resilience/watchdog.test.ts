import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { FakeClock } from "../testing/fake-clock.ts";
import { Watchdog, type WatchEntry } from "./watchdog.ts";

function entry(dueAt: number, fired: string[], name: string): WatchEntry {
  return { dueAt, index: -1, seq: 0, expire: () => fired.push(name) };
}

describe("Watchdog", () => {
  it("is shared per clock", () => {
    const clock = new FakeClock(0);
    expect(Watchdog.for(clock)).toBe(Watchdog.for(clock));
    expect(Watchdog.for(new FakeClock(0))).not.toBe(Watchdog.for(clock));
  });

  it("fires entries at their due time, in order, ties in insertion order", async () => {
    const clock = new FakeClock(0);
    const watchdog = Watchdog.for(clock);
    const fired: string[] = [];
    watchdog.add(entry(300, fired, "c"));
    watchdog.add(entry(100, fired, "a"));
    watchdog.add(entry(300, fired, "d"));
    watchdog.add(entry(200, fired, "b"));
    await clock.advance(99);
    expect(fired).toEqual([]);
    await clock.advance(1);
    expect(fired).toEqual(["a"]);
    await clock.advance(200);
    expect(fired).toEqual(["a", "b", "c", "d"]);
    expect(watchdog.size).toBe(0);
  });

  it("never fires a removed entry", async () => {
    const clock = new FakeClock(0);
    const watchdog = Watchdog.for(clock);
    const fired: string[] = [];
    const a = entry(100, fired, "a");
    watchdog.add(a);
    watchdog.add(entry(150, fired, "b"));
    watchdog.remove(a);
    watchdog.remove(a);
    await clock.advance(200);
    expect(fired).toEqual(["b"]);
  });

  it("re-arms earlier when an earlier entry arrives", async () => {
    const clock = new FakeClock(0);
    const watchdog = Watchdog.for(clock);
    const fired: string[] = [];
    watchdog.add(entry(1_000, fired, "late"));
    watchdog.add(entry(10, fired, "early"));
    await clock.advance(10);
    expect(fired).toEqual(["early"]);
  });

  it("fires exactly the entries not removed, in due order, whatever the interleaving", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ dueAt: fc.integer({ min: 0, max: 1_000 }), remove: fc.boolean() }), {
          maxLength: 60,
        }),
        async (specs) => {
          const clock = new FakeClock(0);
          const watchdog = Watchdog.for(clock);
          const fired: { dueAt: number; at: number; i: number }[] = [];
          const entries = specs.map((spec, i) => {
            const e: WatchEntry = {
              dueAt: spec.dueAt,
              index: -1,
              seq: 0,
              expire: () => fired.push({ dueAt: spec.dueAt, at: clock.now(), i }),
            };
            watchdog.add(e);
            return e;
          });
          specs.forEach((spec, i) => {
            if (spec.remove) watchdog.remove(entries[i]!);
          });
          await clock.advance(1_001);
          const expected = specs
            .map((spec, i) => ({ ...spec, i }))
            .filter((spec) => !spec.remove)
            .sort((a, b) => a.dueAt - b.dueAt || a.i - b.i)
            .map((spec) => spec.i);
          expect(fired.map((f) => f.i)).toEqual(expected);
          for (const f of fired) expect(f.at).toBe(f.dueAt);
        },
      ),
      { numRuns: 100 },
    );
  });
});
