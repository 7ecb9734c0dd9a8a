// Retention (issue 14): deleting ended calls and runs past their retention, one statement per
// batch, oldest end first through calls_ended and runs_ended (migration 0011). Attempts, steps,
// step attempts and values go by their foreign keys (ON DELETE CASCADE).
//
// Concurrency: a batch locks the rows it chose (`FOR UPDATE SKIP LOCKED`), so purges in several
// processes take different rows and never wait for each other, and a row a redrive or a cancel
// is changing is left for the next batch. What changes a chosen row after it was read is checked
// again on its newest version (READ COMMITTED re-evaluates a locked row's conditions): a call or
// run redriven meanwhile has no end any more and is not deleted. A call's callback deliveries are
// locked too before the call is judged: a delivery redriven meanwhile is seen live (the call is
// kept), and one redriven after waits for this batch and then finds nothing to redrive.
import type { EndedPurge, PurgedCalls } from "../../core/store.ts";
import { purgeLimit } from "../../core/retention-log.ts";
import type { PostgresConnection } from "./postgres-connection.ts";
import type { SchemaNames } from "./schema-names.ts";

/**
 * The two statements of `RetentionWrites`: `$1` the cutoff, then `now` and the limit (calls), or
 * the limit (runs).
 */
export function retentionStatements(names: SchemaNames): { calls: string; runs: string } {
  const { calls, work, runs } = names;
  return {
    // Kept whatever their age (core/retention-log.ts): a held idempotency key, a callback
    // delivery not ended (calls_parent), a parent run still live (its work row, by primary key).
    // `OFFSET 0` keeps each NOT EXISTS a probe per candidate: without it the planner makes it an
    // anti join or a hashed subplan, which reads every callback (or every live work row) once
    // per batch, since it expects few of them to match.
    calls:
      `WITH candidates AS (SELECT c.id FROM ${calls} c ` +
      "WHERE c.kind = 'call' AND c.completed_at < $1 " +
      "AND (c.idempotency_expires_at IS NULL OR c.idempotency_expires_at < $2) " +
      "AND NOT EXISTS (SELECT 1 FROM " +
      `${calls} d WHERE d.parent_id = c.id AND d.completed_at IS NULL OFFSET 0) ` +
      "AND (c.parent_run IS NULL OR NOT EXISTS (SELECT 1 FROM " +
      `${work} w WHERE w.id = c.parent_run OFFSET 0)) ` +
      "ORDER BY c.completed_at LIMIT $3 FOR UPDATE OF c SKIP LOCKED), " +
      `deliveries AS (SELECT d.id, d.parent_id, d.completed_at FROM ${calls} d ` +
      "WHERE d.parent_id IN (SELECT id FROM candidates) FOR UPDATE OF d), " +
      "doomed AS (SELECT c.id FROM candidates c WHERE NOT EXISTS " +
      "(SELECT 1 FROM deliveries d WHERE d.parent_id = c.id AND d.completed_at IS NULL)), " +
      `gone_deliveries AS (DELETE FROM ${calls} d USING deliveries x ` +
      "WHERE d.id = x.id AND x.parent_id IN (SELECT id FROM doomed) RETURNING 1), " +
      `gone AS (DELETE FROM ${calls} c USING doomed x WHERE c.id = x.id RETURNING 1) ` +
      "SELECT (SELECT count(*) FROM gone)::int AS calls, " +
      "(SELECT count(*) FROM gone_deliveries)::int AS callbacks",
    // As for calls, a live parent's work row is probed per candidate (OFFSET 0).
    runs:
      `WITH doomed AS (SELECT r.uid FROM ${runs} r WHERE r.ended_at < $1 ` +
      "AND (r.parent_uid IS NULL OR NOT EXISTS (SELECT 1 FROM " +
      `${work} w WHERE w.id = r.parent_uid OFFSET 0)) ` +
      "ORDER BY r.ended_at LIMIT $2 FOR UPDATE OF r SKIP LOCKED), " +
      `gone AS (DELETE FROM ${runs} r USING doomed d WHERE r.uid = d.uid RETURNING 1) ` +
      "SELECT count(*)::int AS runs FROM gone",
  };
}

/** `purgeEndedCalls` and `purgeEndedRuns` of `PostgresStore`. */
export class RetentionWrites {
  readonly #db: PostgresConnection;
  readonly #calls: string;
  readonly #runs: string;

  constructor(db: PostgresConnection, names: SchemaNames) {
    this.#db = db;
    const statements = retentionStatements(names);
    this.#calls = statements.calls;
    this.#runs = statements.runs;
  }

  /** See `Store.purgeEndedCalls`. */
  async purgeEndedCalls(purge: EndedPurge): Promise<PurgedCalls> {
    const { rows } = await this.#db.query({
      name: "steadfast_purge_ended_calls",
      text: this.#calls,
      values: [purge.endedBefore, purge.now, purgeLimit(purge.limit)],
    });
    return { calls: Number(rows[0]?.calls ?? 0), callbacks: Number(rows[0]?.callbacks ?? 0) };
  }

  /** See `Store.purgeEndedRuns`. */
  async purgeEndedRuns(purge: EndedPurge): Promise<number> {
    const { rows } = await this.#db.query({
      name: "steadfast_purge_ended_runs",
      text: this.#runs,
      values: [purge.endedBefore, purgeLimit(purge.limit)],
    });
    return Number(rows[0]?.runs ?? 0);
  }
}
