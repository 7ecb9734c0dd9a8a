// Runs on PostgreSQL beyond the dialect-neutral contract: stores on separate connections and
// processes' worth of pools sharing one schema (creates racing, wake-ups through NOTIFY), and
// values kept out of line.
import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import type { WorkerId } from "../../core/ids.ts";
import {
  CallFactory,
  claimOne,
  claimRun,
  commitOf,
  completedStep,
  LEASE_MS,
  NO_STEPS,
  RunFactory,
  runRef,
  succeeded,
  T0,
  TENANT_A,
  waitingForEvent,
} from "../contract/fixtures.ts";
import type { PostgresStore } from "./postgres-store.ts";
import {
  dropSchema,
  openTestStore,
  testSchemaName,
  withAdminClient,
} from "./test-database.test-support.ts";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** `count` migrated stores (each its own pool) sharing one fresh schema. */
async function sharedStores(count: number): Promise<{ stores: PostgresStore[]; schema: string }> {
  const schema = testSchemaName();
  cleanups.push(() => dropSchema(schema));
  const stores: PostgresStore[] = [];
  for (let i = 0; i < count; i++) {
    const { store } = await openTestStore({ schema });
    cleanups.push(() => store.close());
    stores.push(store);
  }
  await stores[0]!.migrate();
  return { stores, schema };
}

/** A subscriber whose notifications can be awaited. */
function recorder() {
  const seen: number[] = [];
  let waiters: { match: (n: number) => boolean; resolve: () => void }[] = [];
  return {
    listener: (runAt: number) => {
      seen.push(runAt);
      waiters = waiters.filter((w) => {
        if (!w.match(runAt)) return true;
        w.resolve();
        return false;
      });
    },
    next: (at: number) =>
      seen.includes(at)
        ? Promise.resolve()
        : new Promise<void>((resolve) => waiters.push({ match: (n) => n === at, resolve })),
  };
}

describe("PostgresStore runs across stores", () => {
  it("creates exactly one of concurrent creates of one id made on two pools", async () => {
    const { stores } = await sharedStores(2);
    const runs = new RunFactory(21);
    for (let round = 0; round < 5; round++) {
      const starts = Array.from({ length: 6 }, (_, i) =>
        runs.run({ id: `race-${round}`, input: `{"n":${i}}` }),
      );
      const results = await Promise.all(starts.map((run, i) => stores[i % 2]!.createRun(run)));
      const created = results.filter((r) => r.created);
      expect(created).toHaveLength(1);
      for (const result of results) expect(result.run).toStrictEqual(created[0]!.run);
    }
  });

  it("wakes another store's subscriber when runs become due: created, woken, a child's end", async () => {
    const { stores } = await sharedStores(2);
    const [a, b] = stores as [PostgresStore, PostgresStore];
    const heard = recorder();
    const unsubscribe = b.subscribe(heard.listener);
    const runs = new RunFactory(22);
    // Created: due at its runAt (also heard through the catch-up if LISTEN came later).
    const parent = runs.run({ runAt: T0 + 5 });
    await a.createRun(parent);
    await heard.next(T0 + 5);

    // Parked on an event, woken by it.
    const claim = await claimRun(a, T0 + 10);
    const wait = waitingForEvent("approval", "order.approved", T0 + 11);
    const park = { status: "waiting", waitCode: "event", phase: "forward" } as const;
    expect(
      await a.parkRun(
        runRef(claim),
        { ...park, events: ["order.approved"] },
        {
          checkpoints: [wait],
          attempts: [],
        },
        T0 + 11,
      ),
    ).toBe(true);
    expect(await a.wakeRunsForEvent(TENANT_A, "order.approved", T0 + 20)).toBe(1);
    await heard.next(T0 + 20);

    // A child call's end wakes its parked parent.
    const calls = new CallFactory(23);
    const again = await claimRun(a, T0 + 21);
    const child = runs.childCall(calls, parent.uid, T0 + 22);
    expect(await a.parkRun(runRef(again), park, { ...NO_STEPS, calls: [child] }, T0 + 22)).toBe(
      true,
    );
    await heard.next(T0 + 22);
    const callClaim = await claimOne(a, T0 + 23);
    expect(callClaim.call.parentRun).toBe(parent.uid);
    expect(await a.commitAttempt(commitOf(callClaim, T0 + 30, succeeded(T0 + 30)))).toBe(true);
    await heard.next(T0 + 30);
    expect(await a.getRunByUid(parent.uid)).toMatchObject({ status: "waiting", runAt: T0 + 30 });
    unsubscribe();
  });
});

describe("PostgresStore run values", () => {
  it("keeps values over 256 KiB out of line and reads them back whole", async () => {
    const { stores, schema } = await sharedStores(1);
    const store = stores[0]!;
    const runs = new RunFactory(24);
    const big = (c: string) => JSON.stringify(c.repeat(256 * 1024));
    const start = runs.run({ input: big("i") });
    await store.createRun(start);
    const claim = await claimRun(store, T0 + 10);
    expect(claim.run.input).toBe(start.input);
    const step = completedStep("load", big("s"), T0 + 11);
    expect(
      await store.finishRun(
        runRef(claim),
        { status: "succeeded", output: big("o") },
        {
          checkpoints: [step],
          attempts: [],
        },
        T0 + 12,
      ),
    ).toBe(true);
    const detail = await store.getRun(TENANT_A, start.id);
    expect(detail?.run.output).toBe(big("o"));
    expect(detail?.checkpoints).toEqual([step]);
    const slots = await withAdminClient(async (client) => {
      const { rows } = await client.query<{ slot: string }>(
        `SELECT slot FROM ${pg.escapeIdentifier(schema)}.run_values ORDER BY slot`,
      );
      return rows.map((row) => row.slot);
    });
    expect(slots).toEqual(["input", "output", "output:load"]);
    // A claim of another worker's run is not a call: the calls' queue never sees it.
    expect(await store.nextWakeAt()).toBeUndefined();
    expect(
      await store.claimDue({
        now: T0 + LEASE_MS * 10,
        limit: 10,
        leaseMs: LEASE_MS,
        workerId: "w" as WorkerId,
      }),
    ).toEqual([]);
  });
});
