// The mapping of a run's row (its `runs` row joined with its live `work` row, both dialects) to
// the `RunRecord` the `RunLog` role returns. Each dialect selects the columns its own way (and
// reads values kept out of line itself): the row given here holds them under these names.
import { StoreError } from "../core/errors.ts";
import type { RunUid, TenantId } from "../core/ids.ts";
import {
  claimedRunRecord,
  endedRun,
  type NewRun,
  type RunEnd,
  type RunFailReason,
  type RunRecord,
  type StepBatch,
} from "../core/run-log.ts";
import type { CompensationReport } from "../core/workflow/compensation.ts";
import type { RunPhase, RunStatus, RunWaitCode } from "../core/workflow/run-state.ts";
import type { StepAttempt } from "../core/workflow/step-attempt.ts";
import type { StepId } from "../core/workflow/step-id.ts";
import type { RecordedError } from "../core/workflow/workflow-errors.ts";
import type { Row } from "./call-rows.ts";

/**
 * The record of a run's row: `status` the work row's while it lives (else the run's end), the
 * other columns by name; `values` its input and output, as the dialect read them.
 */
export function runFromColumns(
  row: Row,
  values: { input: string; output: string | undefined },
): RunRecord {
  const phase = row.phase as RunPhase;
  const stored = row.status as RunStatus;
  // Claimed in the compensating phase: `compensating` (work.status is `running` either way).
  const status: RunStatus =
    stored === "running" && phase === "compensating" ? "compensating" : stored;
  const record: RunRecord = {
    uid: row.uid as RunUid,
    tenantId: row.tenant_id as TenantId,
    id: row.id as string,
    workflow: row.workflow as string,
    status,
    phase,
    input: values.input,
    inputFingerprint: row.input_fingerprint as string,
    invocations: Number(row.invocations),
    crashesInARow: Number(row.crashes_in_a_row),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
  if (status === "waiting" && row.wait_code !== null) {
    record.waitCode = row.wait_code as RunWaitCode;
  }
  const parked = status === "queued" || status === "sleeping" || status === "waiting";
  if (parked && row.run_at !== null) record.runAt = Number(row.run_at);
  if (values.output !== undefined) record.output = values.output;
  if (row.error !== null) record.error = JSON.parse(row.error as string) as RecordedError;
  if (row.fail_reason !== null) record.failReason = row.fail_reason as RunFailReason;
  if (row.compensation !== null) {
    record.compensation = JSON.parse(row.compensation as string) as CompensationReport;
  }
  if (row.parent_uid !== null) {
    record.parent = { uid: row.parent_uid as RunUid, stepId: row.parent_step as string };
  }
  if (row.ended_at !== null) record.endedAt = Number(row.ended_at);
  return record;
}

/**
 * A step attempt's columns after its run's: `step_id, number, started_at, duration_ms, outcome,
 * decision` (the outcome and the decision as JSON).
 */
export function stepAttemptValues(
  attempt: StepAttempt,
): [string, number, number, number, string, string] {
  return [
    attempt.stepId,
    attempt.number,
    attempt.startedAt,
    attempt.durationMs,
    JSON.stringify(attempt.outcome),
    JSON.stringify(attempt.decision),
  ];
}

/** The attempt of a `run_step_attempts` row. */
export function stepAttemptFromRow(row: Row): StepAttempt {
  return {
    stepId: row.step_id as StepId,
    number: Number(row.number),
    startedAt: Number(row.started_at),
    durationMs: Number(row.duration_ms),
    outcome: JSON.parse(row.outcome as string) as StepAttempt["outcome"],
    decision: JSON.parse(row.decision as string) as StepAttempt["decision"],
  };
}

/**
 * Refuses what `createEndedRun` cannot record (`invariant_broken`): a run with a parent (its end
 * would have to wake it) or a batch starting children (they would have to wake it).
 */
export function checkEndedRun(run: NewRun, batch: StepBatch): void {
  if (
    run.parent === undefined &&
    (batch.calls ?? []).length === 0 &&
    (batch.runs ?? []).length === 0
  )
    return;
  throw new StoreError(
    "invariant_broken",
    `Run ${run.uid} was recorded ended with a parent or with children: such a run is created with createRun and ended with finishRun, so that ends wake whoever waits.`,
  );
}

/** The record of a run `createEndedRun` created, without reading it back. */
export function endedRunRecord(run: NewRun, end: RunEnd, now: number): RunRecord {
  return endedRun(claimedRunRecord(run), end, now);
}
