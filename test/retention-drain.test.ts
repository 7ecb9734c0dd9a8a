// Retention under load (issue 14): a SQLite store holding 100,000 calls ended a month ago is purged
// down in the background while the engine keeps draining new calls, and the drain is measured
// before and while the purge runs. Real clock, real upstream on loopback.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterEach, describe, expect, it } from "vitest";
import { createMetrics } from "../src/server/metrics.ts";
import { createSteadfast, type Steadfast } from "../src/steadfast.ts";
import { insertEndedCalls } from "../src/store/sqlite/bulk-ended-calls.test-support.ts";
import { SqliteStore } from "../src/store/sqlite/sqlite-store.ts";
import { startFlakyUpstream, type FlakyUpstream } from "../src/testing/flaky-upstream.ts";

const DAY = 86_400_000;
const ENDED = 100_000;
/** Calls in flight at once from the test's submitters. */
const SUBMITTERS = 32;

let dir: string | undefined;
let upstream: FlakyUpstream | undefined;
let sf: Steadfast | undefined;
afterEach(async () => {
  await upstream?.close();
  await sf?.close();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  dir = upstream = sf = undefined;
});

/** A call's submission and end, ms of `performance.now()`. */
interface Drained {
  submittedAt: number;
  endedAt: number;
}

describe("retention under load", () => {
  it("purges 100,000 ended calls in the background while the engine keeps draining new ones (SQLite)", async () => {
    dir = mkdtempSync(join(tmpdir(), "steadfast-retention-drain-"));
    const path = join(dir, "steadfast.db");
    const migrated = SqliteStore.open({ path });
    await migrated.migrate();
    await migrated.close();
    expect(insertEndedCalls(path, { count: ENDED, endedAt: Date.now() - 30 * DAY })).toBe(ENDED);

    upstream = await startFlakyUpstream(() => ({ status: 200, body: "{}" }));
    // The first pass a second after the start: the drain before it is the baseline.
    const engine = await createSteadfast({
      db: `sqlite:${path}`,
      allowPrivateNetworks: true,
      concurrency: 64,
      purgeIntervalMs: 1_000,
      purgeBatchSize: 1_000,
      purgePauseMs: 20,
    });
    sf = engine;
    const metrics = createMetrics({ events: engine.engine.events, processMetrics: false });
    let purgeStartedAt: number | undefined;
    let purgeEndedAt: number | undefined;
    engine.engine.events.on("retention:purged", () => (purgeStartedAt ??= performance.now()));
    const passed = new Promise<{ calls: number }>((resolve) => {
      const off = engine.engine.events.on("retention:passed", (pass) => {
        if (pass.calls === 0) return;
        purgeEndedAt = performance.now();
        off();
        resolve(pass);
      });
    });

    const drained: Drained[] = [];
    let draining = true;
    const submitter = async (n: number): Promise<void> => {
      for (let i = 0; draining; i++) {
        const submittedAt = performance.now();
        const call = await engine.fetch({ url: `${upstream!.url}/new/${n}/${i}` });
        const view = await call.result({ timeoutMs: 30_000 });
        expect(view.status).toBe("succeeded");
        drained.push({ submittedAt, endedAt: performance.now() });
      }
    };
    const submitters = Array.from({ length: SUBMITTERS }, (_, n) => submitter(n));
    const pass = await passed;
    // A little more drain after the purge, then stop submitting.
    await new Promise((resolve) => setTimeout(resolve, 250));
    draining = false;
    await Promise.all(submitters);

    expect(pass.calls).toBe(ENDED);
    const text = await metrics.registry.metrics();
    expect(text).toMatch(new RegExp(`^steadfast_purged_total\\{kind="call"\\} ${ENDED}$`, "m"));
    metrics.close();

    const start = purgeStartedAt!;
    const end = purgeEndedAt!;
    const before = drained.filter((d) => d.endedAt < start);
    const during = drained.filter((d) => d.endedAt >= start && d.endedAt <= end);
    const rate = (list: Drained[], ms: number) => Math.round((list.length / ms) * 1_000);
    const firstSubmit = Math.min(...drained.map((d) => d.submittedAt));
    const slowest = Math.max(...during.map((d) => d.endedAt - d.submittedAt));
    const p99 = percentile(
      during.map((d) => d.endedAt - d.submittedAt),
      0.99,
    );
    console.log(
      `retention drain: purged ${ENDED} calls in ${Math.round(end - start)} ms ` +
        `(${Math.round((ENDED / (end - start)) * 1_000)} calls/s, batches of 1,000, 20 ms apart); ` +
        `drain ${rate(before, start - firstSubmit)} calls/s before, ${rate(during, end - start)} calls/s during; ` +
        `latency during: p99 ${Math.round(p99)} ms, slowest ${Math.round(slowest)} ms`,
    );
    // The engine kept draining: new calls ended all through the purge, none held up for long.
    expect(before.length).toBeGreaterThan(0);
    expect(during.length).toBeGreaterThan(100);
    expect(slowest).toBeLessThan(5_000);

    // Only the new calls are left, and nothing of the old ones.
    await engine.close();
    const db = new DatabaseSync(path);
    try {
      const count = (sql: string) => Number(db.prepare(sql).get()!.n);
      expect(count("SELECT count(*) AS n FROM calls")).toBe(drained.length);
      expect(count("SELECT count(*) AS n FROM attempts")).toBe(drained.length);
    } finally {
      db.close();
    }
  }, 60_000);
});

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;
}
