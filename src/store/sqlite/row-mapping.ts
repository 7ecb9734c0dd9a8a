// Mapping between SQLite rows (snake_case columns, JSON as TEXT) and the camelCase records of
// src/core. SQL names stop here.
import type { SQLInputValue, SQLOutputValue } from "node:sqlite";
import type { AttemptRecord } from "../../core/call.ts";
import type { ChildCall, NewCall } from "../../core/store.ts";
import { sentColumns } from "../call-rows.ts";

/** A row as `node:sqlite` returns it. */
export type Row = Record<string, SQLOutputValue>;

/** Columns of `calls` in the order `callInsertParams` binds them. */
export const CALL_INSERT_COLUMNS = [
  "id",
  "tenant_id",
  "kind",
  "parent_id",
  "status",
  "spec",
  "idempotency_key",
  "fingerprint",
  "forwarded_key",
  "deadline_at",
  "created_at",
  "updated_at",
  "parent_run",
] as const;

/**
 * Parameters for inserting `call`'s wide row in `CALL_INSERT_COLUMNS` order: queued, or running
 * under a claim. Its live state is in its `work` row (`workInsertParams`).
 */
export function callInsertParams(call: NewCall | ChildCall, claimed: boolean): SQLInputValue[] {
  return [
    call.id,
    call.tenantId,
    call.kind,
    call.parentId ?? null,
    claimed ? "running" : "queued",
    JSON.stringify(call.spec),
    call.idempotencyKey ?? null,
    call.fingerprint ?? null,
    call.forwardedKey,
    call.deadlineAt ?? null,
    call.createdAt,
    call.createdAt,
    "parentRun" in call ? call.parentRun : null,
  ];
}

/** Columns of `work` in the order `workInsertParams` binds them. */
export const WORK_INSERT_COLUMNS = [
  "id",
  "kind",
  "tenant_id",
  "parent_id",
  "status",
  "run_at",
  "lease_token",
  "lease_expires_at",
  "worker_id",
  "updated_at",
] as const;

/**
 * Parameters for inserting `call`'s work row in `WORK_INSERT_COLUMNS` order: queued, or running
 * under `claim` (lease token 1, its claim starting at creation).
 */
export function workInsertParams(
  call: NewCall,
  claim?: { workerId: string; leaseExpiresAt: number },
): SQLInputValue[] {
  return [
    call.id,
    call.kind,
    call.tenantId,
    call.parentId ?? null,
    claim === undefined ? "queued" : "running",
    call.runAt,
    claim === undefined ? 0 : 1,
    claim?.leaseExpiresAt ?? null,
    claim?.workerId ?? null,
    call.createdAt,
  ];
}

/** Parameters for inserting `attempt`, in `ATTEMPT_COLUMNS` order. */
export function attemptInsertParams(attempt: AttemptRecord): SQLInputValue[] {
  const { sent, sentUnknown } = sentColumns(attempt.sent);
  return [
    attempt.callId,
    attempt.number,
    attempt.startedAt,
    attempt.durationMs,
    attempt.connectMs ?? null,
    attempt.firstByteMs ?? null,
    JSON.stringify(attempt.outcome),
    sent ? 1 : 0,
    sentUnknown ? 1 : 0,
    JSON.stringify(attempt.decision),
  ];
}

export {
  ATTEMPT_COLUMNS,
  attemptFromRow,
  callFromRow,
  destinationFromRow,
  newCallRecord,
  workerFromRow,
} from "../call-rows.ts";
