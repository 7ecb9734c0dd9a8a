import { describe, expect, it } from "vitest";
import { oneByOne, roundsByKey, WriteBatcher, type BatchOutcome } from "./write-batcher.ts";

/** A `run` that records each batch and waits for the test to finish it. */
function controlledRun() {
  const batches: { items: number[]; finish: () => void }[] = [];
  const run = (items: number[]): Promise<BatchOutcome<number>[]> =>
    new Promise((resolve) => {
      batches.push({
        items,
        finish: () => resolve(items.map((n) => ({ ok: true, value: n * 10 }))),
      });
    });
  return { batches, run };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

describe("WriteBatcher", () => {
  it("sends the writes of one event loop turn as one batch", async () => {
    const { batches, run } = controlledRun();
    const batcher = new WriteBatcher({ run });
    const results = [1, 2, 3].map((n) => batcher.enqueue(n));
    expect(batches).toHaveLength(0);
    await turn();
    expect(batches.map((b) => b.items)).toEqual([[1, 2, 3]]);
    batches[0]!.finish();
    expect(await Promise.all(results)).toEqual([10, 20, 30]);
  });

  it("pipelines up to maxInFlight batches, then gathers the rest into the next one", async () => {
    const { batches, run } = controlledRun();
    const batcher = new WriteBatcher({ run, maxInFlight: 2 });
    const all: Promise<number>[] = [];
    for (const n of [1, 2, 3, 4, 5]) {
      all.push(batcher.enqueue(n));
      await turn();
    }
    expect(batches.map((b) => b.items)).toEqual([[1], [2]]);
    expect(batcher.pending).toBe(3);
    batches[1]!.finish();
    await turn();
    await turn();
    expect(batches.map((b) => b.items)).toEqual([[1], [2], [3, 4, 5]]);
    batches[0]!.finish();
    batches[2]!.finish();
    expect(await Promise.all(all)).toEqual([10, 20, 30, 40, 50]);
  });

  it("splits a queue longer than maxBatchSize", async () => {
    const { batches, run } = controlledRun();
    const batcher = new WriteBatcher({ run, maxBatchSize: 2 });
    const all = [1, 2, 3, 4, 5].map((n) => batcher.enqueue(n));
    await turn();
    expect(batches.map((b) => b.items)).toEqual([[1, 2], [3, 4], [5]]);
    for (const batch of batches) batch.finish();
    expect(await Promise.all(all)).toEqual([10, 20, 30, 40, 50]);
  });

  it("splits by weight, sending an item heavier than the limit alone", async () => {
    const { batches, run } = controlledRun();
    const batcher = new WriteBatcher({ run, weigh: (n) => n, maxBatchWeight: 10 });
    const all = [3, 4, 3, 20, 1, 9, 1].map((n) => batcher.enqueue(n));
    await turn();
    expect(batches.map((b) => b.items)).toEqual([[3, 4, 3], [20], [1, 9], [1]]);
    for (const batch of batches) batch.finish();
    expect(await Promise.all(all)).toEqual([30, 40, 30, 200, 10, 90, 10]);
  });

  it("settles each write with its own outcome, and fails the batch if run throws", async () => {
    let calls = 0;
    const batcher = new WriteBatcher<number, number>({
      run: (items) => {
        calls++;
        if (calls === 2) return Promise.reject(new Error("connection lost"));
        return Promise.resolve(
          items.map((n) =>
            n % 2 === 0 ? { ok: false, error: new Error(`bad ${n}`) } : { ok: true, value: n },
          ),
        );
      },
    });
    const first = await Promise.allSettled([1, 2, 3].map((n) => batcher.enqueue(n)));
    expect(first.map((s) => (s.status === "fulfilled" ? s.value : String(s.reason)))).toEqual([
      1,
      "Error: bad 2",
      3,
    ]);
    const second = await Promise.allSettled([5, 7].map((n) => batcher.enqueue(n)));
    expect(second.map((s) => s.status)).toEqual(["rejected", "rejected"]);
  });

  it("drain() sends what is queued and waits for every batch", async () => {
    const { batches, run } = controlledRun();
    const batcher = new WriteBatcher({ run, maxInFlight: 1 });
    const all = [1, 2].map((n) => batcher.enqueue(n));
    let drained = false;
    const draining = batcher.drain().then(() => (drained = true));
    expect(batches.map((b) => b.items)).toEqual([[1, 2]]);
    const late = batcher.enqueue(3);
    batches[0]!.finish();
    await turn();
    await turn();
    expect(drained).toBe(false);
    batches[1]!.finish();
    await draining;
    expect(await Promise.all([...all, late])).toEqual([10, 20, 30]);
  });
});

describe("roundsByKey", () => {
  it("keeps order and puts repeated keys in later rounds", () => {
    const keys = ["a", "b", "a", "c", "a", "b"];
    expect(roundsByKey([0, 1, 2, 3, 4, 5], (i) => keys[i]!)).toEqual([[0, 1, 3], [2, 5], [4]]);
    expect(roundsByKey([], () => "x")).toEqual([]);
  });
});

describe("oneByOne", () => {
  it("reports each item's outcome", async () => {
    const outcomes = await oneByOne([1, 2], (n) =>
      n === 2 ? Promise.reject(new Error("no")) : Promise.resolve(n),
    );
    expect(outcomes[0]).toEqual({ ok: true, value: 1 });
    expect(outcomes[1]?.ok).toBe(false);
  });
});
