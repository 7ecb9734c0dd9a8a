// Mapping between the run tables of migration 0011 (runs with their work row, run_steps,
// run_step_attempts) and the records of the RunLog role, and the out-of-line storage of values
// larger than 256 KiB (run_values). SQL names stop here.
import type { SQLInputValue } from "node:sqlite";
import type { RunUid } from "../../core/ids.ts";
import type { RunRecord } from "../../core/store.ts";
import { DEFAULT_VALUE_LIMITS, placeValue } from "../../core/value-size.ts";
import type { Checkpoint, StepKind, StepWait } from "../../core/workflow/checkpoint.ts";
import type { StepId } from "../../core/workflow/step-id.ts";
import type { StepAttempt } from "../../core/workflow/step-attempt.ts";
import type { RecordedError } from "../../core/workflow/workflow-errors.ts";
import { runFromColumns, stepAttemptValues } from "../run-rows.ts";
export { stepAttemptFromRow } from "../run-rows.ts";
import type { Row } from "./row-mapping.ts";
import type { Prepare } from "./statement-cache.ts";

/**
 * The select list of a `RunRecord`, over `runs r` and its work row `w` (all NULL once the run
 * ended: its end columns are then read from `r`).
 */
export const RUN_COLUMNS =
  "r.uid, r.tenant_id, r.id, r.workflow, coalesce(w.status, r.status) AS status, " +
  "coalesce(w.phase, r.phase) AS phase, w.wait_code, w.run_at, r.input, r.input_ref, " +
  "r.input_fingerprint, r.output, r.output_ref, r.error, r.fail_reason, r.compensation, " +
  "r.parent_uid, r.parent_step, coalesce(w.attempts, r.invocations) AS invocations, " +
  "coalesce(w.crashes_in_a_row, 0) AS crashes_in_a_row, " +
  "r.created_at, coalesce(w.updated_at, r.updated_at) AS updated_at, r.ended_at";

/** Runs with their work rows, if live: `FROM` this, then a `WHERE` on `r` (or `w`). */
export const RUNS_WITH_WORK = "runs r LEFT JOIN work w ON w.id = r.uid";

// The store keeps values as the engine's limits place them; the engine refuses the too large.
const PLACEMENT = { ...DEFAULT_VALUE_LIMITS, maxValueBytes: Number.MAX_SAFE_INTEGER };

const INSERT_VALUE = "INSERT INTO run_values (run_uid, value) VALUES (?, ?) RETURNING id";
const SELECT_VALUE = "SELECT value FROM run_values WHERE id = ?";

/**
 * A value's two columns (`<column>`, `<column>_ref`): inline up to `maxInlineBytes`, else a new
 * `run_values` row and its id. Runs inside the write's transaction.
 */
export function valueColumns(
  sql: Prepare,
  runUid: RunUid,
  text: string,
): [string | null, number | null] {
  if (placeValue(Buffer.byteLength(text, "utf8"), "value", PLACEMENT) === "inline") {
    return [text, null];
  }
  return [null, Number(sql(INSERT_VALUE).get(runUid, text)!.id)];
}

/** The value of columns `inline` and `ref` (as `valueColumns` wrote them). */
export function valueText(sql: Prepare, inline: unknown, ref: unknown): string {
  if (ref === null || ref === undefined) return inline as string;
  return sql(SELECT_VALUE).get(Number(ref))!.value as string;
}

/** Deletes the out-of-line values named by `refs` (NULLs ignored). */
export function dropValues(sql: Prepare, refs: readonly unknown[]): void {
  for (const ref of refs) {
    if (ref !== null && ref !== undefined) {
      sql("DELETE FROM run_values WHERE id = ?").run(Number(ref));
    }
  }
}

/** The record of a `RUN_COLUMNS` row, its out-of-line values read. */
export function runFromRow(sql: Prepare, row: Row): RunRecord {
  return runFromColumns(row, {
    input: valueText(sql, row.input, row.input_ref),
    output:
      row.output !== null || row.output_ref !== null
        ? valueText(sql, row.output, row.output_ref)
        : undefined,
  });
}

/** Columns of `run_steps` that `checkpointParams` binds, in order (`position` computed apart). */
export const STEP_COLUMNS = [
  "kind",
  "status",
  "started_at",
  "attempts",
  "completed_at",
  "retry_at",
  "output",
  "output_ref",
  "error",
  "wait",
  "wait_ref",
  "event_id",
] as const;

/** Parameters of a checkpoint's row in `STEP_COLUMNS` order, its large values placed. */
export function checkpointParams(
  sql: Prepare,
  runUid: RunUid,
  checkpoint: Checkpoint,
): SQLInputValue[] {
  const none: [null, null] = [null, null];
  let completedAt: number | null = null;
  let retryAt: number | null = null;
  let output: [string | null, number | null] = none;
  let error: string | null = null;
  let wait: [string | null, number | null] = none;
  switch (checkpoint.status) {
    case "completed":
      completedAt = checkpoint.completedAt;
      output = valueColumns(sql, runUid, checkpoint.output);
      break;
    case "failed":
      completedAt = checkpoint.completedAt;
      error = JSON.stringify(checkpoint.error);
      break;
    case "retrying":
      retryAt = checkpoint.retryAt;
      error = JSON.stringify(checkpoint.lastError);
      break;
    case "waiting":
      wait = valueColumns(sql, runUid, JSON.stringify(checkpoint.wait));
      break;
  }
  return [
    checkpoint.kind,
    checkpoint.status,
    checkpoint.startedAt,
    checkpoint.attempts,
    completedAt,
    retryAt,
    ...output,
    error,
    ...wait,
    checkpoint.status === "completed" ? (checkpoint.eventId ?? null) : null,
  ];
}

/** The checkpoint of a `run_steps` row, its out-of-line values read. */
export function checkpointFromRow(sql: Prepare, row: Row): Checkpoint {
  const base = {
    stepId: row.step_id as StepId,
    kind: row.kind as StepKind,
    startedAt: Number(row.started_at),
    attempts: Number(row.attempts),
  };
  switch (row.status as Checkpoint["status"]) {
    case "completed":
      return {
        ...base,
        status: "completed",
        output: valueText(sql, row.output, row.output_ref),
        completedAt: Number(row.completed_at),
        ...(row.event_id === null || row.event_id === undefined
          ? {}
          : { eventId: row.event_id as string }),
      };
    case "failed":
      return {
        ...base,
        status: "failed",
        error: JSON.parse(row.error as string) as RecordedError,
        completedAt: Number(row.completed_at),
      };
    case "retrying":
      return {
        ...base,
        kind: base.kind as "run" | "compensate",
        status: "retrying",
        retryAt: Number(row.retry_at),
        lastError: JSON.parse(row.error as string) as RecordedError,
      };
    case "waiting":
      return {
        ...base,
        kind: base.kind as "sleep" | "waitForEvent" | "fetch" | "invoke",
        status: "waiting",
        wait: JSON.parse(valueText(sql, row.wait, row.wait_ref)) as StepWait,
      };
  }
}

/** Columns of `run_step_attempts` after `run_uid`, in the order `stepAttemptParams` binds them. */
export const STEP_ATTEMPT_COLUMNS = [
  "step_id",
  "number",
  "started_at",
  "duration_ms",
  "outcome",
  "decision",
] as const;

/** Parameters of an attempt's row, in `STEP_ATTEMPT_COLUMNS` order. */
export function stepAttemptParams(attempt: StepAttempt): SQLInputValue[] {
  return stepAttemptValues(attempt);
}
