// Mapping between the run tables (migration 0010) and the records of core/run-log.ts: the
// column lists that read a run (its wide `runs` row, its live state from `work`) and a step, the
// rows that write them, and where each value goes (inline, or out of line in `run_values` above
// maxInlineBytes). SQL names stop here.
import type { RunUid } from "../../core/ids.ts";
import { claimedRunRecord, type NewRun, type RunRecord } from "../../core/run-log.ts";
import { DEFAULT_VALUE_LIMITS, utf8ByteLength } from "../../core/value-size.ts";
import type { Checkpoint, StepKind, StepWait } from "../../core/workflow/checkpoint.ts";
import type { StepAttempt } from "../../core/workflow/step-attempt.ts";
import type { StepId } from "../../core/workflow/step-id.ts";
import type { RecordedError } from "../../core/workflow/workflow-errors.ts";
import { runFromColumns, stepAttemptValues } from "../run-rows.ts";
export { stepAttemptFromRow } from "../run-rows.ts";
import type { Row } from "./row-mapping.ts";
import type { SchemaNames } from "./schema-names.ts";

/** A value as written: inline in its column, or `null` there and out of line (`external`). */
export interface PlacedValue {
  inline: string | null;
  external: string | null;
}

/** Places `text` (absent: none) inline up to `maxInlineBytes` (256 KiB), out of line above. */
export function placeValue(text: string | undefined): PlacedValue {
  if (text === undefined) return { inline: null, external: null };
  return utf8ByteLength(text) > DEFAULT_VALUE_LIMITS.maxInlineBytes
    ? { inline: null, external: text }
    : { inline: text, external: null };
}

// An out-of-line value of run `uid` in `slot`, for a read (NULL when none).
function outOfLine(names: SchemaNames, uid: string, slot: string): string {
  return `(SELECT x.value FROM ${names.runValues} x WHERE x.run_uid = ${uid} AND x.slot = ${slot})`;
}

/**
 * The columns `runFromRow` reads: the wide row's from `r` (a `runs` row), the live state from
 * `w` (its LEFT JOINed `work` row) when given; without `w`, the run is read as ended. Values kept
 * out of line are read back here.
 */
export function runColumns(names: SchemaNames, r: string, w?: string): string {
  const live = (column: string, ended: string) =>
    w === undefined ? ended : `coalesce(${w}.${column}, ${ended})`;
  return [
    `${r}.uid`,
    `${r}.tenant_id`,
    `${r}.id`,
    `${r}.workflow`,
    `coalesce(${r}.input, ${outOfLine(names, `${r}.uid`, "'input'")}) AS input`,
    `${r}.input_fingerprint`,
    `CASE WHEN ${r}.status = 'succeeded' THEN coalesce(${r}.output, ` +
      `${outOfLine(names, `${r}.uid`, "'output'")}) END AS output`,
    `${r}.error`,
    `${r}.fail_reason`,
    `${r}.compensation`,
    `${r}.parent_uid`,
    `${r}.parent_step`,
    `${r}.created_at`,
    `${r}.ended_at`,
    // A live run's status is its work row's; an ended one's, its own.
    `${live("status", `${r}.status`)} AS status`,
    `${live("phase", `coalesce(${r}.phase, 'forward')`)} AS phase`,
    `${live("invocations", `${r}.invocations`)} AS invocations`,
    w === undefined
      ? "0 AS crashes_in_a_row"
      : `coalesce(${w}.crashes_in_a_row, 0) AS crashes_in_a_row`,
    `${live("updated_at", `${r}.updated_at`)} AS updated_at`,
    w === undefined ? "NULL::text AS wait_code" : `${w}.wait_code`,
    w === undefined ? "NULL::bigint AS run_at" : `${w}.run_at`,
  ].join(", ");
}

/** A row read with `runColumns` as a `RunRecord`. */
export function runFromRow(row: Row): RunRecord {
  return runFromColumns(row, {
    input: row.input as string,
    output: row.output === null ? undefined : (row.output as string),
  });
}

/** The record of a run just created from `run`, without reading it back. */
export function newRunRecord(run: NewRun, claimed: boolean): RunRecord {
  const record = claimedRunRecord(run);
  if (claimed) return record;
  return { ...record, status: "queued", invocations: 0, runAt: run.runAt ?? run.createdAt };
}

/** The unnest() columns of new runs (`newRunRow`), for `insertRunsSql`. */
export const NEW_RUN_UNNEST = {
  columns:
    "uid, tenant_id, id, workflow, input, input_external, input_fingerprint, parent_uid, " +
    "parent_step, run_at, created_at, lease_expires_at, worker_id",
  types: [
    "text[]",
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
    "text[]",
  ],
} as const;

/** The values of `run` in `NEW_RUN_UNNEST` order; claimed by `claim` (lease token 1) if given. */
export function newRunRow(
  run: NewRun,
  claim?: { workerId: string; leaseExpiresAt: number },
): unknown[] {
  const input = placeValue(run.input);
  return [
    run.uid,
    run.tenantId,
    run.id,
    run.workflow,
    input.inline,
    input.external,
    run.inputFingerprint,
    run.parent?.uid ?? null,
    run.parent?.stepId ?? null,
    run.runAt ?? run.createdAt,
    run.createdAt,
    claim?.leaseExpiresAt ?? null,
    claim?.workerId ?? null,
  ];
}

/**
 * CTEs that create runs from `source` (an unnest() of `NEW_RUN_UNNEST` aliased `v`, with an
 * ordinality `n`): `new_runs` (the runs inserted: a tenant's id already taken, or a uid, skips its
 * row), `new_work` (their work rows, queued, or running under lease token 1 when a worker is
 * given) and `new_values` (their inputs kept out of line). Prefixed with `prefix`.
 */
export function insertRunsSql(names: SchemaNames, source: string, prefix: string): string {
  return (
    `${prefix}runs AS (INSERT INTO ${names.runs} (uid, tenant_id, id, workflow, input, ` +
    "input_fingerprint, parent_uid, parent_step, created_at, updated_at) SELECT v.uid, " +
    "v.tenant_id, v.id, v.workflow, v.input, v.input_fingerprint, v.parent_uid, v.parent_step, " +
    `v.created_at, v.created_at FROM ${source} ORDER BY v.n ON CONFLICT DO NOTHING ` +
    "RETURNING uid), " +
    `${prefix}work AS (INSERT INTO ${names.work} (id, kind, tenant_id, status, run_at, ` +
    "lease_token, lease_expires_at, worker_id, attempts, attempt_base, crashes_in_a_row, " +
    "updated_at, workflow, phase, invocations) SELECT v.uid, 'run', v.tenant_id, " +
    "CASE WHEN v.worker_id IS NULL THEN 'queued' ELSE 'running' END, v.run_at, " +
    "CASE WHEN v.worker_id IS NULL THEN 0 ELSE 1 END, v.lease_expires_at, v.worker_id, 0, 0, 0, " +
    "v.created_at, v.workflow, 'forward', CASE WHEN v.worker_id IS NULL THEN 0 ELSE 1 END " +
    `FROM ${prefix}runs i JOIN ${source} ON v.uid = i.uid RETURNING run_at, status), ` +
    `${prefix}values AS (INSERT INTO ${names.runValues} (run_uid, slot, value) ` +
    `SELECT v.uid, 'input', v.input_external FROM ${prefix}runs i JOIN ${source} ` +
    "ON v.uid = i.uid WHERE v.input_external IS NOT NULL)"
  );
}

/**
 * An UPDATE waking the runs among `work` rows matching `where` (aliased `r`): a parked one due
 * later (or never) becomes due at `now`; a running one is marked woken (its park leaves it due).
 * Returns each woken row's `run_at`.
 */
export function wakeRunsSql(names: SchemaNames, where: string, now: string): string {
  return (
    `UPDATE ${names.work} r SET ` +
    `run_at = CASE WHEN r.status = 'running' THEN r.run_at ELSE ${now} END, ` +
    "woken = r.woken OR r.status = 'running', " +
    `updated_at = CASE WHEN r.status = 'running' THEN r.updated_at ELSE ${now} END ` +
    `WHERE r.kind = 'run' AND (${where}) ` +
    `AND (r.status = 'running' OR r.run_at IS NULL OR r.run_at > ${now}) ` +
    `RETURNING CASE WHEN r.status = 'running' THEN NULL ELSE ${now} END AS run_at`
  );
}

/** The columns `checkpointFromRow` reads from `s` (a `run_steps` row), values read back. */
export function stepColumns(names: SchemaNames, s: string): string {
  return [
    `${s}.run_uid`,
    `${s}.step_id`,
    `${s}.kind`,
    `${s}.status`,
    `${s}.started_at`,
    `${s}.attempts`,
    `CASE WHEN ${s}.status = 'completed' THEN coalesce(${s}.output, ` +
      `${outOfLine(names, `${s}.run_uid`, `'output:' || ${s}.step_id`)}) END AS output`,
    `${s}.error`,
    `${s}.completed_at`,
    `${s}.retry_at`,
    `CASE WHEN ${s}.status = 'waiting' THEN coalesce(${s}.wait, ` +
      `${outOfLine(names, `${s}.run_uid`, `'wait:' || ${s}.step_id`)}) END AS wait`,
    `${s}.event_id`,
  ].join(", ");
}

/** A row read with `stepColumns` as a `Checkpoint`. */
export function checkpointFromRow(row: Row): Checkpoint {
  const base = {
    stepId: row.step_id as StepId,
    kind: row.kind as StepKind,
    startedAt: Number(row.started_at),
    attempts: Number(row.attempts),
  };
  const error = () => JSON.parse(row.error as string) as RecordedError;
  switch (row.status) {
    case "completed":
      return {
        ...base,
        status: "completed",
        output: row.output as string,
        completedAt: Number(row.completed_at),
        ...(row.event_id === null || row.event_id === undefined
          ? {}
          : { eventId: row.event_id as string }),
      };
    case "failed":
      return { ...base, status: "failed", error: error(), completedAt: Number(row.completed_at) };
    case "retrying":
      return {
        ...base,
        kind: base.kind as "run" | "compensate",
        status: "retrying",
        retryAt: Number(row.retry_at),
        lastError: error(),
      };
    default:
      return {
        ...base,
        kind: base.kind as "sleep" | "waitForEvent" | "fetch" | "invoke",
        status: "waiting",
        wait: JSON.parse(row.wait as string) as StepWait,
      };
  }
}

/** The unnest() columns of checkpoints (`checkpointRow`). */
export const CHECKPOINT_UNNEST = {
  columns:
    "run_uid, step_id, kind, status, started_at, attempts, output, error, completed_at, " +
    "retry_at, wait, event_id",
  types: [
    "text[]",
    "text[]",
    "text[]",
    "text[]",
    "bigint[]",
    "integer[]",
    "text[]",
    "text[]",
    "bigint[]",
    "bigint[]",
    "text[]",
    "text[]",
  ],
} as const;

/** A checkpoint's row, and its values kept out of line as `[slot, value]`. */
export function checkpointRow(
  uid: RunUid,
  checkpoint: Checkpoint,
): { row: unknown[]; external: [string, string][] } {
  const output = placeValue(checkpoint.status === "completed" ? checkpoint.output : undefined);
  const wait = placeValue(
    checkpoint.status === "waiting" ? JSON.stringify(checkpoint.wait) : undefined,
  );
  const error =
    checkpoint.status === "failed"
      ? checkpoint.error
      : checkpoint.status === "retrying"
        ? checkpoint.lastError
        : undefined;
  const external: [string, string][] = [];
  if (output.external !== null) external.push([`output:${checkpoint.stepId}`, output.external]);
  if (wait.external !== null) external.push([`wait:${checkpoint.stepId}`, wait.external]);
  return {
    row: [
      uid,
      checkpoint.stepId,
      checkpoint.kind,
      checkpoint.status,
      checkpoint.startedAt,
      checkpoint.attempts,
      output.inline,
      error === undefined ? null : JSON.stringify(error),
      checkpoint.status === "completed" || checkpoint.status === "failed"
        ? checkpoint.completedAt
        : null,
      checkpoint.status === "retrying" ? checkpoint.retryAt : null,
      wait.inline,
      checkpoint.status === "completed" ? (checkpoint.eventId ?? null) : null,
    ],
    external,
  };
}

/** The unnest() columns of step attempts (`stepAttemptRow`). */
export const STEP_ATTEMPT_UNNEST = {
  columns: "run_uid, step_id, number, started_at, duration_ms, outcome, decision",
  types: ["text[]", "text[]", "integer[]", "bigint[]", "double precision[]", "text[]", "text[]"],
} as const;

/** The values of a step attempt of run `uid`, in `STEP_ATTEMPT_UNNEST` order. */
export function stepAttemptRow(uid: RunUid, attempt: StepAttempt): unknown[] {
  return [uid, ...stepAttemptValues(attempt)];
}

/** The `run_step_attempts` columns `stepAttemptFromRow` reads. */
export const STEP_ATTEMPT_COLUMNS = "step_id, number, started_at, duration_ms, outcome, decision";
