import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { WorkerId } from "../../core/ids.ts";
import pg from "pg";
import {
  CallFactory,
  claimRun,
  commitOf,
  LEASE_MS,
  RESPONSE,
  RunFactory,
  succeeded,
  T0,
  TENANT_A,
} from "../contract/fixtures.ts";
import { readMigrations } from "../migrations/read-migrations.ts";
import { POSTGRES_MIGRATIONS_DIR } from "./apply-migrations.ts";
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

describe("PostgreSQL migration 0010 (runs)", () => {
  it("upgrades a schema at 0009 with live calls: they keep their claims and work, runs start", async () => {
    const dir = mkdtempSync(join(tmpdir(), "steadfast-pg-runs-upgrade-"));
    cleanups.push(() => Promise.resolve(rmSync(dir, { recursive: true, force: true })));
    cpSync(POSTGRES_MIGRATIONS_DIR, dir, { recursive: true });
    for (const m of readMigrations(dir)) if (m.version > 9) rmSync(join(dir, m.file));
    const schema = testSchemaName();
    cleanups.push(() => dropSchema(schema));
    const { store: old } = await openTestStore({ schema, migrationsDir: dir });
    await old.migrate();
    await old.close();
    // Live calls as the 0009 store wrote them (its code reads columns 0010 adds, so by hand):
    // queued, running under a lease, waiting for a retry; and an ended one.
    const calls = new CallFactory(91);
    const worker = "worker-old";
    const rows = [
      { call: calls.call(), status: "queued", runAt: T0 + 13, token: 1 },
      { call: calls.call(), status: "running", runAt: T0 + 2, token: 2, lease: T0 + LEASE_MS },
      { call: calls.call(), status: "waiting", runAt: T0 + 5_000, token: 1, attempts: 1 },
      { call: calls.call(), status: "succeeded", token: 1, attempts: 1 },
    ] as const;
    await withAdminClient(async (client) => {
      const s = pg.escapeIdentifier(schema);
      for (const row of rows) {
        const { call } = row;
        await client.query(
          `INSERT INTO ${s}.calls (id, tenant_id, kind, status, spec, forwarded_key, attempts, ` +
            "lease_token, created_at, updated_at, completed_at, response) " +
            "VALUES ($1, $2, 'call', $3, $4, $5, $6, $7, $8, $8, $9, $10)",
          [
            call.id,
            TENANT_A,
            row.status,
            JSON.stringify(call.spec),
            call.forwardedKey,
            "attempts" in row ? row.attempts : 0,
            row.token,
            call.createdAt,
            row.status === "succeeded" ? T0 + 11 : null,
            row.status === "succeeded" ? JSON.stringify(RESPONSE) : null,
          ],
        );
        if (row.status === "succeeded") continue;
        await client.query(
          `INSERT INTO ${s}.work (id, kind, tenant_id, status, run_at, lease_token, ` +
            "lease_expires_at, worker_id, attempts, attempt_base, crashes_in_a_row, updated_at) " +
            "VALUES ($1, 'call', $2, $3, $4, $5, $6, $7, $8, 0, 0, $9)",
          [
            call.id,
            TENANT_A,
            row.status,
            row.runAt,
            row.token,
            "lease" in row ? row.lease : null,
            "lease" in row ? worker : null,
            "attempts" in row ? row.attempts : 0,
            call.createdAt,
          ],
        );
      }
    });
    const [queued, held, retrying, ended] = rows.map((row) => row.call);

    const { store } = await openTestStore({ schema });
    cleanups.push(() => store.close());
    await store.migrate();
    expect(await store.getCall(TENANT_A, ended!.id)).toMatchObject({
      status: "succeeded",
      response: RESPONSE,
    });
    expect(await store.getCall(TENANT_A, retrying!.id)).toMatchObject({
      status: "waiting",
      runAt: T0 + 5_000,
      attempts: 1,
    });
    expect(await store.nextWakeAt()).toBe(T0 + 13);

    // Runs start beside them, and stay off the calls' queue.
    const runs = new RunFactory(92);
    const run = runs.run({ createdAt: T0 + 1, runAt: T0 + 1 });
    expect((await store.createRun(run)).created).toBe(true);
    expect(await store.nextWakeAt()).toBe(T0 + 13);
    expect((await claimRun(store, T0 + 20)).run.uid).toBe(run.uid);

    // The running call is still its owner's (its token renews); the others are claimed.
    const heldRef = { callId: held!.id, leaseToken: 2 };
    expect(await store.renewLeases([heldRef], T0 + LEASE_MS, T0 + 20)).toEqual([]);
    const now = T0 + 6_000;
    const workerId = "worker-new" as WorkerId;
    const claims = await store.claimDue({ now, limit: 10, leaseMs: LEASE_MS, workerId });
    expect(new Set(claims.map((c) => c.call.id))).toEqual(new Set([queued!.id, retrying!.id]));
    for (const claim of claims) {
      expect(claim.leaseToken).toBe(2);
      expect(await store.commitAttempt(commitOf(claim, now + 1, succeeded(now + 1)))).toBe(true);
      expect((await store.getCall(TENANT_A, claim.call.id))?.status).toBe("succeeded");
    }
  });
});
