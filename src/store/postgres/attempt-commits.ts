// Committing attempts in batches: one statement records every attempt of the batch whose lease
// is still held, moves those calls, and creates their follow-up calls.
//
// A call that waits for its next attempt stays live: only its narrow `work` row changes. A call
// that ends (succeeded, failed) loses its work row, and its wide `calls` row gets its end
// columns, the one write it has after its creation (migration 0008).
//
// A call started by a run's step (`ChildCall`, calls.parent_run) wakes that run in the statement
// that ends it.
//
// Fencing: a commit applies only if the call's work row is running under the commit's lease
// token. The UPDATE and DELETE of work rows return the commits that applied; the attempt rows,
// end columns and follow-ups are written for those only, so a fenced commit writes nothing.
import type { AttemptCommit } from "../../core/store.ts";
import { sentColumns } from "../call-rows.ts";
import type { PostgresConnection } from "./postgres-connection.ts";
import { StoreError } from "../../core/errors.ts";
import { insertCallsSql, insertWorkSql } from "./call-inserts.ts";
import { columnsOf, NEW_CALL_UNNEST, newCallRow } from "./row-mapping.ts";
import { wakeRunsSql } from "./run-rows.ts";
import type { SchemaNames } from "./schema-names.ts";
import { commitInRounds, type BatchOutcome } from "./write-batcher.ts";

// The unnest() of the commits: the call's new state, then the attempt row.
const COMMIT_COLUMNS = [
  ["call_id", "text[]"],
  ["lease_token", "bigint[]"],
  ["status", "text[]"],
  ["number", "integer[]"],
  ["run_at", "bigint[]"],
  ["wait_reason", "text[]"],
  ["response", "text[]"],
  ["error", "text[]"],
  ["completed_at", "bigint[]"],
  ["idempotency_expires_at", "bigint[]"],
  ["now", "bigint[]"],
  ["started_at", "bigint[]"],
  ["duration_ms", "double precision[]"],
  ["connect_ms", "double precision[]"],
  ["first_byte_ms", "double precision[]"],
  ["outcome", "text[]"],
  ["sent", "boolean[]"],
  ["sent_unknown", "boolean[]"],
  ["decision", "text[]"],
  ["interrupted", "boolean[]"],
] as const;

interface EncodedCommit {
  values: unknown[];
  followUp: unknown[] | undefined;
}

/** Commits attempts for `PostgresStore`, as the `run` of a `WriteBatcher`. */
export class AttemptCommits {
  readonly #db: PostgresConnection;
  readonly #channel: string;
  readonly #sql: string;

  constructor(db: PostgresConnection, names: SchemaNames) {
    this.#db = db;
    this.#channel = names.channel;
    const n = COMMIT_COLUMNS.length;
    const commitParams = COMMIT_COLUMNS.map(([, type], i) => `$${i + 1}::${type}`).join(", ");
    const commitNames = COMMIT_COLUMNS.map(([name]) => name).join(", ");
    const followParams = NEW_CALL_UNNEST.types.map((type, i) => `$${n + 2 + i}::${type}`);
    const channelParam = `$${n + 2 + NEW_CALL_UNNEST.types.length}`;
    const held = "w.id = v.call_id AND w.status = 'running' AND w.lease_token = v.lease_token";
    this.#sql =
      `WITH v AS (SELECT * FROM unnest(${commitParams}) WITH ORDINALITY AS v(${commitNames}, i)), ` +
      // An interrupted attempt (a graceful stop's) is not counted against maxAttempts and
      // leaves the crash count; any other completed, which ends a run of crashes.
      `waits AS (UPDATE ${names.work} w SET status = v.status, attempts = v.number, ` +
      "attempt_base = w.attempt_base + v.interrupted::integer, " +
      "crashes_in_a_row = CASE WHEN v.interrupted THEN w.crashes_in_a_row ELSE 0 END, " +
      "run_at = v.run_at, wait_reason = v.wait_reason, wait_code = NULL, wait_destination = NULL, " +
      "lease_expires_at = NULL, worker_id = NULL, updated_at = v.now FROM v " +
      `WHERE ${held} AND v.status = 'waiting' RETURNING v.i), ` +
      `ends AS (DELETE FROM ${names.work} w USING v WHERE ${held} AND v.status <> 'waiting' ` +
      "RETURNING v.i, w.attempt_base, w.crashes_in_a_row, w.lease_token), " +
      `ended AS (UPDATE ${names.calls} c SET status = v.status, attempts = v.number, ` +
      "attempt_base = e.attempt_base + v.interrupted::integer, " +
      "crashes_in_a_row = CASE WHEN v.interrupted THEN e.crashes_in_a_row ELSE 0 END, " +
      "response = v.response, error = v.error, lease_token = e.lease_token, " +
      "completed_at = v.completed_at, idempotency_expires_at = v.idempotency_expires_at, " +
      "updated_at = v.now FROM ends e JOIN v ON v.i = e.i WHERE c.id = v.call_id " +
      "RETURNING c.parent_run), " +
      // A call started by a run's step wakes that run as it ends (run-log.ts, ChildCall).
      `parents AS (${wakeRunsSql(names, "r.id IN (SELECT parent_run FROM ended)", "(SELECT max(now) FROM v)")}), ` +
      "done AS (SELECT i FROM waits UNION ALL SELECT i FROM ends), " +
      `recorded AS (INSERT INTO ${names.attempts} (call_id, number, started_at, duration_ms, ` +
      "connect_ms, first_byte_ms, outcome, sent, sent_unknown, decision) SELECT v.call_id, " +
      "v.number, v.started_at, v.duration_ms, v.connect_ms, v.first_byte_ms, v.outcome, " +
      "v.sent, v.sent_unknown, v.decision FROM v JOIN done ON done.i = v.i), " +
      // The follow-ups of the commits that applied, and their work rows.
      `fv AS (SELECT v.* FROM unnest($${n + 1}::bigint[], ${followParams.join(", ")}) ` +
      `AS v(commit_i, ${NEW_CALL_UNNEST.columns}) JOIN done ON done.i = v.commit_i), ` +
      `inserted AS (${insertCallsSql(names, "fv", "commit_i")}), ` +
      `follow AS (${insertWorkSql(names, "fv v")}), ` +
      // Follow-ups are new due work: wake the listeners of other processes, at commit.
      `note AS (SELECT pg_notify(${channelParam}, min(run_at)::text) AS sent FROM ` +
      "(SELECT run_at FROM follow UNION ALL SELECT run_at FROM parents " +
      "WHERE run_at IS NOT NULL) due HAVING count(*) > 0) " +
      "SELECT done.i, note.sent FROM done LEFT JOIN note ON true";
  }

  /**
   * `WriteBatcher` run for `commitAttempt`: resolves `true` for each commit applied, `false` for
   * each fenced one. An invalid commit fails alone; a statement error (a duplicate attempt
   * number, a duplicate follow-up id) replays the batch commit by commit so that only the
   * faulty one fails; any other error (a lost connection, a timeout) fails the batch, since
   * whether it committed is unknown.
   * Two commits for one call in a batch go in successive statements, in order.
   */
  run = (commits: AttemptCommit[]): Promise<BatchOutcome<boolean>[]> =>
    commitInRounds(
      commits,
      encodeCommit,
      (commit) => commit.callId,
      (rows) => this.#commit(rows),
    );

  // Runs the statement; returns the positions (0-based) of the commits applied.
  async #commit(rows: readonly EncodedCommit[]): Promise<Set<number>> {
    const followUps: unknown[][] = [];
    const followUpOf: number[] = [];
    for (const [k, row] of rows.entries()) {
      if (row.followUp === undefined) continue;
      followUps.push(row.followUp);
      // WITH ORDINALITY counts from 1.
      followUpOf.push(k + 1);
    }
    const { rows: done } = await this.#db.query({
      name: "steadfast_commit_attempts",
      text: this.#sql,
      values: [
        ...columnsOf(
          rows.map((row) => row.values),
          COMMIT_COLUMNS.length,
        ),
        followUpOf,
        ...columnsOf(followUps, NEW_CALL_UNNEST.types.length),
        this.#channel,
      ],
    });
    return new Set(done.map((row) => (row.i as number) - 1));
  }
}

// The commit's values in COMMIT_COLUMNS order, and its follow-up call's. Throws on a commit
// that could never apply, so that it fails alone before the batch is sent.
function encodeCommit(commit: AttemptCommit): EncodedCommit {
  const { attempt, transition, now } = commit;
  if (attempt.callId !== commit.callId) {
    throw new StoreError(
      "invariant_broken",
      `Attempt ${attempt.number} names call ${attempt.callId} but is committed for ` +
        `${commit.callId}: pass the same call id in both.`,
    );
  }
  const waiting = transition.status === "waiting";
  const sent = sentColumns(attempt.sent);
  return {
    values: [
      commit.callId,
      commit.leaseToken,
      transition.status,
      attempt.number,
      waiting ? transition.runAt : null,
      waiting ? transition.reason : null,
      !waiting && transition.response !== undefined ? JSON.stringify(transition.response) : null,
      transition.status === "failed" ? JSON.stringify(transition.error) : null,
      waiting ? null : now,
      waiting ? null : transition.idempotencyExpiresAt,
      now,
      attempt.startedAt,
      attempt.durationMs,
      attempt.connectMs ?? null,
      attempt.firstByteMs ?? null,
      JSON.stringify(attempt.outcome),
      sent.sent,
      sent.sentUnknown,
      JSON.stringify(attempt.decision),
      attempt.outcome.type === "interrupted",
    ],
    followUp: commit.followUp === undefined ? undefined : newCallRow(commit.followUp),
  };
}
