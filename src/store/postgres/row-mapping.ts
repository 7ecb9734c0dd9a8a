// Mapping between PostgreSQL rows (snake_case columns, JSON as text, bigint parsed as number by
// the pool's type parser) and the camelCase records of src/core. SQL names stop here.
import type { NewCall } from "../../core/store.ts";
import { ATTEMPT_COLUMNS } from "../call-rows.ts";

/** A row as the pool returns it. */
export type Row = Record<string, unknown>;

const CALL_COLUMN_NAMES = [
  "id",
  "tenant_id",
  "kind",
  "parent_id",
  "status",
  "spec",
  "idempotency_key",
  "fingerprint",
  "forwarded_key",
  "attempts",
  "attempt_base",
  "crashes_in_a_row",
  "run_at",
  "wait_reason",
  "wait_code",
  "wait_destination",
  "deadline_at",
  "response",
  "error",
  "created_at",
  "updated_at",
  "completed_at",
  "lease_token",
] as const;

/**
 * The `calls` columns `callFromRow` reads, for SELECT and RETURNING lists, each prefixed with
 * `alias.` when given. Listed rather than `*`: a prepared statement returning `*` fails with
 * "cached plan must not change result type" once a later migration adds a column.
 */
export function callColumns(alias?: string): string {
  const prefix = alias === undefined ? "" : `${alias}.`;
  return CALL_COLUMN_NAMES.map((name) => prefix + name).join(", ");
}

/** The values of `call` for an `unnest(...)` insert, in `NEW_CALL_UNNEST` order. */
export function newCallRow(call: NewCall): unknown[] {
  return [
    call.id,
    call.tenantId,
    call.kind,
    call.parentId ?? null,
    JSON.stringify(call.spec),
    call.idempotencyKey ?? null,
    call.fingerprint ?? null,
    call.forwardedKey,
    call.runAt,
    call.deadlineAt ?? null,
    call.createdAt,
  ];
}

/** Rows of values turned into one array per column: the parameters of an `unnest(...)`. */
export function columnsOf(rows: readonly (readonly unknown[])[], width: number): unknown[][] {
  const columns = Array.from({ length: width }, () => new Array<unknown>(rows.length));
  for (const [r, row] of rows.entries()) {
    for (let c = 0; c < width; c++) columns[c]![r] = row[c];
  }
  return columns;
}

/** The column list and array types matching `newCallRow`, for `unnest(...) AS v(...)`. */
export const NEW_CALL_UNNEST = {
  columns:
    "id, tenant_id, kind, parent_id, spec, idempotency_key, fingerprint, forwarded_key, " +
    "run_at, deadline_at, created_at",
  types: [
    "text[]",
    "text[]",
    "text[]",
    "text[]",
    "text[]",
    "text[]",
    "text[]",
    "text[]",
    "bigint[]",
    "bigint[]",
    "bigint[]",
  ],
} as const;

/** The `attempts` columns `attemptFromRow` reads, each prefixed with `alias.` when given. */
export function attemptColumns(alias?: string): string {
  const prefix = alias === undefined ? "" : `${alias}.`;
  return ATTEMPT_COLUMNS.map((name) => prefix + name).join(", ");
}

/** The `destinations` columns `destinationFromRow` reads. */
export const DESTINATION_COLUMNS = "destination, state, limits, version, updated_at";

/**
 * Approximate parameter bytes of a new call, for batch sizing: its request body, which can be
 * large, plus a fixed allowance for the rest.
 */
export function newCallWeight(call: NewCall): number {
  return 1_024 + (call.spec.request.body?.length ?? 0);
}

export {
  attemptFromRow,
  callFromRow,
  destinationFromRow,
  newCallRecord,
  workerFromRow,
} from "../call-rows.ts";
