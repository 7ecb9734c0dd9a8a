// Committing claimed runs in batches (`commitSteps`, `parkRun`, `finishRun`), as the `run` of a
// `WriteBatcher`: one transaction per batch (per round, when a run has several commits in it).
//
// 1. The fence, in one statement: each commit applies only if its run's work row is running
//    under the commit's lease token. A step commit touches the row (locking it, so a concurrent
//    cancel waits for this transaction), a park moves it (due at its runAt, or at once if it was
//    woken while it ran), a finish deletes it and writes the run's end columns once.
// 2. The writes of the commits that applied, in one statement: checkpoints upserted (a replaced
//    one keeps its position), attempts appended (one already recorded is left), values over
//    maxInlineBytes out of line, child runs and child calls created, and the parents of the
//    finished runs woken. A separate statement from the fence, so that waking a parent that is
//    itself in the batch (parked or touched by step 1) sees its new state: one statement cannot
//    change a row twice.
// Both notify the listeners of other processes of due work they created, at commit.
import { StoreError } from "../../core/errors.ts";
import type { RunUid } from "../../core/ids.ts";
import type { ChildCall, RunEnd, RunPark, RunRef, StepBatch } from "../../core/run-log.ts";
import type { PostgresConnection, Query } from "./postgres-connection.ts";
import { lockParkedEventsSql } from "./event-locks.ts";
import { columnsOf, NEW_CALL_UNNEST, newCallRow, newCallWeight } from "./row-mapping.ts";
import {
  CHECKPOINT_UNNEST,
  checkpointRow,
  insertRunsSql,
  NEW_RUN_UNNEST,
  newRunRow,
  placeValue,
  STEP_ATTEMPT_UNNEST,
  stepAttemptRow,
  wakeRunsSql,
} from "./run-rows.ts";
import type { SchemaNames } from "./schema-names.ts";
import { commitInRounds, type BatchOutcome } from "./write-batcher.ts";

/** One commit of a claimed run: its steps, and maybe its park or its end. */
export type RunCommit = { ref: RunRef; batch: StepBatch; now: number } & (
  { type: "steps" } | { type: "park"; park: RunPark } | { type: "finish"; end: RunEnd }
);

// The fence's unnest(): the commit, then its park's or end's columns (NULL otherwise).
const FENCE_COLUMNS = [
  ["uid", "text[]"],
  ["lease_token", "bigint[]"],
  ["op", "text[]"],
  ["now", "bigint[]"],
  ["park_status", "text[]"],
  ["wait_code", "text[]"],
  ["phase", "text[]"],
  ["run_at", "bigint[]"],
  ["events", "text[]"],
  ["seen_since", "bigint[]"],
  ["seen_ids", "text[]"],
  ["end_status", "text[]"],
  ["output", "text[]"],
  ["error", "text[]"],
  ["fail_reason", "text[]"],
  ["compensation", "text[]"],
] as const;

interface Encoded {
  fence: unknown[];
  /** A park checking for unseen events (`eventsSeen`): its event names, as JSON. */
  checkedEvents: string | null;
  /** A finished run's output kept out of line. */
  output: string | null;
  checkpoints: unknown[][];
  values: unknown[][];
  attempts: unknown[][];
  runs: unknown[][];
  calls: unknown[][];
}

/** Commits claimed runs for `PostgresStore`, as the `run` of a `WriteBatcher`. */
export class RunCommits {
  readonly #db: PostgresConnection;
  readonly #channel: string;
  readonly #lockEvents: string;
  readonly #fence: string;
  readonly #writes: string;
  readonly #steps: string;

  constructor(db: PostgresConnection, names: SchemaNames) {
    this.#db = db;
    this.#channel = names.channel;
    const { work, runs, runSteps, runStepAttempts, runValues, calls, events } = names;
    const fenceParams = FENCE_COLUMNS.map(([, type], i) => `$${i + 1}::${type}`).join(", ");
    const fenceNames = FENCE_COLUMNS.map(([name]) => name).join(", ");
    const held =
      "w.id = v.uid AND w.kind = 'run' AND w.status = 'running' AND w.lease_token = v.lease_token";
    this.#lockEvents = lockParkedEventsSql(names);
    this.#fence =
      `WITH v AS (SELECT * FROM unnest(${fenceParams}) WITH ORDINALITY AS v(${fenceNames}, i)), ` +
      // A commit is progress: crashes_in_a_row starts again.
      `touched AS (UPDATE ${work} w SET updated_at = v.now, crashes_in_a_row = 0 FROM v WHERE ${held} ` +
      "AND v.op = 'steps' RETURNING v.i), " +
      // Woken while it ran, or an event it waits for arrived unseen (park.eventsSeen): due now,
      // whatever its park says (run-log.ts, parkRun). One scan of events_by_name (name = ANY).
      `parked AS (UPDATE ${work} w SET status = v.park_status, wait_code = v.wait_code, ` +
      "phase = v.phase, run_at = CASE WHEN w.woken OR (v.seen_since IS NOT NULL AND EXISTS (" +
      `SELECT 1 FROM ${events} e WHERE e.tenant_id = w.tenant_id ` +
      "AND e.name = ANY(ARRAY(SELECT json_array_elements_text(v.events::json))) " +
      "AND e.received_at >= v.seen_since " +
      "AND e.id <> ALL(ARRAY(SELECT json_array_elements_text(v.seen_ids::json))))) " +
      "THEN v.now ELSE v.run_at END, " +
      "woken = false, events = (SELECT array_agg(e) FROM json_array_elements_text(v.events::json) e), " +
      "lease_expires_at = NULL, worker_id = NULL, crashes_in_a_row = 0, updated_at = v.now FROM v " +
      `WHERE ${held} AND v.op = 'park' RETURNING v.i, w.run_at), ` +
      `ended AS (DELETE FROM ${work} w USING v WHERE ${held} AND v.op = 'finish' ` +
      "RETURNING v.i, w.id, w.lease_token, w.invocations, w.phase), " +
      `finished AS (UPDATE ${runs} r SET status = v.end_status, phase = e.phase, ` +
      "output = v.output, error = v.error, fail_reason = v.fail_reason, " +
      "compensation = v.compensation, invocations = e.invocations, lease_token = e.lease_token, " +
      "updated_at = v.now, ended_at = v.now FROM ended e JOIN v ON v.i = e.i " +
      "WHERE r.uid = e.id RETURNING e.i, r.parent_uid), " +
      `note AS (SELECT pg_notify($${FENCE_COLUMNS.length + 1}, min(run_at)::text) AS sent ` +
      "FROM parked WHERE run_at IS NOT NULL HAVING count(*) > 0) " +
      // Selecting note.sent makes the notification part of the statement's result.
      "SELECT x.i, x.parent_uid, (SELECT sent FROM note) AS sent FROM (" +
      "SELECT t.i, NULL AS parent_uid FROM touched t UNION ALL " +
      "SELECT p.i, NULL FROM parked p UNION ALL SELECT f.i, f.parent_uid FROM finished f) x";

    // Step commits only (no park, end, child or value out of line: a sequential workflow's every
    // step): fence and writes in one statement, without a transaction block, one round trip.
    // The writes take only the rows of the runs the fence touched.
    {
      let q = 3;
      const typed = (types: readonly string[]) => types.map((t) => `$${++q}::${t}`).join(", ");
      const stepRows = `unnest(${typed(CHECKPOINT_UNNEST.types)}) WITH ORDINALITY AS c(${CHECKPOINT_UNNEST.columns}, n)`;
      const attemptRows = `unnest(${typed(STEP_ATTEMPT_UNNEST.types)}) AS a(${STEP_ATTEMPT_UNNEST.columns})`;
      this.#steps =
        "WITH v AS (SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[]) " +
        "WITH ORDINALITY AS v(uid, lease_token, now, i)), " +
        `touched AS (UPDATE ${work} w SET updated_at = v.now, crashes_in_a_row = 0 FROM v ` +
        `WHERE ${held} RETURNING v.i, w.id), ` +
        `steps AS (INSERT INTO ${runSteps} (${CHECKPOINT_UNNEST.columns}) ` +
        `SELECT ${CHECKPOINT_UNNEST.columns} FROM ${stepRows} ` +
        "WHERE c.run_uid IN (SELECT id FROM touched) ORDER BY n " +
        "ON CONFLICT (run_uid, step_id) DO UPDATE SET kind = excluded.kind, " +
        "status = excluded.status, started_at = excluded.started_at, " +
        "attempts = excluded.attempts, output = excluded.output, error = excluded.error, " +
        "completed_at = excluded.completed_at, retry_at = excluded.retry_at, wait = excluded.wait, " +
        "event_id = excluded.event_id RETURNING run_uid, step_id), " +
        // A step written again inline drops the values it had out of line.
        `stale AS (DELETE FROM ${runValues} o USING steps s WHERE o.run_uid = s.run_uid ` +
        "AND o.slot IN ('output:' || s.step_id, 'wait:' || s.step_id)), " +
        `attempted AS (INSERT INTO ${runStepAttempts} (${STEP_ATTEMPT_UNNEST.columns}) ` +
        `SELECT ${STEP_ATTEMPT_UNNEST.columns} FROM ${attemptRows} ` +
        "WHERE a.run_uid IN (SELECT id FROM touched) " +
        "ON CONFLICT (run_uid, step_id, number) DO NOTHING) " +
        "SELECT i FROM touched";
    }

    let p = 0;
    const params = (types: readonly string[]) => types.map((t) => `$${++p}::${t}`).join(", ");
    const checkpoints = `unnest(${params(CHECKPOINT_UNNEST.types)}) WITH ORDINALITY AS c(${CHECKPOINT_UNNEST.columns}, n)`;
    const values = `unnest(${params(["text[]", "text[]", "text[]"])}) AS x(run_uid, slot, value)`;
    const attempts = `unnest(${params(STEP_ATTEMPT_UNNEST.types)}) AS a(${STEP_ATTEMPT_UNNEST.columns})`;
    const newRuns = `unnest(${params(NEW_RUN_UNNEST.types)}) WITH ORDINALITY AS v(${NEW_RUN_UNNEST.columns}, n)`;
    const newCalls = `unnest(${params([...NEW_CALL_UNNEST.types, "text[]"])}) WITH ORDINALITY AS v(${NEW_CALL_UNNEST.columns}, parent_run, n)`;
    const parents = `$${++p}::text[]`;
    const now = `$${++p}::bigint`;
    const channel = `$${++p}`;
    this.#writes =
      `WITH steps AS (INSERT INTO ${runSteps} (${CHECKPOINT_UNNEST.columns}) ` +
      `SELECT ${CHECKPOINT_UNNEST.columns} FROM ${checkpoints} ORDER BY n ` +
      "ON CONFLICT (run_uid, step_id) DO UPDATE SET kind = excluded.kind, " +
      "status = excluded.status, started_at = excluded.started_at, " +
      "attempts = excluded.attempts, output = excluded.output, error = excluded.error, " +
      "completed_at = excluded.completed_at, retry_at = excluded.retry_at, wait = excluded.wait, " +
      "event_id = excluded.event_id " +
      "RETURNING run_uid, step_id), " +
      // A step written again drops its out-of-line values, except those written again now.
      `ext AS (SELECT * FROM ${values}), ` +
      `stale AS (DELETE FROM ${runValues} o USING steps s WHERE o.run_uid = s.run_uid ` +
      "AND o.slot IN ('output:' || s.step_id, 'wait:' || s.step_id) " +
      "AND NOT EXISTS (SELECT 1 FROM ext WHERE ext.run_uid = o.run_uid AND ext.slot = o.slot)), " +
      `stored AS (INSERT INTO ${runValues} (run_uid, slot, value) SELECT run_uid, slot, value ` +
      "FROM ext ON CONFLICT (run_uid, slot) DO UPDATE SET value = excluded.value), " +
      `attempted AS (INSERT INTO ${runStepAttempts} (${STEP_ATTEMPT_UNNEST.columns}) ` +
      `SELECT ${STEP_ATTEMPT_UNNEST.columns} FROM ${attempts} ` +
      "ON CONFLICT (run_uid, step_id, number) DO NOTHING), " +
      `${insertRunsSql(names, newRuns, "child_")}, ` +
      // A child call whose id exists is not created again (a commit replayed after an unknown
      // outcome); one whose idempotency key a live call holds fails the commit.
      `inserted AS (INSERT INTO ${calls} (id, tenant_id, kind, parent_id, status, spec, ` +
      "idempotency_key, fingerprint, forwarded_key, deadline_at, created_at, updated_at, " +
      "parent_run) SELECT id, tenant_id, kind, parent_id, 'queued', spec, idempotency_key, " +
      `fingerprint, forwarded_key, deadline_at, created_at, created_at, parent_run FROM ${newCalls} ` +
      "ORDER BY n ON CONFLICT (id) DO NOTHING RETURNING id, tenant_id, kind, parent_id, created_at), " +
      `call_work AS (INSERT INTO ${work} (id, kind, tenant_id, parent_id, status, run_at, ` +
      "lease_token, attempts, attempt_base, crashes_in_a_row, updated_at) SELECT i.id, i.kind, " +
      `i.tenant_id, i.parent_id, 'queued', v.run_at, 0, 0, 0, 0, i.created_at FROM inserted i ` +
      `JOIN ${newCalls} ON v.id = i.id RETURNING run_at), ` +
      `woken AS (${wakeRunsSql(names, `r.id = ANY(${parents})`, now)}), ` +
      "due AS (SELECT run_at FROM child_work UNION ALL SELECT run_at FROM call_work " +
      "UNION ALL SELECT run_at FROM woken WHERE run_at IS NOT NULL), " +
      `note AS (SELECT pg_notify(${channel}, min(run_at)::text) AS sent FROM due HAVING count(*) > 0) ` +
      "SELECT (SELECT count(*) FROM steps)::integer AS steps, (SELECT sent FROM note) AS sent";
  }

  /**
   * `WriteBatcher` run for `commitSteps`, `parkRun` and `finishRun`: resolves `true` for each
   * commit applied, `false` for each fenced one. A commit that cannot be encoded fails alone; a
   * statement error (a child call's idempotency key held, a value PostgreSQL refuses) replays
   * the round commit by commit, so that only the faulty one fails; any other error (a lost
   * connection, a timeout) fails the round, since whether it committed is unknown.
   */
  run = (commits: RunCommit[]): Promise<BatchOutcome<boolean>[]> =>
    commitInRounds(
      commits,
      encode,
      (commit) => commit.ref.uid,
      (rows) => this.#commit(rows),
    );

  // One transaction: the locks of the events its parks check (event-locks.ts), the fence, then
  // the writes of the commits that applied. Returns the positions (0-based) of those.
  async #commit(rows: readonly Encoded[]): Promise<Set<number>> {
    if (rows.every(stepsOnly)) return await this.#commitSteps(rows);
    return await this.#db.transaction(async (query) => {
      const checking = rows.filter((row) => row.checkedEvents !== null);
      if (checking.length > 0) {
        await query({
          name: "steadfast_lock_parked_events",
          text: this.#lockEvents,
          values: [checking.map((row) => row.fence[0]), checking.map((row) => row.checkedEvents)],
        });
      }
      const { rows: done } = await query({
        name: "steadfast_fence_runs",
        text: this.#fence,
        values: [
          ...columnsOf(
            rows.map((row) => row.fence),
            FENCE_COLUMNS.length,
          ),
          this.#channel,
        ],
      });
      const applied = new Set(done.map((row) => Number(row.i) - 1));
      const parents = done.flatMap((row) => (row.parent_uid === null ? [] : [row.parent_uid]));
      const mine = rows.filter((_, k) => applied.has(k));
      if (mine.length > 0) await this.#write(query, mine, parents);
      return applied;
    });
  }

  // Step-only commits: one statement (see the constructor).
  async #commitSteps(rows: readonly Encoded[]): Promise<Set<number>> {
    const all = (pick: (row: Encoded) => unknown[][]) => rows.flatMap(pick);
    const { rows: done } = await this.#db.query({
      name: "steadfast_commit_run_steps",
      text: this.#steps,
      values: [
        rows.map((row) => row.fence[0]),
        rows.map((row) => row.fence[1]),
        rows.map((row) => row.fence[3]),
        ...columnsOf(
          all((row) => row.checkpoints),
          CHECKPOINT_UNNEST.types.length,
        ),
        ...columnsOf(
          all((row) => row.attempts),
          STEP_ATTEMPT_UNNEST.types.length,
        ),
      ],
    });
    return new Set(done.map((row) => Number(row.i) - 1));
  }

  async #write(query: Query, rows: readonly Encoded[], parents: unknown[]): Promise<void> {
    const all = (pick: (row: Encoded) => unknown[][]) => rows.flatMap(pick);
    const values = all((row) => row.values);
    for (const row of rows) {
      // A finished run's output out of line (its uid is its fence's first value).
      if (row.output !== null) values.push([row.fence[0], "output", row.output]);
    }
    await query({
      name: "steadfast_write_runs",
      text: this.#writes,
      values: [
        ...columnsOf(
          all((row) => row.checkpoints),
          CHECKPOINT_UNNEST.types.length,
        ),
        ...columnsOf(values, 3),
        ...columnsOf(
          all((row) => row.attempts),
          STEP_ATTEMPT_UNNEST.types.length,
        ),
        ...columnsOf(
          all((row) => row.runs),
          NEW_RUN_UNNEST.types.length,
        ),
        ...columnsOf(
          all((row) => row.calls),
          NEW_CALL_UNNEST.types.length + 1,
        ),
        parents,
        Math.max(...rows.map((row) => row.fence[3] as number)),
        this.#channel,
      ],
    });
  }
}

/** A commit of steps alone: no park or end, no child, no value out of line. */
function stepsOnly(row: Encoded): boolean {
  return (
    row.fence[2] === "steps" &&
    row.values.length === 0 &&
    row.runs.length === 0 &&
    row.calls.length === 0
  );
}

/** Approximate parameter bytes of a run commit, for batch sizing. */
export function runCommitWeight(commit: RunCommit): number {
  let weight = 1_024;
  for (const checkpoint of commit.batch.checkpoints) {
    weight += 256;
    if (checkpoint.status === "completed") weight += checkpoint.output.length;
    if (checkpoint.status === "waiting") weight += JSON.stringify(checkpoint.wait).length;
  }
  weight += commit.batch.attempts.length * 256;
  for (const run of commit.batch.runs ?? []) weight += 512 + run.input.length;
  for (const call of commit.batch.calls ?? []) weight += newCallWeight(call);
  if (commit.type === "finish" && commit.end.status === "succeeded") {
    weight += commit.end.output.length;
  }
  return weight;
}

function encode(commit: RunCommit): Encoded {
  const { ref, batch, now } = commit;
  const uid = ref.uid;
  const park = commit.type === "park" ? commit.park : undefined;
  const end = commit.type === "finish" ? commit.end : undefined;
  const output = placeValue(end?.status === "succeeded" ? end.output : undefined);
  const failed = end?.status === "failed" ? end : undefined;
  const events = park?.events === undefined || park.events.length === 0 ? undefined : park.events;
  // The last checkpoint of a step wins (one row is written per step).
  const latest = new Map<string, Encoded["checkpoints"][number]>();
  const values: unknown[][] = [];
  const slotsOf = new Map<string, [string, string][]>();
  for (const checkpoint of batch.checkpoints) {
    const { row, external } = checkpointRow(uid, checkpoint);
    latest.delete(checkpoint.stepId);
    latest.set(checkpoint.stepId, row);
    slotsOf.set(checkpoint.stepId, external);
  }
  for (const external of slotsOf.values()) {
    for (const [slot, value] of external) values.push([uid, slot, value]);
  }
  for (const child of batch.runs ?? []) {
    if (child.parent?.uid !== uid) {
      throw new StoreError(
        "invariant_broken",
        `Child run ${child.uid} of run ${uid} names parent ${child.parent?.uid ?? "(none)"}: ` +
          "a run started by a step has that step's run as its parent.",
      );
    }
  }
  return {
    fence: [
      uid,
      ref.leaseToken,
      commit.type,
      now,
      park?.status ?? null,
      park?.status === "waiting" ? (park.waitCode ?? null) : null,
      park?.phase ?? null,
      park?.runAt ?? null,
      events === undefined ? null : JSON.stringify(events),
      events === undefined ? null : (park?.eventsSeen?.since ?? null),
      events === undefined || park?.eventsSeen === undefined
        ? null
        : JSON.stringify(park.eventsSeen.ids),
      end?.status ?? null,
      output.inline,
      failed === undefined ? null : JSON.stringify(failed.error),
      failed?.reason ?? null,
      failed?.compensation === undefined ? null : JSON.stringify(failed.compensation),
    ],
    checkedEvents:
      events === undefined || park?.eventsSeen === undefined ? null : JSON.stringify(events),
    output: output.external,
    checkpoints: [...latest.values()],
    values,
    attempts: batch.attempts.map((attempt) => stepAttemptRow(uid, attempt)),
    runs: (batch.runs ?? []).map((run) => newRunRow(run)),
    calls: (batch.calls ?? []).map((call) => childCallRow(uid, call)),
  };
}

function childCallRow(uid: RunUid, call: ChildCall): unknown[] {
  if (call.parentRun !== uid) {
    throw new StoreError(
      "invariant_broken",
      `Child call ${call.id} of run ${uid} names parent run ${call.parentRun}: a call started ` +
        "by a step has that step's run as its parentRun.",
    );
  }
  return [...newCallRow(call), call.parentRun];
}
