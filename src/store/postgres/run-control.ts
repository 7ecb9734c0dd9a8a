// Operator and API writes about runs: cancel and redrive. Each is one statement, conditional on
// the run's state, so that concurrent engines and operators never see half a change.
import type { TenantId } from "../../core/ids.ts";
import type { RunControlResult } from "../../core/run-log.ts";
import type { PostgresConnection } from "./postgres-connection.ts";
import { runColumns, runFromRow, wakeRunsSql } from "./run-rows.ts";
import type { SchemaNames } from "./schema-names.ts";

/** Cancel and redrive of runs for `PostgresStore`. */
export class RunControl {
  readonly #db: PostgresConnection;
  readonly #channel: string;
  readonly #select: string;
  readonly #cancel: string;
  readonly #retry: string;

  constructor(db: PostgresConnection, names: SchemaNames) {
    this.#db = db;
    this.#channel = names.channel;
    const { runs, work, runSteps, runStepAttempts, runValues } = names;
    this.#select =
      `SELECT ${runColumns(names, "r", "w")} FROM ${runs} r LEFT JOIN ${work} w ON w.id = r.uid ` +
      "WHERE r.tenant_id = $1 AND r.id = $2";
    // Ends a live run (a work row): the row goes, the run gets its end columns, its parent is
    // woken. Incrementing the lease token fences the invocation in flight, if any (its work row
    // is gone too, so its next commit is refused).
    this.#cancel =
      `WITH ended AS (DELETE FROM ${work} w USING ${runs} t WHERE t.tenant_id = $1 ` +
      "AND t.id = $2 AND w.id = t.uid AND w.kind = 'run' " +
      "RETURNING w.id, w.lease_token, w.invocations, w.phase), " +
      `cancelled AS (UPDATE ${runs} r SET status = 'cancelled', phase = e.phase, ` +
      "lease_token = e.lease_token + 1, invocations = e.invocations, updated_at = $3, " +
      "ended_at = $3 FROM ended e WHERE r.uid = e.id RETURNING r.*), " +
      `woken AS (${wakeRunsSql(names, "r.id IN (SELECT parent_uid FROM cancelled)", "$3")}), ` +
      "note AS (SELECT pg_notify($4, $3::text) AS sent FROM woken WHERE run_at IS NOT NULL " +
      "HAVING count(*) > 0) " +
      `SELECT ${runColumns(names, "c")}, (SELECT sent FROM note) AS sent FROM cancelled c`;
    // A failed run that ran no compensation (no report, not ended compensating): its end columns are reset, the checkpoints (and attempts, and
    // out-of-line values) of its failed steps deleted, and its work row created again, queued
    // now in the forward phase, its token carrying on from the one it ended with.
    this.#retry =
      `WITH target AS (UPDATE ${runs} r SET status = NULL, phase = NULL, output = NULL, ` +
      "error = NULL, fail_reason = NULL, compensation = NULL, ended_at = NULL, updated_at = $3 " +
      "WHERE r.tenant_id = $1 AND r.id = $2 AND r.status = 'failed' AND r.compensation IS NULL " +
      "AND r.phase = 'forward' " +
      "RETURNING r.*), " +
      `dropped AS (DELETE FROM ${runSteps} s USING target t WHERE s.run_uid = t.uid ` +
      "AND s.status = 'failed' RETURNING s.run_uid, s.step_id), " +
      `dropped_attempts AS (DELETE FROM ${runStepAttempts} a USING dropped d ` +
      "WHERE a.run_uid = d.run_uid AND a.step_id = d.step_id), " +
      `dropped_values AS (DELETE FROM ${runValues} x USING dropped d WHERE x.run_uid = d.run_uid ` +
      "AND x.slot IN ('output:' || d.step_id, 'wait:' || d.step_id)), " +
      `requeued AS (INSERT INTO ${work} (id, kind, tenant_id, status, run_at, lease_token, ` +
      "attempts, attempt_base, crashes_in_a_row, updated_at, workflow, phase, invocations) " +
      "SELECT uid, 'run', tenant_id, 'queued', $3, lease_token, 0, 0, 0, $3, workflow, " +
      "'forward', invocations FROM target RETURNING *), " +
      "note AS (SELECT pg_notify($4, $3::text) AS sent FROM requeued HAVING count(*) > 0) " +
      `SELECT ${runColumns(names, "t", "w")}, (SELECT sent FROM note) AS sent ` +
      "FROM target t JOIN requeued w ON w.id = t.uid";
  }

  /** See `RunLog.cancelRun`. */
  async cancelRun(tenantId: TenantId, id: string, now: number): Promise<RunControlResult> {
    const { rows } = await this.#db.query({
      name: "steadfast_cancel_run",
      text: this.#cancel,
      values: [tenantId, id, now, this.#channel],
    });
    return rows[0] === undefined
      ? this.#notChanged(tenantId, id)
      : { type: "ok", run: runFromRow(rows[0]) };
  }

  /** See `RunLog.retryRun`. */
  async retryRun(tenantId: TenantId, id: string, now: number): Promise<RunControlResult> {
    const { rows } = await this.#db.query({
      name: "steadfast_retry_run",
      text: this.#retry,
      values: [tenantId, id, now, this.#channel],
    });
    return rows[0] === undefined
      ? this.#notChanged(tenantId, id)
      : { type: "ok", run: runFromRow(rows[0]) };
  }

  async #notChanged(tenantId: TenantId, id: string): Promise<RunControlResult> {
    const { rows } = await this.#db.query({
      name: "steadfast_select_run_control",
      text: this.#select,
      values: [tenantId, id],
    });
    return rows[0] === undefined
      ? { type: "not_found" }
      : { type: "invalid_state", run: runFromRow(rows[0]) };
  }
}
