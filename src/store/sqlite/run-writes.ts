// The engine's writes on workflow runs (issue 11): create, claim, renew and release leases, and
// the fenced commits of a claimed run (its steps, its park, its end). A live run is a `work` row
// of kind 'run' (status, due time, lease and token, phase, wake-up flag); its wide `runs` row is
// written at create and at end (migration 0011). Each function is synchronous and runs inside the
// group-commit transaction (group-commit.ts), so its statements are atomic together.
//
// Fencing, as for calls: every claim increments work.lease_token, and every commit is conditional
// on status = 'running' AND the claim's token (and on the work row existing: the end deletes it).
import type { RunUid, WorkerId } from "../../core/ids.ts";
import type {
  CreateRunResult,
  InitialClaim,
  NewRun,
  RunClaim,
  RunEnd,
  RunPark,
  RunRef,
  StepBatch,
} from "../../core/store.ts";
import type { Checkpoint } from "../../core/workflow/checkpoint.ts";
import { checkEndedRun, endedRunRecord } from "../run-rows.ts";
import { insertCall } from "./call-writes.ts";
import { selectCheckpoints, selectRun, selectRunByUid } from "./run-reads.ts";
import {
  checkpointParams,
  dropValues,
  RUN_COLUMNS,
  runFromRow,
  STEP_ATTEMPT_COLUMNS,
  STEP_COLUMNS,
  stepAttemptParams,
  valueColumns,
} from "./run-rows.ts";
import { replaceEventWaits, wakeParentRun } from "./run-wakes.ts";
import type { Prepare } from "./statement-cache.ts";

const INSERT_RUN =
  "INSERT INTO runs (uid, tenant_id, id, workflow, input, input_ref, input_fingerprint, " +
  "parent_uid, parent_step, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

const INSERT_RUN_WORK =
  "INSERT INTO work (id, kind, tenant_id, status, run_at, lease_token, lease_expires_at, " +
  "worker_id, attempts, updated_at, workflow, phase) " +
  "VALUES (?, 'run', ?, ?, ?, ?, ?, ?, ?, ?, ?, 'forward')";

const TENANT_HAS_ID = "SELECT 1 AS found FROM runs WHERE tenant_id = ? AND id = ?";

/**
 * The tenant's run holding `run`'s id, if any (`created: false`). Looked up first (the
 * transaction is the only writer), so that nothing is written for a run that exists, not even its
 * out-of-line input.
 */
function existingRun(sql: Prepare, run: NewRun): CreateRunResult | undefined {
  if (sql(TENANT_HAS_ID).get(run.tenantId, run.id) === undefined) return undefined;
  return { created: false, run: selectRun(sql, run.tenantId, run.id)! };
}

/**
 * Creates `run` queued (or running under `claim`), or returns the tenant's run holding its id.
 * See `Store.createRun`.
 */
export function createRun(sql: Prepare, run: NewRun, claim?: InitialClaim): CreateRunResult {
  const existing = existingRun(sql, run);
  if (existing !== undefined) return existing;
  const [input, inputRef] = valueColumns(sql, run.uid, run.input);
  sql(INSERT_RUN).run(
    run.uid,
    run.tenantId,
    run.id,
    run.workflow,
    input,
    inputRef,
    run.inputFingerprint,
    run.parent?.uid ?? null,
    run.parent?.stepId ?? null,
    run.createdAt,
    run.createdAt,
  );
  sql(INSERT_RUN_WORK).run(
    run.uid,
    run.tenantId,
    claim === undefined ? "queued" : "running",
    claim === undefined ? (run.runAt ?? run.createdAt) : null,
    claim === undefined ? 0 : 1,
    claim?.leaseExpiresAt ?? null,
    claim?.workerId ?? null,
    claim === undefined ? 0 : 1,
    run.createdAt,
    run.workflow,
  );
  return { created: true, run: selectRunByUid(sql, run.uid)! };
}

const INSERT_ENDED_RUN =
  "INSERT INTO runs (uid, tenant_id, id, workflow, input, input_ref, input_fingerprint, " +
  "created_at, updated_at, status, phase, output, output_ref, error, fail_reason, " +
  "compensation, invocations, lease_token, ended_at) " +
  "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'forward', ?, ?, ?, ?, ?, 1, 1, ?)";

/**
 * Records `run` ended, with its steps, or returns the tenant's run holding its id. No work row:
 * it was never due. See `Store.createEndedRun`.
 */
export function createEndedRun(
  sql: Prepare,
  run: NewRun,
  end: RunEnd,
  batch: StepBatch,
  now: number,
): CreateRunResult {
  checkEndedRun(run, batch);
  const existing = existingRun(sql, run);
  if (existing !== undefined) return existing;
  const [input, inputRef] = valueColumns(sql, run.uid, run.input);
  const [output, outputRef] =
    end.status === "succeeded" ? valueColumns(sql, run.uid, end.output) : [null, null];
  const failed = end.status === "failed" ? end : undefined;
  sql(INSERT_ENDED_RUN).run(
    run.uid,
    run.tenantId,
    run.id,
    run.workflow,
    input,
    inputRef,
    run.inputFingerprint,
    run.createdAt,
    now,
    end.status,
    output,
    outputRef,
    failed === undefined ? null : JSON.stringify(failed.error),
    failed?.reason ?? null,
    failed?.compensation === undefined ? null : JSON.stringify(failed.compensation),
    now,
  );
  // A new run's steps: each inserted at the next position (the batch holds one per step).
  let position = 0;
  for (const checkpoint of batch.checkpoints) {
    sql(INSERT_STEP).run(
      run.uid,
      checkpoint.stepId,
      position++,
      ...checkpointParams(sql, run.uid, checkpoint),
    );
  }
  for (const attempt of batch.attempts) {
    sql(INSERT_STEP_ATTEMPT).run(run.uid, ...stepAttemptParams(attempt));
  }
  return { created: true, run: endedRunRecord(run, end, now) };
}

// Per workflow: its due parked runs by run_at, and its running runs whose lease expired by expiry,
// each on its partial index (calls and other workflows are never read).
const DUE_PARKED =
  "SELECT id, run_at AS due, 0 AS taken FROM work INDEXED BY work_run_due " +
  "WHERE kind = 'run' AND status IN ('queued', 'sleeping', 'waiting') AND workflow = ? " +
  "AND run_at <= ? ORDER BY run_at LIMIT ?";
const DUE_EXPIRED =
  "SELECT id, lease_expires_at AS due, 1 AS taken FROM work INDEXED BY work_run_lease " +
  "WHERE kind = 'run' AND status = 'running' AND workflow = ? AND lease_expires_at <= ? " +
  "ORDER BY lease_expires_at LIMIT ?";

// A claim spends a wake-up (woken) and counts an invocation (attempts); a takeover (the run was
// running) counts one more in a row without a commit (crashes_in_a_row).
const CLAIM =
  "UPDATE work SET status = 'running', lease_token = lease_token + 1, lease_expires_at = ?, " +
  "worker_id = ?, run_at = NULL, wait_code = NULL, woken = 0, attempts = attempts + 1, " +
  "crashes_in_a_row = crashes_in_a_row + (status = 'running'), " +
  "updated_at = ? WHERE id IN (SELECT value FROM json_each(?))";

const SELECT_CLAIMED =
  `SELECT ${RUN_COLUMNS}, w.lease_token AS claim_token FROM work w CROSS JOIN runs r ` +
  "ON r.uid = w.id WHERE w.id IN (SELECT value FROM json_each(?))";

/** Claims up to `limit` due runs of the named workflows. See `Store.claimDueRuns`. */
export function claimDueRuns(
  sql: Prepare,
  query: {
    now: number;
    limit: number;
    leaseMs: number;
    workerId: WorkerId;
    workflows: readonly string[];
  },
): RunClaim[] {
  const limit = Math.floor(query.limit);
  if (limit <= 0) return [];
  const due: { id: string; due: number; taken: boolean }[] = [];
  for (const workflow of new Set(query.workflows)) {
    for (const statement of [DUE_PARKED, DUE_EXPIRED]) {
      for (const row of sql(statement).all(workflow, query.now, limit)) {
        due.push({ id: row.id as string, due: Number(row.due), taken: row.taken === 1 });
      }
    }
  }
  if (due.length === 0) return [];
  due.sort((a, b) => a.due - b.due || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const chosen = due.slice(0, limit);
  const ids = JSON.stringify(chosen.map((d) => d.id));
  const leaseExpiresAt = query.now + query.leaseMs;
  sql(CLAIM).run(leaseExpiresAt, query.workerId, query.now, ids);
  const byId = new Map(
    sql(SELECT_CLAIMED)
      .all(ids)
      .map((row) => [row.uid as string, row]),
  );
  return chosen.map(({ id, taken }) => {
    const row = byId.get(id)!;
    const claim: RunClaim = {
      run: runFromRow(sql, row),
      checkpoints: selectCheckpoints(sql, id as RunUid),
      leaseToken: Number(row.claim_token),
      leaseExpiresAt,
    };
    if (taken) claim.takenOver = true;
    return claim;
  });
}

const RENEW =
  "UPDATE work SET lease_expires_at = ? " +
  "WHERE id = ? AND kind = 'run' AND status = 'running' AND lease_token = ?";

/** Extends the leases still held; returns the refs no longer held. See `Store.renewRunLeases`. */
export function renewRunLeases(
  sql: Prepare,
  refs: readonly RunRef[],
  leaseExpiresAt: number,
): RunRef[] {
  return refs.filter(
    (ref) => Number(sql(RENEW).run(leaseExpiresAt, ref.uid, ref.leaseToken).changes) === 0,
  );
}

const RELEASE =
  "UPDATE work SET status = 'queued', run_at = ?1, lease_expires_at = NULL, worker_id = NULL, " +
  "updated_at = ?1 WHERE id = ?2 AND kind = 'run' AND status = 'running' AND lease_token = ?3";

/** Gives claimed runs back, queued and due at `now`, in their phase. See `Store.releaseRuns`. */
export function releaseRuns(sql: Prepare, refs: readonly RunRef[], now: number): void {
  for (const ref of refs) sql(RELEASE).run(now, ref.uid, ref.leaseToken);
}

// The fence of every commit: the claim still owns the running run. Touches updated_at; a commit
// is progress (crashes_in_a_row starts again).
const HOLD =
  "UPDATE work SET updated_at = ?, crashes_in_a_row = 0 " +
  "WHERE id = ? AND kind = 'run' AND status = 'running' AND lease_token = ?";

/** Commits a batch of a claimed run's steps. See `Store.commitSteps`. */
export function commitSteps(sql: Prepare, ref: RunRef, batch: StepBatch, now: number): boolean {
  if (Number(sql(HOLD).run(now, ref.uid, ref.leaseToken).changes) === 0) return false;
  writeBatch(sql, ref.uid, batch);
  return true;
}

const HELD =
  "SELECT tenant_id, wait_events FROM work " +
  "WHERE id = ? AND kind = 'run' AND status = 'running' AND lease_token = ?";

// A run woken while it ran, or with an unseen event (?8), is due at once (no later than `now`).
const PARK =
  "UPDATE work SET status = ?1, wait_code = ?2, phase = ?3, " +
  "run_at = CASE WHEN woken = 1 OR ?8 THEN min(coalesce(?4, ?5), ?5) ELSE ?4 END, woken = 0, " +
  "wait_events = ?6, lease_expires_at = NULL, worker_id = NULL, crashes_in_a_row = 0, " +
  "updated_at = ?5 WHERE id = ?7";

// An event of one of the names (?2, JSON) received at or after ?3 whose id is not among ?4
// (JSON): one probe of events_by_name per name.
const UNSEEN_EVENT =
  "SELECT 1 AS found FROM events INDEXED BY events_by_name WHERE tenant_id = ?1 " +
  "AND name IN (SELECT value FROM json_each(?2)) AND received_at >= ?3 " +
  "AND id NOT IN (SELECT value FROM json_each(?4)) LIMIT 1";

/** Commits `batch` and parks the claimed run. See `Store.parkRun`. */
export function parkRun(
  sql: Prepare,
  ref: RunRef,
  park: RunPark,
  batch: StepBatch,
  now: number,
): boolean {
  const held = sql(HELD).get(ref.uid, ref.leaseToken);
  if (held === undefined) return false;
  writeBatch(sql, ref.uid, batch);
  const waitEvents = replaceEventWaits(
    sql,
    held.tenant_id as string,
    ref.uid,
    held.wait_events,
    park.events ?? [],
  );
  sql(PARK).run(
    park.status,
    park.status === "waiting" ? (park.waitCode ?? null) : null,
    park.phase,
    park.runAt ?? null,
    now,
    waitEvents,
    ref.uid,
    unseenEvent(sql, held.tenant_id as string, park) ? 1 : 0,
  );
  return true;
}

// Whether an event the park waits for arrived since the invocation read them (`park.eventsSeen`),
// read in the park's transaction: the group commit is the only writer, so no event can be
// recorded between this read and the park.
function unseenEvent(sql: Prepare, tenantId: string, park: RunPark): boolean {
  const { events = [], eventsSeen } = park;
  if (eventsSeen === undefined || events.length === 0) return false;
  const found = sql(UNSEEN_EVENT).get(
    tenantId,
    JSON.stringify([...new Set(events)]),
    eventsSeen.since,
    JSON.stringify(eventsSeen.ids),
  );
  return found !== undefined;
}

const END_WORK =
  "DELETE FROM work WHERE id = ? AND kind = 'run' AND status = 'running' AND lease_token = ? " +
  "RETURNING tenant_id, phase, attempts, lease_token, wait_events";

/** Writes the end columns of an ended run (its work row deleted); returns its parent's uid. */
export const END_RUN =
  "UPDATE runs SET status = ?, phase = ?, output = ?, output_ref = ?, error = ?, " +
  "fail_reason = ?, compensation = ?, invocations = ?, lease_token = ?, updated_at = ?, " +
  "ended_at = ? WHERE uid = ? RETURNING parent_uid";

/** Commits `batch` and ends the claimed run, waking its parent. See `Store.finishRun`. */
export function finishRun(
  sql: Prepare,
  ref: RunRef,
  end: RunEnd,
  batch: StepBatch,
  now: number,
): boolean {
  const ended = sql(END_WORK).get(ref.uid, ref.leaseToken);
  if (ended === undefined) return false;
  writeBatch(sql, ref.uid, batch);
  replaceEventWaits(sql, ended.tenant_id as string, ref.uid, ended.wait_events, []);
  const [output, outputRef] =
    end.status === "succeeded" ? valueColumns(sql, ref.uid, end.output) : [null, null];
  const failed = end.status === "failed" ? end : undefined;
  const { parent_uid: parent } = sql(END_RUN).get(
    end.status,
    ended.phase as string,
    output,
    outputRef,
    failed === undefined ? null : JSON.stringify(failed.error),
    failed?.reason ?? null,
    failed?.compensation === undefined ? null : JSON.stringify(failed.compensation),
    Number(ended.attempts),
    Number(ended.lease_token),
    now,
    now,
    ref.uid,
  )!;
  wakeParentRun(sql, parent, now);
  return true;
}

const STEP_OF =
  "SELECT position, output_ref, wait_ref FROM run_steps WHERE run_uid = ? AND step_id = ?";
const NEXT_POSITION =
  "SELECT coalesce(max(position), -1) + 1 AS next FROM run_steps WHERE run_uid = ?";
const INSERT_STEP =
  `INSERT INTO run_steps (run_uid, step_id, position, ${STEP_COLUMNS.join(", ")}) ` +
  `VALUES (?, ?, ?, ${STEP_COLUMNS.map(() => "?").join(", ")})`;
const UPDATE_STEP =
  `UPDATE run_steps SET ${STEP_COLUMNS.map((c) => `${c} = ?`).join(", ")} ` +
  "WHERE run_uid = ? AND step_id = ?";
const INSERT_STEP_ATTEMPT =
  `INSERT INTO run_step_attempts (run_uid, ${STEP_ATTEMPT_COLUMNS.join(", ")}) ` +
  `VALUES (?, ${STEP_ATTEMPT_COLUMNS.map(() => "?").join(", ")}) ON CONFLICT DO NOTHING`;

// The batch of a commit whose fence held: checkpoints upserted (a step keeps the position it was
// first recorded at; its old out-of-line values go), attempts appended, children created.
function writeBatch(sql: Prepare, uid: RunUid, batch: StepBatch): void {
  for (const checkpoint of batch.checkpoints) upsertCheckpoint(sql, uid, checkpoint);
  for (const attempt of batch.attempts) {
    sql(INSERT_STEP_ATTEMPT).run(uid, ...stepAttemptParams(attempt));
  }
  for (const call of batch.calls ?? []) insertCall(sql, call);
  for (const run of batch.runs ?? []) createRun(sql, run);
}

function upsertCheckpoint(sql: Prepare, uid: RunUid, checkpoint: Checkpoint): void {
  const existing = sql(STEP_OF).get(uid, checkpoint.stepId);
  if (existing === undefined) {
    const position = Number(sql(NEXT_POSITION).get(uid)!.next);
    sql(INSERT_STEP).run(
      uid,
      checkpoint.stepId,
      position,
      ...checkpointParams(sql, uid, checkpoint),
    );
    return;
  }
  sql(UPDATE_STEP).run(...checkpointParams(sql, uid, checkpoint), uid, checkpoint.stepId);
  dropValues(sql, [existing.output_ref, existing.wait_ref]);
}
