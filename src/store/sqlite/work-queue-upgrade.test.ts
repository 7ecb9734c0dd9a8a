import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { AttemptRecord, CallRecord, CallStatus } from "../../core/call.ts";
import type { CallId, WorkerId } from "../../core/ids.ts";
import type { NewCall } from "../../core/store.ts";
import {
  attempt,
  CallFactory,
  commitOf,
  ERROR,
  LEASE_MS,
  RESPONSE,
  RETENTION_MS,
  succeeded,
  T0,
  TENANT_A,
} from "../contract/fixtures.ts";
import { readMigrations } from "../migrations/read-migrations.ts";
import { applyMigrations, SQLITE_MIGRATIONS_DIR } from "./apply-migrations.ts";
import { INSERT_ATTEMPT } from "./call-writes.ts";
import { insertRow, legacyCallRow, type Columns } from "./legacy-rows.test-support.ts";
import { attemptFromRow, attemptInsertParams, callFromRow } from "./row-mapping.ts";
import { SqliteStore } from "./sqlite-store.ts";

const OLD_OWNER = "worker-old" as WorkerId;
const NEW_OWNER = "worker-new" as WorkerId;
const HELD_BY = "https://a.example";

let dir: string;
let path: string;
let store: SqliteStore | undefined;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "steadfast-work-upgrade-"));
  path = join(dir, "steadfast.db");
});
afterEach(async () => {
  await store?.close();
  store = undefined;
  rmSync(dir, { recursive: true, force: true });
});

/** The calls of the database before the upgrade, one per state, by name. */
interface LegacyCalls {
  queued: NewCall;
  running: NewCall;
  held: NewCall;
  retrying: NewCall;
  succeeded: NewCall;
  failed: NewCall;
  cancelled: NewCall;
  callback: NewCall;
}

/**
 * A database at migration 0008 holding a call in each state, its attempts, and a queued callback,
 * as the store wrote them before the work table (migration 0009).
 */
function legacyDatabase(): LegacyCalls {
  const before = join(dir, "before");
  cpSync(SQLITE_MIGRATIONS_DIR, before, { recursive: true });
  for (const m of readMigrations(before)) if (m.version > 8) rmSync(join(before, m.file));
  const db = new DatabaseSync(path);
  applyMigrations(db, before);
  const factory = new CallFactory(21);
  const make = (overrides: Partial<NewCall> = {}) => factory.call(overrides);
  const calls: LegacyCalls = {
    queued: make(),
    running: make(),
    held: make(),
    retrying: make(),
    succeeded: make({ idempotencyKey: "order-5" }),
    failed: make(),
    cancelled: make(),
    callback: make(),
  };
  calls.callback = { ...calls.callback, kind: "callback", parentId: calls.succeeded.id };
  const ended = (at: number): Columns => ({
    run_at: null,
    completed_at: at,
    idempotency_expires_at: at + RETENTION_MS,
    updated_at: at,
  });
  const rows: [NewCall, Columns, number][] = [
    [calls.queued, {}, 0],
    [
      calls.running,
      {
        status: "running",
        attempts: 1,
        attempt_base: 1,
        crashes_in_a_row: 1,
        lease_token: 3,
        lease_expires_at: T0 + LEASE_MS,
        worker_id: OLD_OWNER,
        updated_at: T0 + 100,
      },
      1,
    ],
    [
      calls.held,
      {
        status: "waiting",
        attempts: 1,
        lease_token: 2,
        run_at: T0 + 60_000,
        wait_reason: "circuit open for a.example",
        wait_code: "circuit_open",
        wait_destination: HELD_BY,
        updated_at: T0 + 200,
      },
      1,
    ],
    [
      calls.retrying,
      {
        status: "waiting",
        attempts: 2,
        lease_token: 2,
        run_at: T0 + 5_000,
        wait_reason: "retry after 503",
        updated_at: T0 + 300,
      },
      2,
    ],
    [
      calls.succeeded,
      {
        status: "succeeded",
        attempts: 1,
        lease_token: 1,
        response: JSON.stringify(RESPONSE),
        ...ended(T0 + 400),
      },
      1,
    ],
    [
      calls.failed,
      {
        status: "failed",
        attempts: 3,
        lease_token: 3,
        response: JSON.stringify(RESPONSE),
        error: JSON.stringify(ERROR),
        ...ended(T0 + 500),
      },
      3,
    ],
    [calls.cancelled, { status: "cancelled", lease_token: 1, ...ended(T0 + 600) }, 0],
    [calls.callback, { run_at: T0 + 400 }, 0],
  ];
  for (const [call, overrides, attempts] of rows) {
    insertRow(db, "calls", legacyCallRow(call, overrides));
    for (let n = 1; n <= attempts; n++) {
      db.prepare(INSERT_ATTEMPT).run(...attemptInsertParams(attempt(call.id, n, T0 + n * 10)));
    }
  }
  db.close();
  return calls;
}

/** What the store read before the upgrade: `SELECT * FROM calls` and attempts, mapped. */
function readLegacy(): { calls: CallRecord[]; attempts: Map<CallId, AttemptRecord[]> } {
  const db = new DatabaseSync(path);
  try {
    const calls = db.prepare("SELECT * FROM calls ORDER BY id DESC").all().map(callFromRow);
    const attempts = new Map<CallId, AttemptRecord[]>();
    for (const call of calls) {
      const rows = db.prepare("SELECT * FROM attempts WHERE call_id = ? ORDER BY number");
      attempts.set(call.id, rows.all(call.id).map(attemptFromRow));
    }
    return { calls, attempts };
  } finally {
    db.close();
  }
}

async function upgraded(): Promise<SqliteStore> {
  store = SqliteStore.open({ path });
  await store.migrate();
  return store;
}

const claimDue = (s: SqliteStore, now: number) =>
  s.claimDue({ now, limit: 10, leaseMs: LEASE_MS, workerId: NEW_OWNER });

describe("SQLite migration 0009 (the work queue table)", () => {
  it("reads every call, attempt and callback delivery as before", async () => {
    const calls = legacyDatabase();
    const before = readLegacy();
    expect(before.calls.map((c) => c.status).sort()).toEqual(
      [
        "cancelled",
        "failed",
        "queued",
        "queued",
        "running",
        "succeeded",
        "waiting",
        "waiting",
      ].sort(),
    );
    const s = await upgraded();
    for (const call of before.calls) {
      expect(await s.getCall(TENANT_A, call.id)).toStrictEqual(call);
      expect(await s.listAttempts(TENANT_A, call.id)).toStrictEqual(before.attempts.get(call.id));
    }
    const listed = (kind: "call" | "callback", status?: CallStatus) =>
      before.calls.filter((c) => c.kind === kind && (status === undefined || c.status === status));
    for (const kind of ["call", "callback"] as const) {
      expect(await s.listCalls(TENANT_A, { kind, limit: 20 })).toStrictEqual(listed(kind));
      for (const status of [
        "queued",
        "running",
        "waiting",
        "succeeded",
        "failed",
        "cancelled",
      ] as const) {
        expect(await s.listCalls(TENANT_A, { kind, status, limit: 20 })).toStrictEqual(
          listed(kind, status),
        );
      }
    }
    const callback = before.calls.find((c) => c.id === calls.callback.id);
    expect(await s.getCallbackDelivery(TENANT_A, calls.succeeded.id)).toStrictEqual({
      call: callback,
    });
  });

  it("moves each live call, and only those, into the work table with its token and counters", async () => {
    const calls = legacyDatabase();
    await (await upgraded()).close();
    store = undefined;
    const db = new DatabaseSync(path);
    try {
      const work = db
        .prepare(
          "SELECT id, status, lease_token, attempts, attempt_base, crashes_in_a_row, worker_id " +
            "FROM work ORDER BY id",
        )
        .all()
        .map((row) => ({ ...row }));
      const expected = [
        [calls.queued, "queued", 0, 0, 0, 0, null],
        [calls.running, "running", 3, 1, 1, 1, OLD_OWNER],
        [calls.held, "waiting", 2, 1, 0, 0, null],
        [calls.retrying, "waiting", 2, 2, 0, 0, null],
        [calls.callback, "queued", 0, 0, 0, 0, null],
      ] as const;
      expect(work).toEqual(
        expected.map(([call, status, token, attempts, base, crashes, worker]) => ({
          id: call.id,
          status,
          lease_token: token,
          attempts,
          attempt_base: base,
          crashes_in_a_row: crashes,
          worker_id: worker,
        })),
      );
      const columns = db.prepare("SELECT name FROM pragma_table_info('calls')").all();
      expect(columns.map((c) => c.name)).not.toContain("run_at");
    } finally {
      db.close();
    }
  });

  it("claims the live calls as before: due ones, held ones when woken, and the running one from its owner", async () => {
    const calls = legacyDatabase();
    const s = await upgraded();
    expect(await s.nextWakeAt()).toBe(calls.queued.runAt);

    // Due: the queued call and the callback, with their first token.
    const due = await claimDue(s, T0 + 1_000);
    expect(due.map((c) => [c.call.id, c.call.status, c.leaseToken])).toEqual([
      [calls.queued.id, "running", 1],
      [calls.callback.id, "running", 1],
    ]);

    // The running call is still its owner's, under its token, until its owner is stopped.
    const ownerRef = { callId: calls.running.id, leaseToken: 3 };
    expect(await s.renewLeases([ownerRef], T0 + LEASE_MS, T0 + 1_000)).toEqual([]);
    expect(await s.renewLeases([{ ...ownerRef, leaseToken: 2 }], T0 + LEASE_MS, T0)).toEqual([
      { ...ownerRef, leaseToken: 2 },
    ]);
    expect(await s.stopWorkers([{ id: OLD_OWNER }], T0 + 2_000, LEASE_MS)).toEqual({
      stopped: [],
      claimsEnded: 1,
    });
    const [takeover] = await claimDue(s, T0 + 2_000);
    expect(takeover).toMatchObject({
      takenOver: true,
      leaseToken: 4,
      call: { id: calls.running.id, attempts: 2, attemptBase: 2, crashesInARow: 2 },
    });
    const cutOff = (await s.listAttempts(TENANT_A, calls.running.id))!.at(-1);
    expect(cutOff).toMatchObject({ number: 2, startedAt: T0 + 100, sent: "unknown" });
    const late = commitOf({ ...takeover!, leaseToken: 3 }, T0 + 2_100, succeeded(T0 + 2_100));
    expect(await s.commitAttempt(late)).toBe(false);

    // The call waiting for its retry is due at its time, and goes on counting.
    expect(await claimDue(s, T0 + 4_999)).toEqual([]);
    const [retry] = await claimDue(s, T0 + 5_000);
    expect(retry).toMatchObject({ leaseToken: 3, call: { id: calls.retrying.id, attempts: 2 } });
    expect(retry!.heldFor).toBeUndefined();
    expect(await s.commitAttempt(commitOf(retry!, T0 + 5_100, succeeded(T0 + 5_100)))).toBe(true);
    expect(await s.getCall(TENANT_A, calls.retrying.id)).toMatchObject({
      status: "succeeded",
      attempts: 3,
      completedAt: T0 + 5_100,
    });

    // The held call is woken by its destination.
    expect(await s.wakeDestination(HELD_BY, T0 + 6_000)).toBe(1);
    const [held] = await claimDue(s, T0 + 6_000);
    expect(held).toMatchObject({ leaseToken: 3, call: { id: calls.held.id, attempts: 1 } });

    // The failed call is redriven, its claims above its last token; the ended ones are not.
    const redriven = await s.retryCall(TENANT_A, calls.failed.id, T0 + 7_000, undefined);
    expect(redriven).toMatchObject({
      type: "ok",
      call: { status: "queued", attempts: 3, attemptBase: 3, runAt: T0 + 7_000 },
    });
    const [again] = await claimDue(s, T0 + 7_000);
    expect(again).toMatchObject({ leaseToken: 4, call: { id: calls.failed.id } });
    for (const ended of [calls.succeeded, calls.cancelled]) {
      const retried = await s.retryCall(TENANT_A, ended.id, T0 + 7_000, undefined);
      expect(retried.type).toBe("invalid_state");
    }
    expect(await claimDue(s, T0 + 8_000)).toEqual([]);

    // The succeeded call still holds its idempotency key.
    const duplicate = new CallFactory(99).call({ idempotencyKey: "order-5" });
    expect(await s.createCall(duplicate)).toMatchObject({
      created: false,
      call: { id: calls.succeeded.id, status: "succeeded" },
    });
  });
});
