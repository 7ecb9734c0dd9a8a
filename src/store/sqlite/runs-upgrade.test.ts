import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { WorkerId } from "../../core/ids.ts";
import type { NewCall } from "../../core/store.ts";
import {
  CallFactory,
  claimRun,
  commitOf,
  LEASE_MS,
  NO_STEPS,
  RunFactory,
  runRef,
  succeeded,
  T0,
  TENANT_A,
  WORKFLOW,
} from "../contract/fixtures.ts";
import { readMigrations } from "../migrations/read-migrations.ts";
import { applyMigrations, SQLITE_MIGRATIONS_DIR } from "./apply-migrations.ts";
import { insertRow, type Columns } from "./legacy-rows.test-support.ts";
import { SqliteStore } from "./sqlite-store.ts";

const OLD_OWNER = "worker-old" as WorkerId;
const NEW_OWNER = "worker-new" as WorkerId;
const HELD_BY = "https://a.example";

let dir: string;
let path: string;
let store: SqliteStore | undefined;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "steadfast-runs-upgrade-"));
  path = join(dir, "steadfast.db");
});
afterEach(async () => {
  await store?.close();
  store = undefined;
  rmSync(dir, { recursive: true, force: true });
});

/** The live calls of the database before the upgrade, by state. */
interface LiveCalls {
  queued: NewCall;
  running: NewCall;
  held: NewCall;
}

/** The `calls` row and `work` row the store wrote for `call` at migration 0010, with overrides. */
function insertLiveCall(db: DatabaseSync, call: NewCall, work: Columns = {}): void {
  insertRow(db, "calls", {
    id: call.id,
    tenant_id: call.tenantId,
    kind: call.kind,
    status: "queued",
    spec: JSON.stringify(call.spec),
    forwarded_key: call.forwardedKey,
    created_at: call.createdAt,
    updated_at: call.createdAt,
  });
  insertRow(db, "work", {
    id: call.id,
    kind: call.kind,
    tenant_id: call.tenantId,
    status: "queued",
    run_at: call.runAt,
    lease_token: 0,
    updated_at: call.createdAt,
    ...work,
  });
}

/** A database at migration 0010 holding a queued, a running and a held call. */
function databaseAt0010(): LiveCalls {
  const before = join(dir, "before");
  cpSync(SQLITE_MIGRATIONS_DIR, before, { recursive: true });
  for (const m of readMigrations(before)) if (m.version > 10) rmSync(join(before, m.file));
  const db = new DatabaseSync(path);
  applyMigrations(db, before);
  const factory = new CallFactory(31);
  const calls: LiveCalls = {
    queued: factory.call({ runAt: T0 + 5 }),
    running: factory.call(),
    held: factory.call(),
  };
  insertLiveCall(db, calls.queued);
  insertLiveCall(db, calls.running, {
    status: "running",
    attempts: 1,
    lease_token: 3,
    lease_expires_at: T0 + LEASE_MS,
    worker_id: OLD_OWNER,
    updated_at: T0 + 100,
  });
  insertLiveCall(db, calls.held, {
    status: "waiting",
    attempts: 1,
    lease_token: 2,
    run_at: T0 + 60_000,
    wait_reason: "circuit open for a.example",
    wait_code: "circuit_open",
    wait_destination: HELD_BY,
    updated_at: T0 + 200,
  });
  db.close();
  return calls;
}

async function upgraded(): Promise<SqliteStore> {
  store = SqliteStore.open({ path });
  await store.migrate();
  return store;
}

describe("SQLite migration 0011 (workflow runs)", () => {
  it("keeps the live calls as they were, and they go on working", async () => {
    const calls = databaseAt0010();
    const s = await upgraded();
    expect(await s.getCall(TENANT_A, calls.queued.id)).toMatchObject({
      status: "queued",
      runAt: T0 + 5,
      attempts: 0,
    });
    expect(await s.getCall(TENANT_A, calls.held.id)).toMatchObject({
      status: "waiting",
      runAt: T0 + 60_000,
      waitCode: "circuit_open",
      waitDestination: HELD_BY,
      waitReason: "circuit open for a.example",
      updatedAt: T0 + 200,
    });
    const running = await s.getCall(TENANT_A, calls.running.id);
    expect(running).toMatchObject({ status: "running", attempts: 1 });
    expect(running?.parentRun).toBeUndefined();
    expect(
      (await s.listCalls(TENANT_A, { limit: 10, status: "waiting" })).map((c) => c.id),
    ).toEqual([calls.held.id]);
    expect(await s.nextWakeAt()).toBe(T0 + 5);

    // Runs share the queue table from now on, and stay off the call claims.
    const runs = new RunFactory(3);
    await s.createRun(runs.run({ runAt: T0 }));
    expect(await s.nextWakeAt()).toBe(T0 + 5);
    expect(await s.nextRunWakeAt([WORKFLOW])).toBe(T0);

    const now = T0 + LEASE_MS;
    const claims = await s.claimDue({ now, limit: 10, leaseMs: LEASE_MS, workerId: NEW_OWNER });
    expect(claims.map((c) => [c.call.id, c.leaseToken, c.takenOver ?? false])).toEqual([
      [calls.queued.id, 1, false],
      [calls.running.id, 4, true],
    ]);
    for (const claim of claims) {
      expect(await s.commitAttempt(commitOf(claim, now + 10, succeeded(now + 10)))).toBe(true);
    }
    expect(await s.wakeDestination(HELD_BY, now + 20)).toBe(1);
    expect(await s.cancelCall(TENANT_A, calls.held.id, now + 30, now + 30)).toMatchObject({
      type: "ok",
      call: { status: "cancelled" },
    });
    expect(await s.stopWorkers([{ id: NEW_OWNER }], now + 40, LEASE_MS)).toMatchObject({
      claimsEnded: 0,
    });

    const run = await claimRun(s, now + 50);
    expect(
      await s.finishRun(runRef(run), { status: "succeeded", output: "1" }, NO_STEPS, now + 60),
    ).toBe(true);
    expect(await s.nextWakeAt()).toBeUndefined();
    expect(await s.nextRunWakeAt([WORKFLOW])).toBeUndefined();
  });

  it("rebuilds the work table with every index of 0009 and the run indexes", async () => {
    databaseAt0010();
    await (await upgraded()).close();
    store = undefined;
    const db = new DatabaseSync(path);
    try {
      const indexes = db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'work'")
        .all()
        .map((row) => row.name as string)
        .filter((name) => !name.startsWith("sqlite_autoindex"));
      expect(indexes.sort()).toEqual([
        "work_due",
        "work_held",
        "work_lease",
        "work_list",
        "work_owner",
        "work_run_due",
        "work_run_lease",
      ]);
    } finally {
      db.close();
    }
  });
});
