// Row mapping shared by the SQLite and PostgreSQL stores: both name their columns alike
// (snake_case), keep JSON documents as text, and store epoch milliseconds as integers. Only the
// booleans differ (SQLite 0/1, PostgreSQL true/false). An attempt's `sent` is two columns: `sent`
// (it may have reached the upstream) and `sent_unknown` (nothing recorded whether it was sent).
import type {
  AttemptDecision,
  AttemptOutcome,
  AttemptRecord,
  AttemptSent,
  CallError,
  CallKind,
  CallRecord,
  CallSpec,
  CallStatus,
  StoredResponse,
  WaitCode,
} from "../core/call.ts";
import type { CallId, RunUid, TenantId, WorkerId } from "../core/ids.ts";
import type { NewCall, StoredDestination, WorkerRecord } from "../core/store.ts";

/** A row as a driver returns it, column name to value. */
export type Row = Readonly<Record<string, unknown>>;

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
    crashesInARow: 0,
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
    crashesInARow: Number(row.crashes_in_a_row),
    createdAt: row.created_at as number,
    updatedAt: row.updated_at as number,
  };
  if (row.parent_id !== null) record.parentId = row.parent_id as CallId;
  // Absent from the select lists of stores that predate runs: no parent run.
  if (row.parent_run !== null && row.parent_run !== undefined) {
    record.parentRun = row.parent_run as RunUid;
  }
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

/** The `attempts` columns, in table order: what `attemptFromRow` reads and a full insert binds. */
export const ATTEMPT_COLUMNS = [
  "call_id",
  "number",
  "started_at",
  "duration_ms",
  "connect_ms",
  "first_byte_ms",
  "outcome",
  "sent",
  "sent_unknown",
  "decision",
] as const;

/** An `attempts` row as an `AttemptRecord`. */
export function attemptFromRow(row: Row): AttemptRecord {
  const record: AttemptRecord = {
    callId: row.call_id as CallId,
    number: row.number as number,
    startedAt: row.started_at as number,
    durationMs: row.duration_ms as number,
    outcome: JSON.parse(row.outcome as string) as AttemptOutcome,
    sent: sentFromColumns(row.sent, row.sent_unknown),
    decision: JSON.parse(row.decision as string) as AttemptDecision,
  };
  if (row.connect_ms !== null) record.connectMs = row.connect_ms as number;
  if (row.first_byte_ms !== null) record.firstByteMs = row.first_byte_ms as number;
  return record;
}

/** `AttemptRecord.sent` as the `sent` and `sent_unknown` columns store it (`true`/`1` or not). */
export function sentColumns(sent: AttemptSent): { sent: boolean; sentUnknown: boolean } {
  return { sent: sent !== false, sentUnknown: sent === "unknown" };
}

function sentFromColumns(sent: unknown, sentUnknown: unknown): AttemptSent {
  if (sentUnknown === true || sentUnknown === 1) return "unknown";
  return sent === true || sent === 1;
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

/** A `workers` row as a `WorkerRecord`. */
export function workerFromRow(row: Row): WorkerRecord {
  const record: WorkerRecord = {
    id: row.id as WorkerId,
    host: row.host as string,
    pid: Number(row.pid),
    startedAt: Number(row.started_at),
    heartbeatAt: Number(row.heartbeat_at),
  };
  if (row.pid_scope !== null) record.pidScope = row.pid_scope as string;
  if (row.stopped_at !== null) record.stoppedAt = Number(row.stopped_at);
  return record;
}
