import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { CallId } from "../core/ids.ts";
import { tenantId } from "../core/ids.ts";
import { createLogger } from "../server/logger.ts";
import { createMetrics } from "../server/metrics.ts";
import { engineOptions } from "../server/start-worker.ts";
import { openStore } from "../steadfast.ts";
import { harness, settle, type Harness } from "./engine-harness.test-support.ts";
import type { EngineEvents } from "./engine.ts";
import { purgeEnded, retentionCutoff, type PurgedKind } from "./retention.ts";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
/** The engine's maintenance interval in these tests. */
const INTERVAL = 10 * MINUTE;
const DEFAULT = tenantId("default");

let current: Harness | undefined;
afterEach(async () => {
  await current?.cleanup();
  current = undefined;
});

/** A harness whose engine keeps ended work an hour and idempotency keys a minute. */
async function start(options: Parameters<typeof harness>[1] = {}): Promise<Harness> {
  current = await harness(() => ({ status: 200, body: "{}" }), {
    retentionMs: HOUR,
    idempotencyTtlMs: MINUTE,
    purgeIntervalMs: INTERVAL,
    purgeBatchSize: 2,
    purgePauseMs: 1_000,
    ...options,
  });
  return current;
}

/** Runs `count` calls to their end; returns their ids. */
async function endedCalls(h: Harness, count: number): Promise<CallId[]> {
  const ids: CallId[] = [];
  for (let i = 0; i < count; i++) {
    const call = await h.sf.fetch({ url: `${h.upstream.url}/ok/${i}` });
    await call.result();
    ids.push(call.id);
  }
  return ids;
}

async function kept(h: Harness, ids: readonly CallId[]): Promise<number> {
  let found = 0;
  for (const id of ids) if ((await h.sf.store.getCall(DEFAULT, id)) !== undefined) found++;
  return found;
}

/** Resolves with the kinds and counts of the next `n` retention batches. */
function batches(h: Harness, n: number): Promise<[PurgedKind, number][]> {
  const seen: [PurgedKind, number][] = [];
  return new Promise((resolve) => {
    const off = h.sf.engine.events.on("retention:purged", ({ kind, count }) => {
      seen.push([kind, count]);
      if (seen.length === n) {
        off();
        resolve(seen);
      }
    });
  });
}

/**
 * Advances the fake clock one maintenance interval and resolves with the retention pass it ran.
 * A pass runs on real I/O and arms the next interval once it is done, so passes are waited for
 * one at a time (a long jump would run only one).
 */
async function pass(h: Harness): Promise<EngineEvents["retention:passed"]> {
  const passed = h.next("retention:passed");
  await h.clock.advance(INTERVAL);
  return passed;
}

/** Runs passes until one deletes something (at most `max`); resolves with it. */
async function passUntilPurged(h: Harness, max: number): Promise<EngineEvents["retention:passed"]> {
  for (let i = 0; i < max; i++) {
    const passed = await pass(h);
    if (passed.calls + passed.callbacks + passed.runs > 0) return passed;
  }
  throw new Error(`no retention pass deleted anything in ${max} intervals`);
}

describe("retention in the engine's maintenance loop", () => {
  it("deletes ended calls and runs once their retention passed, a batch at a time, paused between batches", async () => {
    const h = await start();
    const metrics = createMetrics({ events: h.sf.engine.events, processMetrics: false });
    const calls = await endedCalls(h, 5);
    const done = h.sf.workflow("done", () => Promise.resolve("ok"));
    const run = await done.start(undefined, { id: "run-1" });
    expect(await run.result()).toBe("ok");
    const endedAt = h.clock.now();

    // Passes until the hour is over find nothing (ended at the cutoff is not before it).
    for (let minutes = INTERVAL; minutes <= HOUR; minutes += INTERVAL) {
      expect(await pass(h)).toStrictEqual({
        calls: 0,
        callbacks: 0,
        runs: 0,
        endedBefore: endedAt + minutes - HOUR,
      });
    }
    // The next one: one batch, then a pause of a second before each next batch.
    const first = batches(h, 1);
    const passed = h.next("retention:passed");
    await h.clock.advance(INTERVAL);
    expect(await first).toEqual([["call", 2]]);
    expect(await kept(h, calls)).toBe(3);
    const paused = async (): Promise<[PurgedKind, number][]> => {
      const next = batches(h, 1);
      await h.clock.advance(1_000);
      return next;
    };
    expect(await paused()).toEqual([["call", 2]]);
    // A short batch was the last of calls: the runs' first batch follows at once.
    const rest = batches(h, 2);
    await h.clock.advance(1_000);
    expect(await rest).toEqual([
      ["call", 1],
      ["run", 1],
    ]);
    expect(await passed).toMatchObject({ calls: 5, callbacks: 0, runs: 1 });
    expect(await kept(h, calls)).toBe(0);
    expect(await h.sf.store.getRun(DEFAULT, "run-1")).toBeUndefined();
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/^steadfast_purged_total\{kind="call"\} 5$/m);
    expect(text).toMatch(/^steadfast_purged_total\{kind="run"\} 1$/m);
    metrics.close();
  });

  it("keeps a call as long as its idempotency key when keys are kept longer", async () => {
    const h = await start({ idempotencyTtlMs: 3 * HOUR, purgeBatchSize: 10 });
    const calls = await endedCalls(h, 1);
    const endedAt = h.clock.now();
    const purged = await passUntilPurged(h, 20);
    expect(purged).toMatchObject({ calls: 1, endedBefore: endedAt + INTERVAL });
    expect(h.clock.now()).toBe(endedAt + 3 * HOUR + INTERVAL);
    expect(await kept(h, calls)).toBe(0);
  });

  it("keeps everything with retentionMs 0", async () => {
    const h = await start({ retentionMs: 0 });
    const calls = await endedCalls(h, 2);
    for (let i = 0; i < 9; i++) {
      await h.clock.advance(INTERVAL);
      await settle();
    }
    expect(await kept(h, calls)).toBe(2);
  });

  it("stops between two batches when the engine stops", async () => {
    const h = await start();
    const calls = await endedCalls(h, 5);
    const first = batches(h, 1);
    let purging = false;
    void first.then(() => (purging = true));
    for (let i = 0; i < 10 && !purging; i++) {
      const passed = h.next("retention:passed");
      await h.clock.advance(INTERVAL);
      await Promise.race([passed, first]);
    }
    expect(await first).toEqual([["call", 2]]);
    // Paused for a second of the fake clock, which does not move: the stop ends the pause (or
    // the close would wait for it for ever).
    await h.sf.close();
    const store = await openStore(`sqlite:${join(h.dir, "steadfast.db")}`);
    try {
      let left = 0;
      for (const id of calls) if ((await store.getCall(DEFAULT, id)) !== undefined) left++;
      expect(left).toBe(3);
    } finally {
      await store.close();
    }
  });
});

describe("purgeEnded", () => {
  it("purges calls then runs until a batch comes back short, telling each batch", async () => {
    const h = await start({ retentionMs: 0 });
    const calls = await endedCalls(h, 3);
    const told: [PurgedKind, number][] = [];
    const now = h.clock.now();
    const counts = await purgeEnded({
      store: h.sf.store,
      clock: h.clock,
      endedBefore: now + 1,
      now: now + MINUTE + 1,
      batchSize: 3,
      pauseMs: 0,
      onBatch: (kind, count) => told.push([kind, count]),
    });
    expect(counts).toStrictEqual({ calls: 3, callbacks: 0, runs: 0 });
    // A full batch asks for another, which finds nothing; runs: one short batch.
    expect(told).toEqual([["call", 3]]);
    expect(await kept(h, calls)).toBe(0);
  });

  it("does nothing once its signal aborted", async () => {
    const h = await start({ retentionMs: 0 });
    const calls = await endedCalls(h, 1);
    const now = h.clock.now();
    const counts = await purgeEnded({
      store: h.sf.store,
      clock: h.clock,
      endedBefore: now + 1,
      now: now + MINUTE + 1,
      signal: AbortSignal.abort(),
    });
    expect(counts).toStrictEqual({ calls: 0, callbacks: 0, runs: 0 });
    expect(await kept(h, calls)).toBe(1);
  });

  it("gets the retention of steadfast serve and worker to the engine", () => {
    const settings = {
      db: ":memory:",
      allowPrivateNetworks: false,
      allowedCidrs: [],
      concurrency: 8,
      logLevel: "silent",
    };
    const logger = createLogger({ level: "silent", service: "test" });
    expect(engineOptions({ ...settings, retentionMs: 0 }, logger).retentionMs).toBe(0);
    expect(engineOptions({ ...settings, retentionMs: HOUR }, logger).retentionMs).toBe(HOUR);
    expect(engineOptions(settings, logger)).not.toHaveProperty("retentionMs");
  });

  it("starts the engine's purges at the longer of the retention and the key retention", () => {
    expect(retentionCutoff(10 * HOUR, HOUR, MINUTE)).toBe(9 * HOUR);
    expect(retentionCutoff(10 * HOUR, HOUR, 3 * HOUR)).toBe(7 * HOUR);
  });
});
