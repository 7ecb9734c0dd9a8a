// Recording runs that ended before anything of them was written (`RunLog.createEndedRun`: a
// durable endpoint's requests answered at once), as the `run` of a `WriteBatcher`: every run of
// the batch, its steps, their attempts and its values kept out of line, in one statement and one
// round trip, with no transaction block and no work row (such a run was never due). A run whose
// id (or uid) the tenant has already is skipped with everything it carries, and read back.
import { StoreError } from "../../core/errors.ts";
import type { CreateRunResult, NewRun, RunEnd, StepBatch } from "../../core/run-log.ts";
import { checkEndedRun, endedRunRecord } from "../run-rows.ts";
import type { PostgresConnection } from "./postgres-connection.ts";
import { columnsOf } from "./row-mapping.ts";
import {
  CHECKPOINT_UNNEST,
  checkpointRow,
  placeValue,
  runColumns,
  runFromRow,
  STEP_ATTEMPT_UNNEST,
  stepAttemptRow,
} from "./run-rows.ts";
import type { SchemaNames } from "./schema-names.ts";
import { oneByOne, type BatchOutcome } from "./write-batcher.ts";
import { isStatementError } from "./postgres-errors.ts";

/** One run to record ended. */
export interface EndedRunInsert {
  run: NewRun;
  end: RunEnd;
  batch: StepBatch;
  now: number;
}

const RUN_UNNEST = {
  columns:
    "uid, tenant_id, id, workflow, input, input_fingerprint, created_at, now, status, " +
    "output, error, fail_reason, compensation",
  types: [
    "text[]",
    "text[]",
    "text[]",
    "text[]",
    "text[]",
    "text[]",
    "bigint[]",
    "bigint[]",
    "text[]",
    "text[]",
    "text[]",
    "text[]",
    "text[]",
  ],
} as const;

interface Encoded {
  run: unknown[];
  checkpoints: unknown[][];
  attempts: unknown[][];
  /** `[run_uid, slot, value]` of each value kept out of line. */
  values: unknown[][];
}

/** Records ended runs for `PostgresStore` (see the file's comment). */
export class EndedRunInserts {
  readonly #db: PostgresConnection;
  readonly #insert: string;
  readonly #select: string;

  constructor(db: PostgresConnection, names: SchemaNames) {
    this.#db = db;
    const { runs, runSteps, runStepAttempts, runValues, work } = names;
    let p = 0;
    const params = (types: readonly string[]) => types.map((t) => `$${++p}::${t}`).join(", ");
    const runRows = `unnest(${params(RUN_UNNEST.types)}) WITH ORDINALITY AS v(${RUN_UNNEST.columns}, n)`;
    const stepRows = `unnest(${params(CHECKPOINT_UNNEST.types)}) WITH ORDINALITY AS c(${CHECKPOINT_UNNEST.columns}, n)`;
    const attemptRows = `unnest(${params(STEP_ATTEMPT_UNNEST.types)}) AS a(${STEP_ATTEMPT_UNNEST.columns})`;
    const valueRows = `unnest(${params(["text[]", "text[]", "text[]"])}) AS x(run_uid, slot, value)`;
    // ON CONFLICT DO NOTHING waits for a concurrent insert of the same (tenant, id) to commit,
    // then skips it: exactly one create wins, as with createRun.
    this.#insert =
      `WITH new_runs AS (INSERT INTO ${runs} (uid, tenant_id, id, workflow, input, ` +
      "input_fingerprint, created_at, updated_at, status, phase, output, error, fail_reason, " +
      "compensation, invocations, lease_token, ended_at) SELECT v.uid, v.tenant_id, v.id, " +
      "v.workflow, v.input, v.input_fingerprint, v.created_at, v.now, v.status, 'forward', " +
      "v.output, v.error, v.fail_reason, v.compensation, 1, 1, v.now " +
      `FROM ${runRows} ORDER BY v.n ON CONFLICT DO NOTHING RETURNING uid), ` +
      `steps AS (INSERT INTO ${runSteps} (${CHECKPOINT_UNNEST.columns}) ` +
      `SELECT ${CHECKPOINT_UNNEST.columns} FROM ${stepRows} ` +
      "WHERE c.run_uid IN (SELECT uid FROM new_runs) ORDER BY c.n), " +
      `attempted AS (INSERT INTO ${runStepAttempts} (${STEP_ATTEMPT_UNNEST.columns}) ` +
      `SELECT ${STEP_ATTEMPT_UNNEST.columns} FROM ${attemptRows} ` +
      "WHERE a.run_uid IN (SELECT uid FROM new_runs) " +
      "ON CONFLICT (run_uid, step_id, number) DO NOTHING), " +
      `stored AS (INSERT INTO ${runValues} (run_uid, slot, value) ` +
      `SELECT x.run_uid, x.slot, x.value FROM ${valueRows} ` +
      "WHERE x.run_uid IN (SELECT uid FROM new_runs)) " +
      "SELECT uid FROM new_runs";
    this.#select =
      `SELECT ${runColumns(names, "r", "w")} FROM ${runs} r LEFT JOIN ${work} w ON w.id = r.uid ` +
      "WHERE r.tenant_id = $1 AND r.id = $2";
  }

  /**
   * `WriteBatcher` run for `createEndedRun`. A run that cannot be encoded fails alone; a
   * statement error (a value PostgreSQL refuses) replays the batch run by run, so that only the
   * faulty one fails; any other error fails the batch.
   */
  run = async (inserts: EndedRunInsert[]): Promise<BatchOutcome<CreateRunResult>[]> => {
    const outcomes = new Array<BatchOutcome<CreateRunResult>>(inserts.length);
    const valid: number[] = [];
    const rows: Encoded[] = [];
    for (const [i, insert] of inserts.entries()) {
      try {
        rows.push(encode(insert));
        valid.push(i);
      } catch (error) {
        outcomes[i] = { ok: false, error };
      }
    }
    if (rows.length > 0) {
      let results: BatchOutcome<CreateRunResult>[];
      try {
        results = await this.#record(
          valid.map((i) => inserts[i]!),
          rows,
        );
      } catch (error) {
        if (rows.length === 1 || !isStatementError(error)) throw error;
        results = await oneByOne(valid, async (i) => {
          const [one] = await this.#record([inserts[i]!], [encode(inserts[i]!)]);
          if (!one!.ok) throw one!.error;
          return one!.value;
        });
      }
      for (const [k, i] of valid.entries()) outcomes[i] = results[k]!;
    }
    return outcomes;
  };

  async #record(
    inserts: readonly EndedRunInsert[],
    rows: readonly Encoded[],
  ): Promise<BatchOutcome<CreateRunResult>[]> {
    const all = (pick: (row: Encoded) => unknown[][]) => rows.flatMap(pick);
    const { rows: created } = await this.#db.query({
      name: "steadfast_insert_ended_runs",
      text: this.#insert,
      values: [
        ...columnsOf(
          rows.map((row) => row.run),
          RUN_UNNEST.types.length,
        ),
        ...columnsOf(
          all((row) => row.checkpoints),
          CHECKPOINT_UNNEST.types.length,
        ),
        ...columnsOf(
          all((row) => row.attempts),
          STEP_ATTEMPT_UNNEST.types.length,
        ),
        ...columnsOf(
          all((row) => row.values),
          3,
        ),
      ],
    });
    const uids = new Set(created.map((row) => row.uid as string));
    return await Promise.all(
      inserts.map(async ({ run, end, now }): Promise<BatchOutcome<CreateRunResult>> => {
        if (uids.has(run.uid))
          return { ok: true, value: { created: true, run: endedRunRecord(run, end, now) } };
        // The tenant had the id: its run, read in a statement of its own (whose snapshot sees it).
        const found = await this.#db.query({
          name: "steadfast_select_ended_run",
          text: this.#select,
          values: [run.tenantId, run.id],
        });
        const row = found.rows[0];
        if (row === undefined) {
          return {
            ok: false,
            error: new StoreError(
              "invariant_broken",
              `Run ${run.uid} was not recorded, and tenant ${run.tenantId} has no run ${JSON.stringify(run.id)}: its uid is taken by another run. Every run needs a new uid (newRunUid).`,
            ),
          };
        }
        return { ok: true, value: { created: false, run: runFromRow(row) } };
      }),
    );
  }
}

function encode({ run, end, batch, now }: EndedRunInsert): Encoded {
  checkEndedRun(run, batch);
  const input = placeValue(run.input);
  const output = placeValue(end.status === "succeeded" ? end.output : undefined);
  const failed = end.status === "failed" ? end : undefined;
  const values: unknown[][] = [];
  if (input.external !== null) values.push([run.uid, "input", input.external]);
  if (output.external !== null) values.push([run.uid, "output", output.external]);
  const checkpoints: unknown[][] = [];
  for (const checkpoint of batch.checkpoints) {
    const { row, external } = checkpointRow(run.uid, checkpoint);
    checkpoints.push(row);
    for (const [slot, value] of external) values.push([run.uid, slot, value]);
  }
  return {
    run: [
      run.uid,
      run.tenantId,
      run.id,
      run.workflow,
      input.inline,
      run.inputFingerprint,
      run.createdAt,
      now,
      end.status,
      output.inline,
      failed === undefined ? null : JSON.stringify(failed.error),
      failed?.reason ?? null,
      failed?.compensation === undefined ? null : JSON.stringify(failed.compensation),
    ],
    checkpoints,
    attempts: batch.attempts.map((attempt) => stepAttemptRow(run.uid, attempt)),
    values,
  };
}

/** Approximate parameter bytes of an ended run, for batch sizing. */
export function endedRunWeight({ run, end, batch }: EndedRunInsert): number {
  let weight = 1_024 + run.input.length;
  if (end.status === "succeeded") weight += end.output.length;
  for (const checkpoint of batch.checkpoints) {
    weight += 256;
    if (checkpoint.status === "completed") weight += checkpoint.output.length;
  }
  return weight + batch.attempts.length * 256;
}
