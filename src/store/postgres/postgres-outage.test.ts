// Losing the database: a TCP proxy between the store and PostgreSQL stands in for the network,
// so that a test can cut every connection and refuse new ones, then let them through again.
import { afterEach, describe, expect, it } from "vitest";
import { CallFactory, T0, TENANT_A } from "../contract/fixtures.ts";
import { eventually, OutageProxy } from "./outage-proxy.test-support.ts";
import { PostgresStore } from "./postgres-store.ts";
import { dropSchema, TEST_DATABASE_URL, testSchemaName } from "./test-database.test-support.ts";

describe("PostgresStore when the database goes away", () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it("rejects operations and is not ready during an outage, and recovers after it", async () => {
    const proxy = new OutageProxy(new URL(TEST_DATABASE_URL));
    await proxy.restore();
    cleanups.push(() => proxy.cut());
    const url = new URL(TEST_DATABASE_URL);
    url.host = `127.0.0.1:${proxy.port}`;
    const schema = testSchemaName();
    cleanups.push(() => dropSchema(schema));
    const options = { schema, poolSize: 3, applicationName: "steadfast-outage-test" };
    const listenErrors: Error[] = [];
    const store = await PostgresStore.connect({
      ...options,
      connectionString: url.toString(),
      connectTimeoutMs: 1_000,
      healthCheckIntervalMs: 50,
      onListenError: (error) => listenErrors.push(error),
    });
    cleanups.push(() => store.close());
    const direct = await PostgresStore.connect({
      ...options,
      connectionString: TEST_DATABASE_URL,
    });
    cleanups.push(() => direct.close());
    await store.migrate();
    const calls = new CallFactory(21);
    const heard: number[] = [];
    const unsubscribe = store.subscribe((runAt) => heard.push(runAt));
    cleanups.push(() => Promise.resolve(unsubscribe()));

    await direct.createCall(calls.call({ runAt: T0 + 100 }));
    await eventually(() => heard.includes(T0 + 100), "the subscriber hears the first call");
    expect(store.isReady()).toBe(true);

    await proxy.cut();
    // Idle pooled connections and the LISTEN connection die: handled, not thrown.
    // As `store_unavailable` (503 on the API), the driver's error as the cause.
    const unavailable = { name: "StoreUnavailableError", code: "store_unavailable" };
    await expect(store.getCall(TENANT_A, calls.id(T0))).rejects.toMatchObject(unavailable);
    await expect(store.createCall(calls.call())).rejects.toMatchObject(unavailable);
    expect(store.isReady()).toBe(false);
    await eventually(() => listenErrors.length > 0, "the LISTEN connection reports its loss");

    await proxy.restore();
    await eventually(() => store.isReady(), "the store is ready again");
    const after = calls.call({ runAt: T0 + 200 });
    expect((await store.createCall(after)).created).toBe(true);
    expect((await direct.getCall(TENANT_A, after.id))?.id).toBe(after.id);

    // The LISTEN connection came back too: a write from elsewhere reaches the subscriber.
    await direct.createCall(calls.call({ runAt: T0 + 50 }));
    await eventually(() => heard.includes(T0 + 50), "the subscriber hears a call again");
  });

  it("times out on a network that died silently, and recovers when it comes back", async () => {
    const proxy = new OutageProxy(new URL(TEST_DATABASE_URL));
    await proxy.restore();
    cleanups.push(() => proxy.cut());
    const url = new URL(TEST_DATABASE_URL);
    url.host = `127.0.0.1:${proxy.port}`;
    const schema = testSchemaName();
    cleanups.push(() => dropSchema(schema));
    const listenErrors: Error[] = [];
    const store = await PostgresStore.connect({
      connectionString: url.toString(),
      schema,
      poolSize: 2,
      connectTimeoutMs: 500,
      queryTimeoutMs: 500,
      healthCheckIntervalMs: 50,
      listenHeartbeatMs: 200,
      onListenError: (error) => listenErrors.push(error),
    });
    cleanups.push(() => store.close());
    const direct = await PostgresStore.connect({ connectionString: TEST_DATABASE_URL, schema });
    cleanups.push(() => direct.close());
    await store.migrate();
    const calls = new CallFactory(23);
    const heard: number[] = [];
    const unsubscribe = store.subscribe((runAt) => heard.push(runAt));
    cleanups.push(() => Promise.resolve(unsubscribe()));
    await direct.createCall(calls.call({ runAt: T0 + 100 }));
    await eventually(() => heard.includes(T0 + 100), "the subscriber hears the first call");

    proxy.freeze();
    // Without a query timeout this would wait for TCP to give up, many minutes from now.
    await expect(store.getCall(TENANT_A, calls.id(T0))).rejects.toThrow(/timeout/i);
    expect(store.isReady()).toBe(false);
    // The silent LISTEN connection is found out by its heartbeat.
    await eventually(() => listenErrors.length > 0, "the LISTEN heartbeat fails");

    proxy.thaw();
    await eventually(() => store.isReady(), "the store is ready again");
    const after = calls.call();
    expect((await store.createCall(after)).created).toBe(true);
    await direct.createCall(calls.call({ runAt: T0 + 50 }));
    await eventually(() => heard.includes(T0 + 50), "the subscriber hears a call again");
  });

  it("survives its pooled connections being terminated by the server", async () => {
    const schema = testSchemaName();
    cleanups.push(() => dropSchema(schema));
    const applicationName = `steadfast-kill-${schema.slice(-6)}`;
    const store = await PostgresStore.connect({
      connectionString: TEST_DATABASE_URL,
      schema,
      poolSize: 3,
      applicationName,
      healthCheckIntervalMs: 50,
    });
    cleanups.push(() => store.close());
    await store.migrate();
    const calls = new CallFactory(22);
    await Promise.all([1, 2, 3].map(() => store.createCall(calls.call())));

    const killer = await PostgresStore.connect({
      connectionString: TEST_DATABASE_URL,
      schema,
      poolSize: 1,
    });
    cleanups.push(() => killer.close());
    // pg_terminate_backend: what an administrator, a failover or a server restart does.
    const { killed } = await terminate(killer, applicationName);
    expect(killed).toBeGreaterThan(0);

    // Reads and writes carry on: the pool discards the dead connections and opens new ones.
    await eventually(() => store.isReady(), "the store is ready again");
    const call = calls.call();
    let created = false;
    for (let i = 0; i < 3 && !created; i++) {
      created = await store.createCall(call).then(
        (r) => r.created,
        () => false,
      );
    }
    expect(created).toBe(true);
    expect((await store.getCall(TENANT_A, call.id))?.id).toBe(call.id);
  });
});

async function terminate(store: PostgresStore, applicationName: string) {
  const url = new URL(TEST_DATABASE_URL);
  const pg = await import("pg");
  const client = new pg.default.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    const { rows } = await client.query<{ killed: number }>(
      "SELECT count(pg_terminate_backend(pid))::integer AS killed FROM pg_stat_activity " +
        "WHERE application_name = $1",
      [applicationName],
    );
    expect(store.dialect).toBe("postgres");
    return rows[0]!;
  } finally {
    await client.end();
  }
}
