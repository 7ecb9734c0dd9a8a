// Mapping between PostgreSQL rows (snake_case columns, JSON as text, bigint parsed as number by
// the pool's type parser) and the camelCase records of src/core. SQL names stop here.
import type {
  AttemptDecision,
  AttemptOutcome,
  AttemptRecord,
  CallError,
  CallKind,
  CallRecord,
  CallSpec,
  CallStatus,
  StoredResponse,
  WaitCode,
} from "../../core/call.ts";
import type { CallId, TenantId } from "../../core/ids.ts";
import type { NewCall, StoredDestination } from "../../core/store.ts";

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

/** The record of a call just inserted from `call`, without reading it back. */
export function newCallRecord(call: NewCall): CallRecord {
  const record: CallRecord = {
    id: call.id,
    tenantId: call.tenantId,
    kind: call.kind,
    status: "queued",
    spec: call.spec,
    forwardedKey: call.forwardedKey,
    attempts: 0,
    attemptBase: 0,
    runAt: call.runAt,
    createdAt: call.createdAt,
    updatedAt: call.createdAt,
  };
  if (call.parentId !== undefined) record.parentId = call.parentId;
  if (call.idempotencyKey !== undefined) record.idempotencyKey = call.idempotencyKey;
  if (call.fingerprint !== undefined) record.fingerprint = call.fingerprint;
  if (call.deadlineAt !== undefined) record.deadlineAt = call.deadlineAt;
  return record;
}

/** A `calls` row as a `CallRecord`. Absent optional fields are omitted, not `undefined`. */
export function callFromRow(row: Row): CallRecord {
  const record: CallRecord = {
    id: row.id as CallId,
    tenantId: row.tenant_id as TenantId,
    kind: row.kind as CallKind,
    status: row.status as CallStatus,
    spec: JSON.parse(row.spec as string) as CallSpec,
    forwardedKey: row.forwarded_key as string,
    attempts: row.attempts as number,
    attemptBase: row.attempt_base as number,
    createdAt: row.created_at as number,
    updatedAt: row.updated_at as number,
  };
  if (row.parent_id !== null) record.parentId = row.parent_id as CallId;
  if (row.idempotency_key !== null) record.idempotencyKey = row.idempotency_key as string;
  if (row.fingerprint !== null) record.fingerprint = row.fingerprint as string;
  if (row.run_at !== null) record.runAt = row.run_at as number;
  if (row.wait_reason !== null) record.waitReason = row.wait_reason as string;
  if (row.wait_code !== null) record.waitCode = row.wait_code as WaitCode;
  if (row.wait_destination !== null) record.waitDestination = row.wait_destination as string;
  if (row.deadline_at !== null) record.deadlineAt = row.deadline_at as number;
  if (row.response !== null) record.response = JSON.parse(row.response as string) as StoredResponse;
  if (row.error !== null) record.error = JSON.parse(row.error as string) as CallError;
  if (row.completed_at !== null) record.completedAt = row.completed_at as number;
  return record;
}

/** An `attempts` row as an `AttemptRecord`. */
export function attemptFromRow(row: Row): AttemptRecord {
  const record: AttemptRecord = {
    callId: row.call_id as CallId,
    number: row.number as number,
    startedAt: row.started_at as number,
    durationMs: row.duration_ms as number,
    outcome: JSON.parse(row.outcome as string) as AttemptOutcome,
    sent: row.sent === true,
    decision: JSON.parse(row.decision as string) as AttemptDecision,
  };
  if (row.connect_ms !== null) record.connectMs = row.connect_ms as number;
  if (row.first_byte_ms !== null) record.firstByteMs = row.first_byte_ms as number;
  return record;
}

/** A `destinations` row as a `StoredDestination`. */
export function destinationFromRow(row: Row): StoredDestination {
  return {
    destination: row.destination as string,
    state: JSON.parse(row.state as string) as unknown,
    limits: JSON.parse(row.limits as string) as StoredDestination["limits"],
    version: row.version as number,
    updatedAt: row.updated_at as number,
  };
}

/** The `attempts` columns `attemptFromRow` reads, each prefixed with `alias.` when given. */
export function attemptColumns(alias?: string): string {
  const prefix = alias === undefined ? "" : `${alias}.`;
  return [
    "call_id",
    "number",
    "started_at",
    "duration_ms",
    "connect_ms",
    "first_byte_ms",
    "outcome",
    "sent",
    "decision",
  ]
    .map((name) => prefix + name)
    .join(", ");
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
