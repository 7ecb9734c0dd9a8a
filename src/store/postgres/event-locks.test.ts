// The event locks on PostgreSQL (event-locks.ts): a park checking for unseen events and the
// record of an event of one of its names never both commit without seeing each other. Another
// connection holds one side's lock in an open transaction, the store does the other.
import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import type { RunPark } from "../../core/store.ts";
import { claimRun, NO_STEPS, RunFactory, runRef, T0, TENANT_A } from "../contract/fixtures.ts";
import { lockEventSharedSql, lockParkedEventsSql } from "./event-locks.ts";
import type { PostgresStore } from "./postgres-store.ts";
import { schemaNames } from "./schema-names.ts";
import { openTestStore, TEST_DATABASE_URL } from "./test-database.test-support.ts";

const HOUR = 3_600_000;
const PARK: RunPark = {
  status: "waiting",
  waitCode: "event",
  phase: "forward",
  runAt: T0 + HOUR,
  events: ["order.approved"],
  eventsSeen: { since: T0 + 100, ids: [] },
};

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setUp(): Promise<{ store: PostgresStore; schema: string; other: pg.Client }> {
  const { store, schema, cleanup } = await openTestStore();
  cleanups.push(cleanup);
  await store.migrate();
  const other = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await other.connect();
  cleanups.push(() => other.end());
  return { store, schema, other };
}

// Whether `pending` is left waiting for an advisory lock (polled through `client`), rather than
// settling without one.
async function waitsForLock(client: pg.Client, pending: Promise<unknown>): Promise<boolean> {
  let settled = false;
  void pending.then(
    () => (settled = true),
    () => (settled = true),
  );
  for (;;) {
    const { rows } = await client.query<{ n: number }>(
      "SELECT count(*)::integer AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted",
    );
    if (rows[0]!.n > 0) return true;
    if (settled) return false;
  }
}

describe("PostgresStore event locks", () => {
  it("a park checking for unseen events waits for an event being recorded, and is due with it", async () => {
    const { store, schema, other } = await setUp();
    const names = schemaNames(schema);
    const run = new RunFactory(3).run();
    await store.createRun(run);
    const claim = await claimRun(store, T0 + 10);
    // A record under way: its lock held, its event inserted, not committed.
    await other.query("BEGIN");
    await other.query(lockEventSharedSql(names), [TENANT_A, "order.approved"]);
    await other.query(
      `INSERT INTO ${names.events} (tenant_id, id, name, data, received_at) ` +
        "VALUES ($1, 'evt_1', 'order.approved', '{}', $2)",
      [TENANT_A, T0 + 150],
    );
    const parking = store.parkRun(runRef(claim), PARK, NO_STEPS, T0 + 200);
    expect(await waitsForLock(other, parking)).toBe(true);
    await other.query("COMMIT");
    expect(await parking).toBe(true);
    expect(await store.getRunByUid(run.uid)).toMatchObject({ status: "waiting", runAt: T0 + 200 });
  });

  it("an event's record waits for a park holding its name's lock", async () => {
    const { store, schema, other } = await setUp();
    const run = new RunFactory(3).run();
    await store.createRun(run);
    await claimRun(store, T0 + 10);
    await other.query("BEGIN");
    await other.query(lockParkedEventsSql(schemaNames(schema)), [
      [run.uid],
      ['["order.shipped", "order.approved"]'],
    ]);
    const event = {
      tenantId: TENANT_A,
      id: "evt_1",
      name: "order.approved",
      data: "{}",
      receivedAt: T0 + 150,
    };
    const recording = store.recordEventAndWake(event, T0 + 150);
    expect(await waitsForLock(other, recording)).toBe(true);
    await other.query("COMMIT");
    expect(await recording).toStrictEqual({ created: true, event, woken: 0 });
    // Another name of the tenant is not held.
    await other.query("BEGIN");
    await other.query(lockParkedEventsSql(schemaNames(schema)), [[run.uid], ['["order.shipped"]']]);
    const unrelated = { ...event, id: "evt_2" };
    expect(await store.recordEventAndWake(unrelated, T0 + 160)).toMatchObject({ created: true });
    await other.query("COMMIT");
  });
});
