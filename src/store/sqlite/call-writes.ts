// The engine's writes on calls: create (the wide `calls` row and its `work` row) and commit an
// attempt. A commit that leaves the call live (a retry scheduled) writes only its work row; one
// that ends it deletes the work row and writes the end columns of `calls`, once (migration 0009).
// Each function is synchronous and runs inside the group-commit transaction (see
// group-commit.ts), so its statements are atomic together. Claims: claim-writes.ts.
import { StoreError } from "../../core/errors.ts";
import type { AttemptCommit, ChildCall, CreateCallResult, NewCall } from "../../core/store.ts";
import { CALL_COLUMNS, CALLS_WITH_WORK } from "./call-select.ts";
import {
  ATTEMPT_COLUMNS,
  attemptInsertParams,
  CALL_INSERT_COLUMNS,
  callFromRow,
  callInsertParams,
  newCallRecord,
  WORK_INSERT_COLUMNS,
  workInsertParams,
} from "./row-mapping.ts";
import { wakeParentRun } from "./run-wakes.ts";
import type { Prepare } from "./statement-cache.ts";

const INSERT_CALL =
  `INSERT INTO calls (${CALL_INSERT_COLUMNS.join(", ")}) ` +
  `VALUES (${CALL_INSERT_COLUMNS.map(() => "?").join(", ")}) ` +
  // Only a held idempotency key is tolerated; a duplicate id still fails.
  "ON CONFLICT (tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING";

const INSERT_WORK =
  `INSERT INTO work (${WORK_INSERT_COLUMNS.join(", ")}) ` +
  `VALUES (${WORK_INSERT_COLUMNS.map(() => "?").join(", ")})`;

const SELECT_BY_KEY =
  `SELECT ${CALL_COLUMNS} FROM ${CALLS_WITH_WORK} ` +
  "WHERE c.tenant_id = ? AND c.idempotency_key = ?";

/**
 * Inserts `call` as queued (or running under `claim`), or returns the call already holding its
 * idempotency key.
 */
export function insertCall(
  sql: Prepare,
  call: NewCall | ChildCall,
  claim?: { workerId: string; leaseExpiresAt: number },
): CreateCallResult {
  const { changes } = sql(INSERT_CALL).run(...callInsertParams(call, claim !== undefined));
  if (Number(changes) === 1) {
    sql(INSERT_WORK).run(...workInsertParams(call, claim));
    const record = newCallRecord(call);
    if (claim !== undefined) record.status = "running";
    if ("parentRun" in call) record.parentRun = call.parentRun;
    return { created: true, call: record };
  }
  const existing = sql(SELECT_BY_KEY).get(call.tenantId, call.idempotencyKey ?? null);
  if (existing === undefined) {
    throw new StoreError(
      "invariant_broken",
      `Call ${call.id} was neither inserted nor found by its idempotency key.`,
    );
  }
  return { created: false, call: callFromRow(existing) };
}

// A retry scheduled: the call stays live, and only its work row changes. An interrupted attempt
// (a graceful stop's) is not counted against maxAttempts and leaves the crash count; any other
// completed, which ends a run of crashes (see `Store.commitAttempt`).
const COMMIT_RETRY =
  "UPDATE work SET status = 'waiting', attempts = ?, attempt_base = attempt_base + ?, " +
  "crashes_in_a_row = CASE WHEN ? THEN crashes_in_a_row ELSE 0 END, " +
  "run_at = ?, wait_reason = ?, wait_code = NULL, wait_destination = NULL, " +
  "lease_expires_at = NULL, worker_id = NULL, updated_at = ? " +
  "WHERE id = ? AND status = 'running' AND lease_token = ?";

// The end of the work, if the claim still holds it: its row goes, with the counters to keep.
const END_WORK =
  "DELETE FROM work WHERE id = ? AND status = 'running' AND lease_token = ? " +
  "RETURNING attempt_base, crashes_in_a_row, lease_token";

/**
 * Writes the end columns of an ended call (its work row deleted in the same transaction), and
 * returns the run that started it, if one did: the caller wakes it (`wakeParentRun`).
 */
export const END_CALL =
  "UPDATE calls SET status = ?, attempts = ?, attempt_base = ?, crashes_in_a_row = ?, " +
  "response = ?, error = ?, completed_at = ?, idempotency_expires_at = ?, lease_token = ?, " +
  "updated_at = ? WHERE id = ? RETURNING parent_run";

/** Inserts an attempt, all columns. */
export const INSERT_ATTEMPT =
  `INSERT INTO attempts (${ATTEMPT_COLUMNS.join(", ")}) ` +
  `VALUES (${ATTEMPT_COLUMNS.map(() => "?").join(", ")})`;

/** Records an attempt and applies its transition if the lease is still held. */
export function commitAttempt(sql: Prepare, commit: AttemptCommit): boolean {
  const { attempt, transition, now } = commit;
  if (attempt.callId !== commit.callId) {
    throw new StoreError(
      "invariant_broken",
      `Attempt ${attempt.number} names call ${attempt.callId} but is committed for ` +
        `${commit.callId}: pass the same call id in both.`,
    );
  }
  const interrupted = attempt.outcome.type === "interrupted" ? 1 : 0;
  if (transition.status === "waiting") {
    const { changes } = sql(COMMIT_RETRY).run(
      attempt.number,
      interrupted,
      interrupted,
      transition.runAt,
      transition.reason,
      now,
      commit.callId,
      commit.leaseToken,
    );
    if (Number(changes) === 0) return false;
  } else {
    const ended = sql(END_WORK).get(commit.callId, commit.leaseToken);
    if (ended === undefined) return false;
    const { parent_run: parentRun } = sql(END_CALL).get(
      transition.status,
      attempt.number,
      Number(ended.attempt_base) + interrupted,
      interrupted === 1 ? Number(ended.crashes_in_a_row) : 0,
      transition.response === undefined ? null : JSON.stringify(transition.response),
      transition.status === "failed" ? JSON.stringify(transition.error) : null,
      now,
      transition.idempotencyExpiresAt,
      Number(ended.lease_token),
      now,
      commit.callId,
    )!;
    wakeParentRun(sql, parentRun, now);
  }
  sql(INSERT_ATTEMPT).run(...attemptInsertParams(attempt));
  if (commit.followUp !== undefined) insertCall(sql, commit.followUp);
  return true;
}
