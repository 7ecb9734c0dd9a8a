// Operator and API writes on workflow runs (issue 11): cancel and retry. Each function is
// synchronous and runs inside the group-commit transaction (group-commit.ts).
import type { RunUid, TenantId } from "../../core/ids.ts";
import type { RunControlResult } from "../../core/store.ts";
import { selectRun } from "./run-reads.ts";
import { dropValues } from "./run-rows.ts";
import { END_RUN } from "./run-writes.ts";
import { replaceEventWaits, wakeParentRun } from "./run-wakes.ts";
import type { Prepare } from "./statement-cache.ts";

const UID_OF = "SELECT uid FROM runs WHERE tenant_id = ? AND id = ?";

// Deleting the work row ends the run and fences its claim, if any (its next commit finds no
// row). The token kept in runs is one more than the last claim's, as for a cancelled call.
const END_WORK =
  "DELETE FROM work WHERE id = ? AND kind = 'run' " +
  "RETURNING tenant_id, phase, attempts, lease_token, wait_events";

/** Cancels a run that has not ended, waking its parent. See `Store.cancelRun`. */
export function cancelRun(
  sql: Prepare,
  tenantId: TenantId,
  id: string,
  now: number,
): RunControlResult {
  const found = sql(UID_OF).get(tenantId, id);
  if (found === undefined) return { type: "not_found" };
  const uid = found.uid as RunUid;
  const ended = sql(END_WORK).get(uid);
  if (ended === undefined) return { type: "invalid_state", run: selectRun(sql, tenantId, id)! };
  replaceEventWaits(sql, tenantId, uid, ended.wait_events, []);
  const { parent_uid: parent } = sql(END_RUN).get(
    "cancelled",
    ended.phase as string,
    null,
    null,
    null,
    null,
    null,
    Number(ended.attempts),
    Number(ended.lease_token) + 1,
    now,
    now,
    uid,
  )!;
  wakeParentRun(sql, parent, now);
  return { type: "ok", run: selectRun(sql, tenantId, id)! };
}

// Failed for good, never compensated: the only runs a retry takes.
const RETRYABLE =
  "SELECT uid, workflow, invocations, lease_token FROM runs WHERE tenant_id = ? AND id = ? " +
  "AND status = 'failed' AND compensation IS NULL AND phase = 'forward'";
const FAILED_STEPS =
  "SELECT step_id, output_ref, wait_ref FROM run_steps WHERE run_uid = ? AND status = 'failed'";
const DROP_STEP = "DELETE FROM run_steps WHERE run_uid = ? AND step_id = ?";
const DROP_STEP_ATTEMPTS = "DELETE FROM run_step_attempts WHERE run_uid = ? AND step_id = ?";
const REOPEN =
  "UPDATE runs SET status = NULL, phase = NULL, error = NULL, fail_reason = NULL, " +
  "ended_at = NULL, updated_at = ? WHERE uid = ?";
const REQUEUE =
  "INSERT INTO work (id, kind, tenant_id, status, run_at, lease_token, attempts, updated_at, " +
  "workflow, phase) VALUES (?1, 'run', ?2, 'queued', ?3, ?4, ?5, ?3, ?6, 'forward')";

/** Queues a failed run again from its failed steps. See `Store.retryRun`. */
export function retryRun(
  sql: Prepare,
  tenantId: TenantId,
  id: string,
  now: number,
): RunControlResult {
  const failed = sql(RETRYABLE).get(tenantId, id);
  if (failed === undefined) {
    const run = selectRun(sql, tenantId, id);
    return run === undefined ? { type: "not_found" } : { type: "invalid_state", run };
  }
  const uid = failed.uid as RunUid;
  for (const step of sql(FAILED_STEPS).all(uid)) {
    dropValues(sql, [step.output_ref, step.wait_ref]);
    sql(DROP_STEP).run(uid, step.step_id as string);
    sql(DROP_STEP_ATTEMPTS).run(uid, step.step_id as string);
  }
  sql(REOPEN).run(now, uid);
  sql(REQUEUE).run(
    uid,
    tenantId,
    now,
    Number(failed.lease_token),
    Number(failed.invocations),
    failed.workflow as string,
  );
  return { type: "ok", run: selectRun(sql, tenantId, id)! };
}
