// Row mapping shared by the SQLite and PostgreSQL stores: both name their columns alike
// (snake_case), keep JSON documents as text, and store epoch milliseconds as integers. Only the
// boolean `sent` differs (SQLite 0/1, PostgreSQL true/false).
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
} from "../core/call.ts";
import type { CallId, TenantId, WorkerId } from "../core/ids.ts";
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
    sent: row.sent === true || row.sent === 1,
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
