import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import type { WorkerId } from "../../core/ids.ts";
import type { Claim } from "../../core/store.ts";
import {
  CallFactory,
  claimAll,
  claimOne,
  commitOf,
  failed,
  LEASE_MS,
  succeeded,
  T0,
  TENANT_A,
  waiting,
} from "../contract/fixtures.ts";
import { describeStoreContract } from "../contract/store-contract.ts";
import { readMigrations } from "../migrations/read-migrations.ts";
import { POSTGRES_MIGRATIONS_DIR } from "./apply-migrations.ts";
import type { PostgresStore } from "./postgres-store.ts";
import {
  dropSchema,
  openTestStore,
  testSchemaName,
  withAdminClient,
} from "./test-database.test-support.ts";

describeStoreContract("PostgresStore (fresh schema per test)", () => openTestStore());

const SHIPPED = readMigrations(POSTGRES_MIGRATIONS_DIR).map((m) => m.version);

describe("PostgresStore", () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  /** `count` stores sharing one fresh schema, closed and dropped after the test. */
  async function sharedStores(count: number, schema = testSchemaName()): Promise<PostgresStore[]> {
    const stores: PostgresStore[] = [];
    cleanups.push(() => dropSchema(schema));
    for (let i = 0; i < count; i++) {
      const { store } = await openTestStore({ schema });
      stores.push(store);
      cleanups.push(() => store.close());
    }
    return stores;
  }

  async function versions(schema: string): Promise<number[]> {
    return withAdminClient(async (client) => {
      const { rows } = await client.query<{ version: number }>(
        `SELECT version FROM ${pg.escapeIdentifier(schema)}.schema_migrations ORDER BY version`,
      );
      return rows.map((r) => r.version);
    });
  }

  describe("migrate", () => {
    it("applies each migration once when 4 stores migrate one new schema at once", async () => {
      const schema = testSchemaName();
      const stores = await sharedStores(4, schema);
      await Promise.all(stores.map((store) => store.migrate()));
      expect(await versions(schema)).toEqual(SHIPPED);
      await Promise.all(stores.map((store) => store.migrate()));
      expect(await versions(schema)).toEqual(SHIPPED);
    });

    it("applies appended migrations, rolls back a failing one, refuses a newer schema", async () => {
      const dir = mkdtempSync(join(tmpdir(), "steadfast-pg-migrations-"));
      cleanups.push(() => Promise.resolve(rmSync(dir, { recursive: true, force: true })));
      cpSync(POSTGRES_MIGRATIONS_DIR, dir, { recursive: true });
      const last = SHIPPED.at(-1)!;
      const file = (version: number, name: string) =>
        join(dir, `${String(version).padStart(4, "0")}_${name}.sql`);
      const schema = testSchemaName();
      const [store] = await sharedStores(1, schema);
      const { store: custom } = await openTestStore({ schema, migrationsDir: dir });
      cleanups.push(() => custom.close());

      await custom.migrate();
      expect(await versions(schema)).toEqual(SHIPPED);

      writeFileSync(file(last + 1, "second"), "CREATE TABLE t2 (a integer);");
      writeFileSync(file(last + 2, "broken"), "CREATE TABLE t3 (a integer); SELECT * FROM nope;");
      await expect(custom.migrate()).rejects.toThrow(new RegExp(`${last + 2}_broken`));
      expect(await versions(schema)).toEqual(SHIPPED);

      writeFileSync(file(last + 2, "broken"), "ALTER TABLE t2 ADD COLUMN b integer;");
      await custom.migrate();
      expect(await versions(schema)).toEqual([...SHIPPED, last + 1, last + 2]);
      await expect(store!.migrate()).rejects.toThrow(new RegExp(`version ${last + 1}`));
    });

    it("rejects a schema name that is not a plain lower-case identifier", async () => {
      await expect(openTestStore({ schema: 'Bad"Name' })).rejects.toThrow(/plain identifier/);
    });

    it("fails to connect with a message naming the server, without the password", async () => {
      const { PostgresStore } = await import("./postgres-store.ts");
      const error = await PostgresStore.connect({
        connectionString: "postgres://someone:hunter2@127.0.0.1:1/none?sslpassword=hunter3",
        connectTimeoutMs: 1_000,
      }).then(
        () => "connected",
        (e: unknown) => (e as Error).message,
      );
      expect(error).toMatch(
        /Cannot reach PostgreSQL at postgres:\/\/\[redacted\]@127\.0\.0\.1:1\/none\?sslpassword=\[redacted\]/,
      );
      expect(error).not.toMatch(/hunter/);
    });
  });

  describe("claims across processes", () => {
    it("never gives one call to two stores claiming concurrently", async () => {
      const [a, b] = await sharedStores(2);
      await a!.migrate();
      const calls = new CallFactory(11);
      const created = Array.from({ length: 2_000 }, () => calls.call());
      await a!.createCalls(created);
      const now = T0 + 1_000_000;
      const claimed: Claim[][] = [];
      // Three claim loops per store, each until the store finds nothing left.
      const loop = async (store: PostgresStore, worker: string) => {
        for (;;) {
          const claims = await store.claimDue({
            now,
            limit: 37,
            leaseMs: LEASE_MS,
            workerId: worker as WorkerId,
          });
          if (claims.length === 0) return;
          claimed.push(claims);
        }
      };
      await Promise.all([a!, a!, a!, b!, b!, b!].map((store, i) => loop(store, `worker-${i}`)));
      const ids = claimed.flat().map((c) => c.call.id);
      expect(ids).toHaveLength(2_000);
      expect(new Set(ids)).toEqual(new Set(created.map((c) => c.id)));
      expect(
        await a!.claimDue({ now, limit: 10, leaseMs: LEASE_MS, workerId: "x" as WorkerId }),
      ).toEqual([]);
    });

    it("fences a stale token across stores, alone and inside a batch", async () => {
      const [a, b] = await sharedStores(2);
      await a!.migrate();
      const calls = new CallFactory(12);
      const contested = calls.call();
      const other = calls.call();
      await a!.createCalls([contested, other]);
      const [stale, otherClaim] = await claimAll(a!, other.runAt, 2);
      expect(stale!.call.id).toBe(contested.id);
      const otherRef = { callId: otherClaim!.call.id, leaseToken: otherClaim!.leaseToken };
      await a!.renewLeases([otherRef], stale!.leaseExpiresAt + LEASE_MS, other.runAt);
      const current = await claimOne(b!, stale!.leaseExpiresAt);
      expect(current.call.id).toBe(contested.id);

      const now = stale!.leaseExpiresAt + 10;
      // Same event loop turn, so one batch statement: only the held lease applies.
      const [staleResult, otherResult] = await Promise.all([
        a!.commitAttempt(commitOf(stale!, now, succeeded(now))),
        a!.commitAttempt(commitOf(otherClaim!, now, succeeded(now))),
      ]);
      expect([staleResult, otherResult]).toEqual([false, true]);
      // Only b's record of the attempt its takeover cut off.
      expect((await a!.listAttempts(TENANT_A, contested.id))?.map((x) => x.outcome.type)).toEqual([
        "interrupted",
      ]);
      expect(await a!.getCall(TENANT_A, contested.id)).toStrictEqual(current.call);

      expect(await b!.commitAttempt(commitOf(current, now, failed(now)))).toBe(true);
      expect((await a!.getCall(TENANT_A, contested.id))?.status).toBe("failed");
    });

    it("applies two commits of one call in one batch in order: the second is fenced", async () => {
      const [store] = await sharedStores(1);
      await store!.migrate();
      const call = new CallFactory(13).call();
      await store!.createCall(call);
      const claim = await claimOne(store!, call.runAt);
      const first = commitOf(claim, T0 + 500, waiting(T0 + 900));
      const second = commitOf(claim, T0 + 501, succeeded(T0 + 501));
      expect(
        await Promise.all([store!.commitAttempt(first), store!.commitAttempt(second)]),
      ).toEqual([true, false]);
      expect(await store!.getCall(TENANT_A, call.id)).toMatchObject({
        status: "waiting",
        runAt: T0 + 900,
      });
    });

    it("group-commits a burst of creates and commits (more than one batch) without loss", async () => {
      const [store] = await sharedStores(1);
      await store!.migrate();
      const calls = new CallFactory(14);
      const burst = Array.from({ length: 3_000 }, (_, i) =>
        calls.call(i % 3 === 0 ? { idempotencyKey: `key-${i % 500}` } : {}),
      );
      const results = await Promise.all(burst.map((call) => store!.createCall(call)));
      expect(results.filter((r) => r.created)).toHaveLength(2_000 + 500);
      for (const [i, result] of results.entries()) {
        if (!result.created) expect(result.call.idempotencyKey).toBe(burst[i]!.idempotencyKey);
      }
      const now = T0 + 10_000_000;
      const claims = await store!.claimDue({
        now,
        limit: 5_000,
        leaseMs: LEASE_MS,
        workerId: "w" as WorkerId,
      });
      expect(claims).toHaveLength(2_500);
      const committed = await Promise.all(
        claims.map((claim) => store!.commitAttempt(commitOf(claim, now, succeeded(now)))),
      );
      expect(committed.every(Boolean)).toBe(true);
      expect(await store!.nextWakeAt()).toBeUndefined();
    });
  });

  describe("heartbeats", () => {
    it("go through a connection of their own: a pool whose connections all wait does not delay them", async () => {
      const { store, schema, cleanup } = await openTestStore({ poolSize: 1 });
      cleanups.push(cleanup);
      await store.migrate();
      const worker = "worker_h" as WorkerId;
      await store.registerWorker({ id: worker, host: "h", pid: 1, startedAt: 0 }, T0, 0);
      const call = new CallFactory(17).call();
      await store.createCall(call);
      const calls = `${pg.escapeIdentifier(schema)}.calls`;
      await withAdminClient(async (admin) => {
        await admin.query("BEGIN");
        await admin.query(`SELECT id FROM ${calls} WHERE id = $1 FOR UPDATE`, [call.id]);
        // The pool's one connection waits for that lock (a commit queued behind another).
        const blocked = store.cancelCall(TENANT_A, call.id, T0 + 1, T0 + 2);
        await withAdminClient(async (watcher) => {
          for (;;) {
            const { rows } = await watcher.query(
              "SELECT 1 FROM pg_stat_activity WHERE application_name = 'steadfast-test' " +
                "AND wait_event_type = 'Lock'",
            );
            if (rows.length > 0) break;
            await new Promise((resolve) => setTimeout(resolve, 10));
          }
        });
        expect(await store.heartbeatWorker(worker, T0 + 1_000)).toBe(true);
        await store.registerWorker({ id: worker, host: "h", pid: 1, startedAt: 0 }, T0 + 2_000, 0);
        await admin.query("COMMIT");
        expect((await blocked).type).toBe("ok");
      });
      expect((await store.listWorkers()).map((w) => w.heartbeatAt)).toEqual([T0 + 2_000]);
    });
  });

  describe("subscribe", () => {
    /** A subscriber whose calls can be awaited. */
    function recorder() {
      const seen: number[] = [];
      let waiters: { match: (n: number) => boolean; resolve: () => void }[] = [];
      return {
        seen,
        listener: (runAt: number) => {
          seen.push(runAt);
          waiters = waiters.filter((w) => {
            if (!w.match(runAt)) return true;
            w.resolve();
            return false;
          });
        },
        next: (match: (n: number) => boolean) =>
          seen.some(match)
            ? Promise.resolve()
            : new Promise<void>((resolve) => waiters.push({ match, resolve })),
      };
    }

    it("wakes another store's subscriber with the earliest runAt, never echoing its own", async () => {
      const [a, b] = await sharedStores(2);
      await a!.migrate();
      const calls = new CallFactory(15);
      const onA = recorder();
      const onB = recorder();
      const unsubscribeA = a!.subscribe(onA.listener);
      const unsubscribeB = b!.subscribe(onB.listener);

      // Each store hears the other (through NOTIFY, or the catch-up after LISTEN if that came
      // later): both listen from here on.
      await a!.createCall(calls.call({ runAt: T0 + 5_000 }));
      await onB.next((n) => n === T0 + 5_000);
      await b!.createCall(calls.call({ runAt: T0 + 3_000 }));
      await onA.next((n) => n === T0 + 3_000);

      // 7,000 is never the earliest runAt, so only a NOTIFY can deliver it.
      await a!.createCall(calls.call({ runAt: T0 + 7_000 }));
      await onB.next((n) => n === T0 + 7_000);
      // Notifications arrive in commit order: had A heard its own 7,000, it would come first.
      await b!.createCall(calls.call({ runAt: T0 + 8_000 }));
      await onA.next((n) => n === T0 + 8_000);
      expect(onA.seen).not.toContain(T0 + 7_000);
      unsubscribeA();
      unsubscribeB();
    });

    it("notifies for follow-ups, released claims, redrives and woken destinations", async () => {
      const [a, b] = await sharedStores(2);
      await a!.migrate();
      const calls = new CallFactory(16);
      const onB = recorder();
      const unsubscribe = b!.subscribe(onB.listener);
      const probe = calls.call({ runAt: T0 + 1 });
      await a!.createCall(probe);
      await onB.next((n) => n === T0 + 1);

      const call = calls.call({ runAt: T0 + 2 });
      await a!.createCall(call);
      const claimed = await a!.claimDue({
        now: T0 + 10,
        limit: 2,
        leaseMs: LEASE_MS,
        workerId: "w" as WorkerId,
      });
      const [first, second] = claimed;
      const followUp = calls.call({ kind: "callback", parentId: first!.call.id, runAt: T0 + 20 });
      await a!.commitAttempt({ ...commitOf(first!, T0 + 20, failed(T0 + 20)), followUp });
      await onB.next((n) => n === T0 + 20);

      await a!.releaseClaims(
        [{ callId: second!.call.id, leaseToken: second!.leaseToken }],
        T0 + 30,
      );
      await onB.next((n) => n === T0 + 30);

      await a!.retryCall(TENANT_A, first!.call.id, T0 + 40, undefined);
      await onB.next((n) => n === T0 + 40);

      const [held] = await a!.claimDue({
        now: T0 + 41,
        limit: 1,
        leaseMs: LEASE_MS,
        workerId: "w" as WorkerId,
      });
      const ref = { callId: held!.call.id, leaseToken: held!.leaseToken };
      const api = "https://api.example.com";
      const waitingFor = { reason: "circuit_open", message: "open", destination: api } as const;
      expect(await a!.deferCall(ref, T0 + 60_000, waitingFor, T0 + 42)).toBe(true);
      expect(await a!.wakeDestination(api, T0 + 50)).toBe(1);
      await onB.next((n) => n === T0 + 50);
      unsubscribe();
    });
  });
});
