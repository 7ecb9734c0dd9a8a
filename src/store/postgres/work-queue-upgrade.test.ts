import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import type { AttemptRecord, CallRecord, CallStatus } from "../../core/call.ts";
import type { CallId } from "../../core/ids.ts";
import { attemptFromRow, callFromRow } from "../call-rows.ts";
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
  WORKER,
} from "../contract/fixtures.ts";
import { readMigrations } from "../migrations/read-migrations.ts";
import { POSTGRES_MIGRATIONS_DIR } from "./apply-migrations.ts";
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

const DESTINATION = "https://api.example.com";
// Rows read as the store's pool reads them: bigint (epoch ms, tokens) as numbers.
const BIGINT_AS_NUMBER: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: "text" | "binary"): ((value: string) => unknown) =>
    oid === 20
      ? Number
      : (pg.types.getTypeParser(oid, format ?? "text") as (
          value: string,
        ) => unknown)) as pg.CustomTypesConfig["getTypeParser"],
};
const OLD_WORKER = "worker-old";

/** A `calls` row as migration 0007 left the table: every column, live ones included. */
interface OldCall {
  status: CallStatus;
  kind?: "call" | "callback";
  parentId?: CallId;
  idempotencyKey?: string;
  attempts?: number;
  attemptBase?: number;
  crashesInARow?: number;
  runAt?: number;
  waitReason?: string;
  waitCode?: string;
  waitDestination?: string;
  response?: string;
  error?: string;
  leaseToken: number;
  leaseExpiresAt?: number;
  workerId?: string;
  idempotencyExpiresAt?: number;
  updatedAt: number;
  completedAt?: number;
}

/** One call of each state, as the store before 0008 wrote it, by name. */
function oldCalls(calls: CallFactory): Map<string, { id: CallId; row: OldCall }> {
  const rows: Record<string, OldCall> = {
    queued: { status: "queued", runAt: T0 + 10, leaseToken: 0, updatedAt: T0 },
    running: {
      status: "running",
      attempts: 1,
      runAt: T0 + 1,
      leaseToken: 3,
      leaseExpiresAt: T0 + LEASE_MS,
      workerId: OLD_WORKER,
      updatedAt: T0 + 5,
    },
    held: {
      status: "waiting",
      attempts: 1,
      runAt: T0 + 60_000,
      waitReason: "circuit open for https://api.example.com",
      waitCode: "circuit_open",
      waitDestination: DESTINATION,
      leaseToken: 2,
      updatedAt: T0 + 6,
    },
    retrying: {
      status: "waiting",
      attempts: 2,
      attemptBase: 1,
      crashesInARow: 1,
      runAt: T0 + 2_000,
      waitReason: "retry after 503",
      leaseToken: 4,
      updatedAt: T0 + 7,
    },
    succeeded: {
      status: "succeeded",
      idempotencyKey: "order-1",
      attempts: 1,
      response: JSON.stringify(RESPONSE),
      leaseToken: 1,
      idempotencyExpiresAt: T0 + 8 + RETENTION_MS,
      updatedAt: T0 + 8,
      completedAt: T0 + 8,
    },
    failed: {
      status: "failed",
      attempts: 2,
      error: JSON.stringify(ERROR),
      leaseToken: 2,
      idempotencyExpiresAt: T0 + 9 + RETENTION_MS,
      updatedAt: T0 + 9,
      completedAt: T0 + 9,
    },
    cancelled: {
      status: "cancelled",
      leaseToken: 1,
      idempotencyExpiresAt: T0 + 10 + RETENTION_MS,
      updatedAt: T0 + 10,
      completedAt: T0 + 10,
    },
  };
  const named = new Map(
    Object.entries(rows).map(([name, row]) => [name, { id: calls.id(T0), row }]),
  );
  // The succeeded call's callback delivery, queued.
  named.set("callback", {
    id: calls.id(T0 + 1),
    row: {
      status: "queued",
      kind: "callback",
      parentId: named.get("succeeded")!.id,
      runAt: T0 + 8,
      leaseToken: 0,
      updatedAt: T0 + 8,
    },
  });
  return named;
}

/**
 * A schema made by the migrations before 0008 holding `calls` (and an attempt for each attempt
 * they count); what the store then read of each call and its attempts (`callFromRow` of the
 * row, as that store's getCall did); then the store, migrated to the current schema.
 */
async function upgradedStore(calls: Map<string, { id: CallId; row: OldCall }>): Promise<{
  store: PostgresStore;
  before: Map<CallId, { call: CallRecord; attempts: AttemptRecord[] }>;
}> {
  const dir = mkdtempSync(join(tmpdir(), "steadfast-pg-work-upgrade-"));
  cleanups.push(() => Promise.resolve(rmSync(dir, { recursive: true, force: true })));
  cpSync(POSTGRES_MIGRATIONS_DIR, dir, { recursive: true });
  for (const m of readMigrations(dir)) if (m.version > 7) rmSync(join(dir, m.file));
  const schema = testSchemaName();
  cleanups.push(() => dropSchema(schema));
  const { store: old } = await openTestStore({ schema, migrationsDir: dir });
  await old.migrate();
  await old.close();
  const before = new Map<CallId, { call: CallRecord; attempts: AttemptRecord[] }>();
  await withAdminClient(async (client) => {
    const s = pg.escapeIdentifier(schema);
    for (const { id, row } of calls.values()) {
      await client.query(
        `INSERT INTO ${s}.calls (id, tenant_id, kind, parent_id, status, spec, ` +
          "idempotency_key, forwarded_key, attempts, attempt_base, crashes_in_a_row, run_at, " +
          "wait_reason, wait_code, wait_destination, response, error, lease_token, " +
          "lease_expires_at, worker_id, idempotency_expires_at, created_at, updated_at, " +
          "completed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, " +
          "$15, $16, $17, $18, $19, $20, $21, $22, $23, $24)",
        [
          id,
          TENANT_A,
          row.kind ?? "call",
          row.parentId ?? null,
          row.status,
          JSON.stringify(new CallFactory().call().spec),
          row.idempotencyKey ?? null,
          `steadfast-${id}`,
          row.attempts ?? 0,
          row.attemptBase ?? 0,
          row.crashesInARow ?? 0,
          row.runAt ?? null,
          row.waitReason ?? null,
          row.waitCode ?? null,
          row.waitDestination ?? null,
          row.response ?? null,
          row.error ?? null,
          row.leaseToken,
          row.leaseExpiresAt ?? null,
          row.workerId ?? null,
          row.idempotencyExpiresAt ?? null,
          T0,
          row.updatedAt,
          row.completedAt ?? null,
        ],
      );
      for (let n = 1; n <= (row.attempts ?? 0); n++) {
        const a = attempt(id, n, T0 + n);
        await client.query(
          `INSERT INTO ${s}.attempts (call_id, number, started_at, duration_ms, connect_ms, ` +
            "first_byte_ms, outcome, sent, decision) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
          [
            id,
            n,
            a.startedAt,
            a.durationMs,
            a.connectMs,
            a.firstByteMs,
            JSON.stringify(a.outcome),
            true,
            JSON.stringify(a.decision),
          ],
        );
      }
    }
    for (const { id } of calls.values()) {
      const call = await client.query({
        text: `SELECT * FROM ${s}.calls WHERE id = $1`,
        values: [id],
        types: BIGINT_AS_NUMBER,
      });
      const attempts = await client.query({
        text: `SELECT * FROM ${s}.attempts WHERE call_id = $1 ORDER BY number`,
        values: [id],
        types: BIGINT_AS_NUMBER,
      });
      before.set(id, {
        call: callFromRow(call.rows[0] as Record<string, unknown>),
        attempts: attempts.rows.map((r) => attemptFromRow(r as Record<string, unknown>)),
      });
    }
  });
  const { store } = await openTestStore({ schema });
  cleanups.push(() => store.close());
  await store.migrate();
  return { store, before };
}

describe("PostgreSQL migration 0008 (the work queue table)", () => {
  it("keeps every call reading the same: live ones from their new work row, ended ones from calls", async () => {
    const calls = oldCalls(new CallFactory(81));
    const { store, before } = await upgradedStore(calls);
    for (const [id, { call, attempts }] of before) {
      expect(await store.getCall(TENANT_A, id)).toEqual(call);
      expect(await store.listAttempts(TENANT_A, id)).toEqual(attempts);
    }
    const all = [...before.values()].map((b) => b.call);
    const newestFirst = (list: CallRecord[]) => [...list].sort((a, b) => (a.id < b.id ? 1 : -1));
    for (const kind of ["call", "callback"] as const) {
      const ofKind = all.filter((c) => c.kind === kind);
      expect(await store.listCalls(TENANT_A, { kind, limit: 100 })).toEqual(newestFirst(ofKind));
      for (const status of [
        "queued",
        "running",
        "waiting",
        "succeeded",
        "failed",
        "cancelled",
      ] as const) {
        expect(await store.listCalls(TENANT_A, { kind, status, limit: 100 })).toEqual(
          newestFirst(ofKind.filter((c) => c.status === status)),
        );
      }
    }
    const succeededId = calls.get("succeeded")!.id;
    expect((await store.getCallbackDelivery(TENANT_A, succeededId))?.call).toEqual(
      before.get(calls.get("callback")!.id)!.call,
    );
  });

  it("leaves live calls claimable with their tokens carried over, and ended ones unclaimable", async () => {
    const calls = oldCalls(new CallFactory(82));
    const { store } = await upgradedStore(calls);
    const id = (name: string) => calls.get(name)!.id;
    const token = (name: string) => calls.get(name)!.row.leaseToken;
    // The running call's claim is still held by its token: a renewal keeps it.
    const running = { callId: id("running"), leaseToken: token("running") };
    expect(await store.renewLeases([running], T0 + LEASE_MS, T0 + 20)).toEqual([]);
    expect(await store.nextWakeAt()).toBe(T0 + 8);

    // Past the running call's lease and the retry's due time, before the held call's.
    const now = T0 + LEASE_MS + 1;
    const claims = await store.claimDue({ now, limit: 10, leaseMs: LEASE_MS, workerId: WORKER });
    const byId = new Map(claims.map((c) => [c.call.id, c]));
    expect(new Set(byId.keys())).toEqual(
      new Set([id("queued"), id("running"), id("retrying"), id("callback")]),
    );
    for (const name of ["queued", "running", "retrying", "callback"]) {
      expect(byId.get(id(name))!.leaseToken).toBe(token(name) + 1);
    }
    const takenOver = byId.get(id("running"))!;
    expect(takenOver.takenOver).toBe(true);
    expect(takenOver.call.attempts).toBe(2);
    expect(byId.get(id("retrying"))!.call).toMatchObject({ attempts: 2, crashesInARow: 1 });
    // The old token is fenced now.
    expect(await store.renewLeases([running], now + LEASE_MS, now)).toEqual([running]);

    // The held call wakes with its destination, and was held for its wait code.
    expect(await store.wakeDestination(DESTINATION, now)).toBe(1);
    const [held] = await store.claimDue({ now, limit: 10, leaseMs: LEASE_MS, workerId: WORKER });
    expect(held).toMatchObject({ leaseToken: token("held") + 1 });
    expect(held!.call.id).toBe(id("held"));

    // Ended calls are not claimable; a redriven failed call is, with a newer token.
    expect((await store.retryCall(TENANT_A, id("failed"), now, undefined)).type).toBe("ok");
    const [redriven] = await store.claimDue({
      now,
      limit: 10,
      leaseMs: LEASE_MS,
      workerId: WORKER,
    });
    expect(redriven!.call.id).toBe(id("failed"));
    expect(redriven!.leaseToken).toBe(token("failed") + 1);
    expect(await store.claimDue({ now, limit: 10, leaseMs: LEASE_MS, workerId: WORKER })).toEqual(
      [],
    );

    // A claimed call commits and ends as before.
    expect(
      await store.commitAttempt(commitOf(byId.get(id("queued"))!, now + 1, succeeded(now + 1))),
    ).toBe(true);
    expect(await store.getCall(TENANT_A, id("queued"))).toMatchObject({
      status: "succeeded",
      attempts: 1,
      response: RESPONSE,
      completedAt: now + 1,
    });
  });
});
