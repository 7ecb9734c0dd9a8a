// Rows as older Steadfast versions wrote them, for tests that upgrade a database: written with
// plain SQL, since the current store code writes the current schema only.
import type { SQLInputValue } from "node:sqlite";
import type { DatabaseSync } from "node:sqlite";
import type { NewCall } from "../../core/store.ts";

/** Column name to value. */
export type Columns = Record<string, SQLInputValue>;

/** Inserts one row of `columns` into `table`. */
export function insertRow(db: DatabaseSync, table: string, columns: Columns): void {
  const names = Object.keys(columns);
  db.prepare(
    `INSERT INTO ${table} (${names.join(", ")}) VALUES (${names.map(() => "?").join(", ")})`,
  ).run(...Object.values(columns));
}

/**
 * The `calls` row that `createCall` wrote for `call` before migration 0009 (queued, due at
 * `runAt`, lease token 0), with `overrides` applied (to put it in another state).
 */
export function legacyCallRow(call: NewCall, overrides: Columns = {}): Columns {
  return {
    id: call.id,
    tenant_id: call.tenantId,
    kind: call.kind,
    parent_id: call.parentId ?? null,
    status: "queued",
    spec: JSON.stringify(call.spec),
    idempotency_key: call.idempotencyKey ?? null,
    fingerprint: call.fingerprint ?? null,
    forwarded_key: call.forwardedKey,
    run_at: call.runAt,
    deadline_at: call.deadlineAt ?? null,
    created_at: call.createdAt,
    updated_at: call.createdAt,
    ...overrides,
  };
}
