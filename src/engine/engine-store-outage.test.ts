// The engine when PostgreSQL goes away between an attempt's answer and its commit: the answer is
// kept and committed once the database is back, instead of the request being sent again.
import { afterEach, describe, expect, it } from "vitest";
import { tenantId } from "../core/ids.ts";
import { createSteadfast, type Steadfast } from "../steadfast.ts";
import { eventually, OutageProxy } from "../store/postgres/outage-proxy.test-support.ts";
import { PostgresStore } from "../store/postgres/postgres-store.ts";
import {
  dropSchema,
  TEST_DATABASE_URL,
  testSchemaName,
} from "../store/postgres/test-database.test-support.ts";
import { FakeClock } from "../testing/fake-clock.ts";
import { startFlakyUpstream } from "../testing/flaky-upstream.ts";
import { SeededRandom } from "../testing/seeded-random.ts";
import type { FaultPoint } from "./fault-points.ts";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe("engine: the store lost between an answer and its commit", () => {
  it("commits the answer in hand once the database is back, without sending again", async () => {
    const proxy = new OutageProxy(new URL(TEST_DATABASE_URL));
    await proxy.restore();
    cleanups.push(() => proxy.cut());
    const schema = testSchemaName();
    cleanups.push(() => dropSchema(schema));
    const upstream = await startFlakyUpstream(() => ({ status: 200, body: "charged" }));
    cleanups.push(() => upstream.close());

    // The database goes away right after the upstream answered, before the commit.
    let cut: Promise<void> | undefined;
    const faults = {
      hit(point: FaultPoint): Promise<void> | undefined {
        if (point !== "after-request-sent" || cut !== undefined) return undefined;
        cut = proxy.cut();
        return cut;
      },
    };
    const url = new URL(TEST_DATABASE_URL);
    url.host = `127.0.0.1:${proxy.port}`;
    url.searchParams.set("schema", schema);
    const clock = new FakeClock(Date.parse("2026-01-01T00:00:00Z"));
    const sf: Steadfast = await createSteadfast({
      db: url.toString(),
      clock,
      random: new SeededRandom(4),
      allowPrivateNetworks: true,
      faults,
    });
    cleanups.push(() => sf.close());
    const direct = await PostgresStore.connect({ connectionString: TEST_DATABASE_URL, schema });
    cleanups.push(() => direct.close());

    const call = await sf.fetch({ url: `${upstream.url}/charges`, method: "POST" });
    await eventually(() => cut !== undefined, "the upstream answered and the database was cut");
    await cut;
    // The commit fails and is tried again on the engine's clock while the database is away.
    await eventually(() => !sf.store.isReady(), "the store notices the outage");
    for (let i = 0; i < 5; i++) {
      await clock.advance(100);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(upstream.requests).toHaveLength(1);

    await proxy.restore();
    const stored = () => direct.getCall(tenantId("default"), call.id);
    await eventually(async () => {
      await clock.advance(100);
      return (await stored())?.status === "succeeded";
    }, "the call is committed as succeeded");
    expect(await stored()).toMatchObject({ status: "succeeded", attempts: 1 });
    expect(upstream.requests).toHaveLength(1);
  });
});
