// Mapping between PostgreSQL rows (snake_case columns, JSON as text, bigint parsed as number by
// the pool's type parser) and the camelCase records of src/core. SQL names stop here.
import type { NewCall } from "../../core/store.ts";
import { ATTEMPT_COLUMNS } from "../call-rows.ts";

/** A row as the pool returns it. */
export type Row = Record<string, unknown>;

// The columns `callFromRow` reads: those kept in the wide `calls` row, and those a live call
// takes from its `work` row (migration 0008).
const CALL_COLUMN_NAMES = [
  "id",
  "tenant_id",
  "kind",
  "parent_id",
  "parent_run",
  "spec",
  "idempotency_key",
  "fingerprint",
  "forwarded_key",
  "deadline_at",
  "response",
  "error",
  "created_at",
  "completed_at",
] as const;

// Kept in `calls` as the ended call's values, and in `work` while the call is live.
const LIVE_OR_ENDED_COLUMNS = [
  "status",
  "attempts",
  "attempt_base",
  "crashes_in_a_row",
  "updated_at",
  "lease_token",
] as const;

// Only in `work`: NULL once the call has ended.
const LIVE_ONLY_COLUMNS = [
  ["run_at", "bigint"],
  ["wait_reason", "text"],
  ["wait_code", "text"],
  ["wait_destination", "text"],
] as const;

/**
 * The columns `callFromRow` reads, for SELECT and RETURNING lists: the wide row's from `alias`
 * (a `calls` row, or a RETURNING of one), and the live state from `work`, the alias of its
 * (LEFT JOINed) `work` row, when the call is live. Without `work`, the call is read as ended.
 * Listed rather than `*`: a prepared statement returning `*` fails with "cached plan must not
 * change result type" once a later migration adds a column.
 */
export function callColumns(alias: string, work?: string): string {
  const wide = CALL_COLUMN_NAMES.map((name) => `${alias}.${name}`);
  const either = LIVE_OR_ENDED_COLUMNS.map((name) =>
    work === undefined
      ? `${alias}.${name}`
      : `CASE WHEN ${work}.id IS NULL THEN ${alias}.${name} ELSE ${work}.${name} END AS ${name}`,
  );
  const live = LIVE_ONLY_COLUMNS.map(([name, type]) =>
    work === undefined ? `NULL::${type} AS ${name}` : `${work}.${name}`,
  );
  return [...wide, ...either, ...live].join(", ");
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
