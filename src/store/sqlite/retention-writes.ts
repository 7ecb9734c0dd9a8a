// Retention (issue 14): deleting ended calls and runs past their retention, one batch per write,
// oldest end first through calls_ended and runs_ended (migration 0012). Each function runs inside
// the group-commit transaction (group-commit.ts), which holds SQLite's one write lock: no other
// write (of this process or another) falls between choosing a batch and deleting it.
import type { EndedPurge, PurgedCalls } from "../../core/store.ts";
import { purgeLimit } from "../../core/retention-log.ts";
import type { Prepare } from "./statement-cache.ts";

/**
 * A batch of ended calls to delete, oldest end first (calls_ended): cutoff, now, limit. Kept
 * whatever their age (core/retention-log.ts): a held idempotency key, a callback delivery not
 * ended (calls_parent), a parent run still live (its work row, by primary key).
 */
export const ENDED_CALLS =
  "SELECT c.id FROM calls c " +
  "WHERE c.kind = 'call' AND c.completed_at < ? " +
  "AND (c.idempotency_expires_at IS NULL OR c.idempotency_expires_at < ?) " +
  "AND NOT EXISTS (SELECT 1 FROM calls d WHERE d.parent_id = c.id AND d.completed_at IS NULL) " +
  "AND (c.parent_run IS NULL OR NOT EXISTS (SELECT 1 FROM work w WHERE w.id = c.parent_run)) " +
  "ORDER BY c.completed_at LIMIT ?";

// Attempts go by their foreign key (ON DELETE CASCADE, through their primary key).
const DELETE_CALLBACKS = "DELETE FROM calls WHERE parent_id = ? AND kind = 'callback'";
const DELETE_CALL = "DELETE FROM calls WHERE id = ?";

/** See `Store.purgeEndedCalls`. */
export function purgeEndedCalls(sql: Prepare, purge: EndedPurge): PurgedCalls {
  const rows = sql(ENDED_CALLS).all(purge.endedBefore, purge.now, purgeLimit(purge.limit));
  let callbacks = 0;
  for (const row of rows) {
    callbacks += Number(sql(DELETE_CALLBACKS).run(row.id as string).changes);
    sql(DELETE_CALL).run(row.id as string);
  }
  return { calls: rows.length, callbacks };
}

/** A batch of ended runs to delete, oldest end first (runs_ended): cutoff, limit. */
export const ENDED_RUNS =
  "SELECT r.uid FROM runs r WHERE r.ended_at < ? " +
  "AND (r.parent_uid IS NULL OR NOT EXISTS (SELECT 1 FROM work w WHERE w.id = r.parent_uid)) " +
  "ORDER BY r.ended_at LIMIT ?";

// In the order the foreign keys want (no ON DELETE CASCADE in 0011): what refers to the run, the
// run, then the values the run and its steps referred to (run_values_run; the checks that nothing
// refers to them any more go through the *_ref indexes).
const DELETE_RUN = [
  "DELETE FROM run_step_attempts WHERE run_uid = ?",
  "DELETE FROM run_steps WHERE run_uid = ?",
  "DELETE FROM runs WHERE uid = ?",
  "DELETE FROM run_values WHERE run_uid = ?",
];

/** See `Store.purgeEndedRuns`. */
export function purgeEndedRuns(sql: Prepare, purge: EndedPurge): number {
  const rows = sql(ENDED_RUNS).all(purge.endedBefore, purgeLimit(purge.limit));
  for (const row of rows) for (const statement of DELETE_RUN) sql(statement).run(row.uid as string);
  return rows.length;
}
