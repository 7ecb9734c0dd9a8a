// Reads of workflow runs (issue 11): a run by uid or by tenant and id, with its steps and
// attempts, the listing (each query shape on an index, as for calls in call-listing.ts), and the
// next time a run of the named workflows becomes claimable.
import type { RunUid, TenantId } from "../../core/ids.ts";
import type { ListRunsQuery, RunDetail, RunRecord } from "../../core/store.ts";
import type { Checkpoint } from "../../core/workflow/checkpoint.ts";
import type { StepAttempt } from "../../core/workflow/step-attempt.ts";
import {
  checkpointFromRow,
  RUN_COLUMNS,
  RUNS_WITH_WORK,
  runFromRow,
  stepAttemptFromRow,
} from "./run-rows.ts";
import type { Prepare } from "./statement-cache.ts";

const BY_UID = `SELECT ${RUN_COLUMNS} FROM ${RUNS_WITH_WORK} WHERE r.uid = ?`;
const BY_ID = `SELECT ${RUN_COLUMNS} FROM ${RUNS_WITH_WORK} WHERE r.tenant_id = ? AND r.id = ?`;

/** The run with this uid, live or ended. */
export function selectRunByUid(sql: Prepare, uid: RunUid): RunRecord | undefined {
  const row = sql(BY_UID).get(uid);
  return row === undefined ? undefined : runFromRow(sql, row);
}

/** The tenant's run with this id, live or ended. */
export function selectRun(sql: Prepare, tenantId: TenantId, id: string): RunRecord | undefined {
  const row = sql(BY_ID).get(tenantId, id);
  return row === undefined ? undefined : runFromRow(sql, row);
}

const CHECKPOINTS = "SELECT * FROM run_steps WHERE run_uid = ? ORDER BY position";

/** The run's checkpoints, in the order their steps were first recorded. */
export function selectCheckpoints(sql: Prepare, uid: RunUid): Checkpoint[] {
  return sql(CHECKPOINTS)
    .all(uid)
    .map((row) => checkpointFromRow(sql, row));
}

// By step, in the order steps were first recorded (an attempt without a checkpoint last), then
// by number.
const ATTEMPTS =
  "SELECT a.* FROM run_step_attempts a LEFT JOIN run_steps s " +
  "ON s.run_uid = a.run_uid AND s.step_id = a.step_id WHERE a.run_uid = ? " +
  "ORDER BY s.position IS NULL, s.position, a.step_id, a.number";

/** The tenant's run with its steps and attempts. See `Store.getRun`. */
export function getRun(sql: Prepare, tenantId: TenantId, id: string): RunDetail | undefined {
  const run = selectRun(sql, tenantId, id);
  if (run === undefined) return undefined;
  const attempts: StepAttempt[] = sql(ATTEMPTS).all(run.uid).map(stepAttemptFromRow);
  return { run, checkpoints: selectCheckpoints(sql, run.uid), attempts };
}

/**
 * The statement behind `listRuns`, newest first. Without a status it walks runs_list (or
 * runs_list_workflow). An ended status is a `runs` status (runs_list_status). A parked status is a
 * `work` status (work_list); running and compensating runs (left out of work_list, like running
 * calls) are found through work_run_lease, which holds only the runs claimed now, and sorted.
 */
export function listRuns(sql: Prepare, query: ListRunsQuery): RunRecord[] {
  const params: (string | number)[] = [query.tenantId];
  const { status, workflow } = query;
  let text: string;
  let t: "r" | "w";
  if (status === undefined) {
    t = "r";
    text =
      workflow === undefined
        ? `SELECT ${RUN_COLUMNS} FROM runs r INDEXED BY runs_list ` +
          "LEFT JOIN work w ON w.id = r.uid WHERE r.tenant_id = ?"
        : `SELECT ${RUN_COLUMNS} FROM runs r INDEXED BY runs_list_workflow ` +
          "LEFT JOIN work w ON w.id = r.uid WHERE r.tenant_id = ? AND r.workflow = ?";
    if (workflow !== undefined) params.push(workflow);
  } else if (status === "succeeded" || status === "failed" || status === "cancelled") {
    t = "r";
    // The repeated predicate of the partial index lets SQLite apply it to a bound status.
    text =
      `SELECT ${RUN_COLUMNS} FROM runs r INDEXED BY runs_list_status ` +
      "LEFT JOIN work w ON w.id = r.uid " +
      "WHERE r.tenant_id = ? AND r.status = ? AND r.status IS NOT NULL";
    params.push(status);
  } else if (status === "running" || status === "compensating") {
    t = "w";
    text =
      `SELECT ${RUN_COLUMNS} FROM work w INDEXED BY work_run_lease ` +
      "CROSS JOIN runs r ON r.uid = w.id WHERE w.kind = 'run' AND w.status = 'running' " +
      "AND w.tenant_id = ? AND w.phase = ?";
    params.push(status === "running" ? "forward" : "compensating");
  } else {
    t = "w";
    // The redundant `<> 'running'` lets SQLite prove that the partial index applies.
    text =
      `SELECT ${RUN_COLUMNS} FROM work w INDEXED BY work_list CROSS JOIN runs r ON r.uid = w.id ` +
      "WHERE w.tenant_id = ? AND w.kind = 'run' AND w.status = ? AND w.status <> 'running'";
    params.push(status);
  }
  if (status !== undefined && workflow !== undefined) {
    text += " AND r.workflow = ?";
    params.push(workflow);
  }
  if (query.before !== undefined) {
    text += ` AND ${t === "r" ? "r.uid" : "w.id"} < ?`;
    params.push(query.before);
  }
  text += ` ORDER BY ${t === "r" ? "r.uid" : "w.id"} DESC LIMIT ?`;
  params.push(Math.max(0, Math.floor(query.limit)));
  return sql(text)
    .all(...params)
    .map((row) => runFromRow(sql, row));
}

// Per workflow, each the first entry of its range of a run index.
const NEXT_DUE =
  "SELECT min(run_at) AS at FROM work INDEXED BY work_run_due " +
  "WHERE kind = 'run' AND status IN ('queued', 'sleeping', 'waiting') AND workflow = ?";
const NEXT_EXPIRY =
  "SELECT min(lease_expires_at) AS at FROM work INDEXED BY work_run_lease " +
  "WHERE kind = 'run' AND status = 'running' AND workflow = ?";

/** See `Store.nextRunWakeAt`. */
export function nextRunWakeAt(sql: Prepare, workflows: readonly string[]): number | undefined {
  let next: number | undefined;
  for (const workflow of new Set(workflows)) {
    for (const statement of [NEXT_DUE, NEXT_EXPIRY]) {
      const at = sql(statement).get(workflow)!.at;
      if (typeof at === "number" && (next === undefined || at < next)) next = at;
    }
  }
  return next;
}
