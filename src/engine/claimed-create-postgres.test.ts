// Calls created already claimed on PostgreSQL (`Store.createClaimedCall`): the process whose
// engine accepts a call runs it at once; a process without a running engine (an API process of
// a fleet) creates its calls queued, and a worker process, woken by the store, runs them.
import { afterEach, describe, expect, it } from "vitest";
import { tenantId, type CallId } from "../core/ids.ts";
import { createSteadfast, type Steadfast } from "../steadfast.ts";
import { eventually } from "../store/postgres/outage-proxy.test-support.ts";
import {
  dropSchema,
  TEST_DATABASE_URL,
  testSchemaName,
} from "../store/postgres/test-database.test-support.ts";
import { FakeClock } from "../testing/fake-clock.ts";
import { startFlakyUpstream } from "../testing/flaky-upstream.ts";
import { SeededRandom } from "../testing/seeded-random.ts";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A fresh schema's URL, and an upstream answering 200. */
async function setUp(): Promise<{ db: string; upstream: { url: string; requests: unknown[] } }> {
  const schema = testSchemaName();
  cleanups.push(() => dropSchema(schema));
  const upstream = await startFlakyUpstream(() => ({ status: 200 }));
  cleanups.push(() => upstream.close());
  const url = new URL(TEST_DATABASE_URL);
  url.searchParams.set("schema", schema);
  return { db: url.toString(), upstream };
}

/** A process on `db`; its engine starts unless `startEngine` is false. */
async function open(
  db: string,
  clock: FakeClock,
  seed: number,
  startEngine = true,
): Promise<Steadfast> {
  const sf = await createSteadfast({
    db,
    clock,
    random: new SeededRandom(seed),
    allowPrivateNetworks: true,
    startEngine,
  });
  cleanups.push(() => sf.close());
  return sf;
}

describe("calls created claimed on PostgreSQL", () => {
  it("runs a call at once in the process whose engine accepted it, created running", async () => {
    const { db, upstream } = await setUp();
    // The clock never moves: no timer of the engine fires, only the call's own slot runs it.
    const clock = new FakeClock(Date.parse("2026-01-01T00:00:00Z"));
    const sf = await open(db, clock, 1);
    await eventually(() => sf.engine.canSend, "the engine is registered");

    const call = await sf.fetch({ url: `${upstream.url}/now` });
    const stored = () => sf.store.getCall(tenantId("default"), call.id);
    expect((await stored())?.status).not.toBe("queued");
    await eventually(async () => (await stored())?.status === "succeeded", "the call succeeds");
    expect(await stored()).toMatchObject({ status: "succeeded", attempts: 1 });
    expect(upstream.requests).toHaveLength(1);
  });

  it("creates the calls of a process without a running engine queued, for a worker to run", async () => {
    const { db, upstream } = await setUp();
    const clock = new FakeClock(Date.parse("2026-01-01T00:00:00Z"));
    const api = await open(db, clock, 1, false);
    const worker = await open(db, clock, 2, false);
    const stored = (id: CallId) => worker.store.getCall(tenantId("default"), id);

    // No engine runs anywhere yet: the call waits queued, claimed by nobody.
    const first = await api.fetch({ url: `${upstream.url}/first` });
    expect((await stored(first.id))?.status).toBe("queued");

    // A worker starts and takes it; a call accepted later reaches it through the store's
    // notification (the clock never moves, so no timer of the worker's engine fires).
    worker.engine.start();
    await eventually(async () => (await stored(first.id))?.status === "succeeded", "first ran");
    const second = await api.fetch({ url: `${upstream.url}/second` });
    await eventually(async () => (await stored(second.id))?.status === "succeeded", "second ran");
    expect(upstream.requests).toHaveLength(2);
    expect(api.engine.inFlight).toBe(0);
  });
});
