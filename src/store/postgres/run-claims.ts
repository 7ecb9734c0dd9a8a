// Runs on the work queue: creating them, claiming due ones (with their checkpoints), leases,
// releases, the next wake-up, and waking them (a child ended, an event arrived). Every query on
// `work` names `kind = 'run'` and the workflows, so it stays on the run indexes of migration
// 0010 (work_runs_due, work_run_events), apart from the calls' (work_due).
//
// Fencing, as for calls: a claim increments work.lease_token; every write about a claimed run is
// conditional on status = 'running' AND that token.
//
// Wake-ups: writes that make a run due (create, release, wake) send NOTIFY on the store's
// channel with the earliest due time, in their transaction, like new calls: every listening
// process (WorkListener) hands it to its subscribers, whose engines then look for due calls and
// due runs alike.
import { StoreError } from "../../core/errors.ts";
import type { RunUid, TenantId, WorkerId } from "../../core/ids.ts";
import type { CreateRunResult, NewRun, RunClaim, RunRef } from "../../core/run-log.ts";
import type { InitialClaim } from "../../core/work-queue.ts";
import type { Checkpoint } from "../../core/workflow/checkpoint.ts";
import type { PostgresConnection, Query } from "./postgres-connection.ts";
import { columnsOf } from "./row-mapping.ts";
import {
  checkpointFromRow,
  insertRunsSql,
  NEW_RUN_UNNEST,
  newRunRecord,
  newRunRow,
  runColumns,
  runFromRow,
  stepColumns,
  wakeRunsSql,
} from "./run-rows.ts";
import type { SchemaNames } from "./schema-names.ts";

/** Create, claim, lease, release and wake queries of runs for `PostgresStore`. */
export class RunClaims {
  readonly #db: PostgresConnection;
  readonly #channel: string;
  readonly #create: string;
  readonly #select: string;
  readonly #claim: string;
  readonly #steps: string;
  readonly #nextWake: string;
  readonly #renew: string;
  readonly #release: string;
  readonly #wake: string;
  readonly #wakeForEvent: string;

  constructor(db: PostgresConnection, names: SchemaNames) {
    this.#db = db;
    this.#channel = names.channel;
    const { runs, work, runSteps } = names;
    const params = NEW_RUN_UNNEST.types.map((type, i) => `$${i + 1}::${type}`).join(", ");
    const source = `unnest(${params}) WITH ORDINALITY AS v(${NEW_RUN_UNNEST.columns}, n)`;
    const channel = `$${NEW_RUN_UNNEST.types.length + 1}`;
    // ON CONFLICT DO NOTHING waits for a concurrent insert of the same (tenant, id) to commit,
    // then skips: exactly one create wins. The loser reads the winner in a statement of its
    // own, whose snapshot sees it.
    this.#create =
      `WITH ${insertRunsSql(names, source, "new_")}, ` +
      `note AS (SELECT pg_notify(${channel}, min(run_at)::text) AS sent FROM new_work ` +
      "WHERE status = 'queued' HAVING count(*) > 0) " +
      "SELECT (SELECT count(*) FROM new_runs)::integer AS created, (SELECT sent FROM note) AS sent";
    this.#select =
      `SELECT ${runColumns(names, "r", "w")} FROM ${runs} r LEFT JOIN ${work} w ON w.id = r.uid ` +
      "WHERE r.tenant_id = $1 AND r.id = $2";
    // One ordered probe of work_runs_due per workflow, each locking at most `limit` rows
    // (SKIP LOCKED: concurrent claimers take other rows), then the earliest `limit` of those.
    // The UPDATE finds its rows by ctid, as the calls' claim does (claim-writes.ts).
    this.#claim =
      "WITH due AS MATERIALIZED (SELECT d.ctid, d.due_at, d.prior_status FROM " +
      "unnest($5::text[]) AS f(workflow) CROSS JOIN LATERAL (SELECT w.ctid, w.due_at, w.id, " +
      `w.status AS prior_status FROM ${work} w WHERE w.kind = 'run' AND w.workflow = f.workflow ` +
      "AND w.due_at <= $1 ORDER BY w.due_at, w.id LIMIT $4 FOR UPDATE SKIP LOCKED) d " +
      "ORDER BY d.due_at, d.id LIMIT $4), " +
      `claimed AS (UPDATE ${work} w SET status = 'running', lease_token = w.lease_token + 1, ` +
      "lease_expires_at = $2, worker_id = $3, invocations = w.invocations + 1, woken = false, " +
      // A takeover (it was running) counts one more in a row without a commit.
      "crashes_in_a_row = w.crashes_in_a_row + CASE WHEN w.status = 'running' THEN 1 ELSE 0 END, " +
      "wait_code = NULL, updated_at = $1 " +
      "FROM due WHERE w.ctid = ANY(ARRAY(SELECT ctid FROM due)) AND w.ctid = due.ctid " +
      "RETURNING w.*, due.due_at AS claimed_due_at, due.prior_status) " +
      `SELECT ${runColumns(names, "r", "w")}, w.lease_token AS claim_token, w.claimed_due_at, ` +
      `w.prior_status FROM claimed w JOIN ${runs} r ON r.uid = w.id`;
    this.#steps =
      `SELECT ${stepColumns(names, "s")} FROM ${runSteps} s ` +
      "WHERE s.run_uid = ANY($1::text[]) ORDER BY s.run_uid, s.position";
    this.#nextWake =
      "SELECT min(m.at) AS at FROM unnest($1::text[]) AS f(workflow) CROSS JOIN LATERAL " +
      `(SELECT w.due_at AS at FROM ${work} w WHERE w.kind = 'run' AND w.workflow = f.workflow ` +
      "AND w.due_at IS NOT NULL ORDER BY w.due_at LIMIT 1) m";
    const held =
      "w.id = v.id AND w.kind = 'run' AND w.status = 'running' AND w.lease_token = v.lease_token";
    this.#renew =
      `UPDATE ${work} w SET lease_expires_at = $1 ` +
      `FROM unnest($2::text[], $3::bigint[]) AS v(id, lease_token) WHERE ${held} ` +
      "RETURNING w.id, w.lease_token";
    this.#release =
      `WITH released AS (UPDATE ${work} w SET status = 'queued', run_at = $1, wait_code = NULL, ` +
      "lease_expires_at = NULL, worker_id = NULL, woken = false, updated_at = $1 " +
      `FROM unnest($2::text[], $3::bigint[]) AS v(id, lease_token) WHERE ${held} RETURNING w.id) ` +
      "SELECT pg_notify($4, $1::text) AS sent FROM released HAVING count(*) > 0";
    const wakeNote =
      "note AS (SELECT pg_notify($3, $2::text) AS sent FROM woken WHERE run_at IS NOT NULL " +
      "HAVING count(*) > 0) " +
      "SELECT (SELECT count(*) FROM woken)::integer AS n, (SELECT sent FROM note) AS sent";
    this.#wake = `WITH woken AS (${wakeRunsSql(names, "r.id = ANY($1::text[])", "$2")}), ${wakeNote}`;
    // Through work_run_events (GIN): the tenant's runs whose park named the event.
    this.#wakeForEvent = `WITH woken AS (${wakeRunsSql(
      names,
      "r.events @> ARRAY[$4::text] AND r.events IS NOT NULL AND r.tenant_id = $1",
      "$2",
    )}), ${wakeNote}`;
  }

  /** See `RunLog.createRun`. */
  async createRun(run: NewRun, claim?: InitialClaim): Promise<CreateRunResult> {
    const { rows } = await this.#db.query({
      name: "steadfast_create_run",
      text: this.#create,
      values: [...columnsOf([newRunRow(run, claim)], NEW_RUN_UNNEST.types.length), this.#channel],
    });
    if (rows[0]!.created === 1)
      return { created: true, run: newRunRecord(run, claim !== undefined) };
    const found = await this.#db.query({
      name: "steadfast_select_run",
      text: this.#select,
      values: [run.tenantId, run.id],
    });
    if (found.rows[0] === undefined) {
      throw new StoreError(
        "invariant_broken",
        `Run ${run.uid} was not created, and tenant ${run.tenantId} has no run ${JSON.stringify(run.id)}: ` +
          "its uid is taken by another run. Every run needs a new uid (newRunUid).",
      );
    }
    return { created: false, run: runFromRow(found.rows[0]) };
  }

  /** See `RunLog.claimDueRuns`. */
  async claimDueRuns(query: {
    now: number;
    limit: number;
    leaseMs: number;
    workerId: WorkerId;
    workflows: readonly string[];
  }): Promise<RunClaim[]> {
    const limit = Math.floor(query.limit);
    if (!(limit > 0) || query.workflows.length === 0) return [];
    const leaseExpiresAt = query.now + query.leaseMs;
    const { rows } = await this.#db.query({
      name: "steadfast_claim_due_runs",
      text: this.#claim,
      values: [query.now, leaseExpiresAt, query.workerId, limit, [...new Set(query.workflows)]],
    });
    if (rows.length === 0) return [];
    rows.sort(
      (a, b) =>
        Number(a.claimed_due_at) - Number(b.claimed_due_at) ||
        ((a.uid as string) < (b.uid as string) ? -1 : 1),
    );
    const checkpoints = await this.#checkpointsOf(rows.map((row) => row.uid as RunUid));
    return rows.map((row) => {
      const run = runFromRow(row);
      const claim: RunClaim = {
        run,
        checkpoints: checkpoints.get(run.uid) ?? [],
        leaseToken: Number(row.claim_token),
        leaseExpiresAt,
      };
      if (row.prior_status === "running") claim.takenOver = true;
      return claim;
    });
  }

  /** See `RunLog.nextRunWakeAt`: one index probe per workflow. */
  async nextRunWakeAt(workflows: readonly string[]): Promise<number | undefined> {
    if (workflows.length === 0) return undefined;
    const { rows } = await this.#db.query({
      name: "steadfast_next_run_wake",
      text: this.#nextWake,
      values: [[...new Set(workflows)]],
    });
    const at = rows[0]?.at;
    return at === null || at === undefined ? undefined : Number(at);
  }

  /** See `RunLog.renewRunLeases`: the token, not the clock, decides whether a lease is held. */
  async renewRunLeases(refs: readonly RunRef[], leaseExpiresAt: number): Promise<RunRef[]> {
    if (refs.length === 0) return [];
    const { rows } = await this.#db.query({
      name: "steadfast_renew_run_leases",
      text: this.#renew,
      values: [leaseExpiresAt, refs.map((r) => r.uid), refs.map((r) => r.leaseToken)],
    });
    const held = new Set(rows.map((row) => `${row.id as string}/${Number(row.lease_token)}`));
    return refs.filter((ref) => !held.has(`${ref.uid}/${ref.leaseToken}`));
  }

  /** See `RunLog.releaseRuns`: queued, due at `now`, in their phase; listeners are woken. */
  async releaseRuns(refs: readonly RunRef[], now: number): Promise<void> {
    if (refs.length === 0) return;
    await this.#db.query({
      name: "steadfast_release_runs",
      text: this.#release,
      values: [now, refs.map((r) => r.uid), refs.map((r) => r.leaseToken), this.#channel],
    });
  }

  /** See `RunLog.wakeRuns`. */
  async wakeRuns(uids: readonly RunUid[], now: number): Promise<number> {
    if (uids.length === 0) return 0;
    const { rows } = await this.#db.query({
      name: "steadfast_wake_runs",
      text: this.#wake,
      values: [[...new Set(uids)], now, this.#channel],
    });
    return rows[0]!.n as number;
  }

  /** See `RunLog.wakeRunsForEvent`. */
  wakeRunsForEvent(tenantId: TenantId, name: string, now: number): Promise<number> {
    return this.wakeRunsForEventWith((statement) => this.#db.query(statement), tenantId, name, now);
  }

  /** `wakeRunsForEvent` through `query` (a transaction's, for `recordEventAndWake`). */
  async wakeRunsForEventWith(
    query: Query,
    tenantId: TenantId,
    name: string,
    now: number,
  ): Promise<number> {
    const { rows } = await query({
      name: "steadfast_wake_runs_for_event",
      text: this.#wakeForEvent,
      values: [tenantId, now, this.#channel, name],
    });
    return rows[0]!.n as number;
  }

  // The checkpoints of `uids`, each run's in the order its steps were first recorded.
  async #checkpointsOf(uids: readonly RunUid[]): Promise<Map<RunUid, Checkpoint[]>> {
    const { rows } = await this.#db.query({
      name: "steadfast_claimed_run_steps",
      text: this.#steps,
      values: [uids],
    });
    const byRun = new Map<RunUid, Checkpoint[]>();
    for (const row of rows) {
      const uid = row.run_uid as RunUid;
      let list = byRun.get(uid);
      if (list === undefined) byRun.set(uid, (list = []));
      list.push(checkpointFromRow(row));
    }
    return byRun;
  }
}
