// Reads of runs: one run with its steps and attempts, a run by uid, and listings. A live run's
// state is its work row's (LEFT JOIN), an ended one's its runs row's (migration 0010).
import type { RunUid, TenantId } from "../../core/ids.ts";
import type { ListRunsQuery, RunDetail, RunRecord } from "../../core/run-log.ts";
import type { PostgresConnection } from "./postgres-connection.ts";
import {
  checkpointFromRow,
  runColumns,
  runFromRow,
  STEP_ATTEMPT_COLUMNS,
  stepAttemptFromRow,
  stepColumns,
} from "./run-rows.ts";
import type { SchemaNames } from "./schema-names.ts";

/** The run read queries of `PostgresStore`. */
export class RunReads {
  readonly #db: PostgresConnection;
  readonly #names: SchemaNames;
  readonly #getRun: string;
  readonly #getByUid: string;
  readonly #steps: string;
  readonly #attempts: string;

  constructor(db: PostgresConnection, names: SchemaNames) {
    this.#db = db;
    this.#names = names;
    const { runs, work, runSteps, runStepAttempts } = names;
    const select = `SELECT ${runColumns(names, "r", "w")} FROM ${runs} r LEFT JOIN ${work} w ON w.id = r.uid`;
    this.#getRun = `${select} WHERE r.tenant_id = $1 AND r.id = $2`;
    this.#getByUid = `${select} WHERE r.uid = $1`;
    this.#steps =
      `SELECT ${stepColumns(names, "s")} FROM ${runSteps} s WHERE s.run_uid = $1 ` +
      "ORDER BY s.position";
    // By step, in the order steps were first recorded (run-log.ts, RunDetail), then number.
    this.#attempts =
      `SELECT ${STEP_ATTEMPT_COLUMNS.split(", ")
        .map((column) => `a.${column}`)
        .join(", ")} FROM ${runStepAttempts} a LEFT JOIN ${runSteps} s ` +
      "ON s.run_uid = a.run_uid AND s.step_id = a.step_id WHERE a.run_uid = $1 " +
      "ORDER BY s.position NULLS LAST, a.step_id, a.number";
  }

  /** See `RunLog.getRun`: the run, its steps and attempts from one snapshot. */
  async getRun(tenantId: TenantId, id: string): Promise<RunDetail | undefined> {
    return await this.#db.transaction(async (query) => {
      await query({ text: "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY" });
      const { rows } = await query({
        name: "steadfast_get_run",
        text: this.#getRun,
        values: [tenantId, id],
      });
      if (rows[0] === undefined) return undefined;
      const run = runFromRow(rows[0]);
      const steps = await query({
        name: "steadfast_run_steps",
        text: this.#steps,
        values: [run.uid],
      });
      const attempts = await query({
        name: "steadfast_run_step_attempts",
        text: this.#attempts,
        values: [run.uid],
      });
      return {
        run,
        checkpoints: steps.rows.map(checkpointFromRow),
        attempts: attempts.rows.map(stepAttemptFromRow),
      };
    });
  }

  /** See `RunLog.getRunByUid`. */
  async getRunByUid(uid: RunUid): Promise<RunRecord | undefined> {
    const { rows } = await this.#db.query({
      name: "steadfast_get_run_by_uid",
      text: this.#getByUid,
      values: [uid],
    });
    return rows[0] === undefined ? undefined : runFromRow(rows[0]);
  }

  /**
   * See `RunLog.listRuns`: newest first, by uid (ULIDs sort by creation time). Live statuses are
   * listed from `work` (work_list), ended ones from `runs` (runs_list_ended), all of them from
   * `runs` (runs_list, runs_list_workflow) with each live run's state joined from `work`.
   */
  async listRuns(query: ListRunsQuery): Promise<RunRecord[]> {
    const { runs, work } = this.#names;
    const values: unknown[] = [query.tenantId];
    const status = query.status;
    let text: string;
    let uid: string;
    if (status === undefined) {
      uid = "r.uid";
      text =
        `SELECT ${runColumns(this.#names, "r", "w")} FROM ${runs} r ` +
        `LEFT JOIN ${work} w ON w.id = r.uid WHERE r.tenant_id = $1`;
    } else if (status === "succeeded" || status === "failed" || status === "cancelled") {
      uid = "r.uid";
      values.push(status);
      // The IS NOT NULL lets the planner use the partial runs_list_ended.
      text =
        `SELECT ${runColumns(this.#names, "r")} FROM ${runs} r WHERE r.tenant_id = $1 ` +
        "AND r.status = $2 AND r.status IS NOT NULL";
    } else {
      uid = "w.id";
      // `running` and `compensating` are both work.status 'running', told apart by phase.
      const running = status === "running" || status === "compensating";
      values.push(running ? "running" : status);
      text =
        `SELECT ${runColumns(this.#names, "r", "w")} FROM ${work} w JOIN ${runs} r ` +
        "ON r.uid = w.id WHERE w.tenant_id = $1 AND w.kind = 'run' AND w.status = $2";
      if (running) {
        values.push(status === "running" ? "forward" : "compensating");
        text += ` AND w.phase = $${values.length}`;
      }
    }
    if (query.workflow !== undefined) {
      values.push(query.workflow);
      text += ` AND r.workflow = $${values.length}`;
    }
    if (query.before !== undefined) {
      values.push(query.before);
      text += ` AND ${uid} < $${values.length}`;
    }
    values.push(Math.max(0, Math.floor(query.limit)));
    text += ` ORDER BY ${uid} DESC LIMIT $${values.length}`;
    const { rows } = await this.#db.query({ text, values });
    return rows.map(runFromRow);
  }
}
