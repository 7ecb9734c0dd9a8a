// The engine's writes on claims: claim due work, renew and release leases. They touch only the
// narrow `work` table (migration 0009); a claim reads its call's payload from `calls`. Each
// function is synchronous and runs inside the group-commit transaction (see group-commit.ts), so
// its statements are atomic together.
//
// Fencing: every claim increments work.lease_token; every write about a claim is conditional on
// status = 'running' AND lease_token = the claim's token (and on the work row existing: the end
// of the work deletes it).
import type { WaitCode } from "../../core/call.ts";
import type { CallId, WorkerId } from "../../core/ids.ts";
import { takenOverAttempt } from "../../core/interruption.ts";
import type { Claim, ClaimRef } from "../../core/store.ts";
import { INSERT_ATTEMPT } from "./call-writes.ts";
import { CALL_COLUMNS } from "./call-select.ts";
import { attemptInsertParams, callFromRow, type Row } from "./row-mapping.ts";
import type { Prepare } from "./statement-cache.ts";

// Due queued/waiting calls by run_at, and running calls whose lease expired by expiry time, merged
// on that due time. Each branch walks its partial index, which holds no runs (migration 0011:
// `kind <> 'run'` repeats the index's predicate so that SQLite can use it). Running work (taken over) comes with its
// previous claim's time and its attempts, to record its cut-off attempt.
const SELECT_DUE =
  "SELECT id, held, prior_claim_at, attempts FROM (" +
  "SELECT id, due, held, NULL AS prior_claim_at, NULL AS attempts FROM (" +
  "SELECT id, run_at AS due, wait_code AS held FROM work " +
  "WHERE status IN ('queued', 'waiting') AND kind <> 'run' AND run_at <= ?1 " +
  "ORDER BY run_at LIMIT ?2) " +
  "UNION ALL " +
  "SELECT id, due, NULL, prior_claim_at, attempts FROM (" +
  "SELECT id, lease_expires_at AS due, updated_at AS prior_claim_at, attempts FROM work " +
  "WHERE status = 'running' AND kind <> 'run' AND lease_expires_at <= ?1 " +
  "ORDER BY lease_expires_at LIMIT ?2)" +
  ") ORDER BY due, id LIMIT ?2";

// One statement for the whole batch: the ids chosen by SELECT_DUE, as a JSON array. run_at stays:
// a running call shows the due time it was claimed at.
const CLAIM =
  "UPDATE work SET status = 'running', lease_token = lease_token + 1, lease_expires_at = ?, " +
  "worker_id = ?, wait_reason = NULL, wait_code = NULL, wait_destination = NULL, updated_at = ? " +
  "WHERE id IN (SELECT value FROM json_each(?))";

// The claimed calls, payload and live state, with their new tokens.
const SELECT_CLAIMED =
  `SELECT ${CALL_COLUMNS}, w.lease_token FROM work w JOIN calls c ON c.id = w.id ` +
  "WHERE w.id IN (SELECT value FROM json_each(?))";

// The cut-off attempt is counted, but not against maxAttempts (attempt_base), and as a crash.
const COUNT_TAKEOVER =
  "UPDATE work SET attempts = ?, attempt_base = attempt_base + 1, " +
  "crashes_in_a_row = crashes_in_a_row + 1 WHERE id = ?";

// A takeover's record of the attempt it cut off never fails the claim: a row already holding its
// number (an inconsistent log) stays as it is.
const INSERT_TAKEOVER_ATTEMPT = `${INSERT_ATTEMPT} ON CONFLICT (call_id, number) DO NOTHING`;

/** Claims up to `limit` due calls, earliest due first. See `Store.claimDue`. */
export function claimDue(
  sql: Prepare,
  query: { now: number; limit: number; leaseMs: number; workerId: WorkerId },
): Claim[] {
  if (query.limit <= 0) return [];
  const due = sql(SELECT_DUE).all(query.now, query.limit);
  const leaseExpiresAt = query.now + query.leaseMs;
  if (due.length === 0) return [];
  const takenOver = due.filter((d) => d.prior_claim_at !== null);
  if (takenOver.length > 0) recordTakeovers(sql, takenOver, query);
  const ids = JSON.stringify(due.map((d) => d.id));
  sql(CLAIM).run(leaseExpiresAt, query.workerId, query.now, ids);
  const rows = sql(SELECT_CLAIMED).all(ids);
  // The join comes in no set order: back to the due order SELECT_DUE chose.
  const byId = new Map(rows.map((row) => [row.id as string, row]));
  const claims: Claim[] = [];
  for (const { id, held, prior_claim_at: priorClaimAt } of due) {
    const row = byId.get(id as string)!;
    const claimed: Claim = {
      call: callFromRow(row),
      leaseToken: row.lease_token as number,
      leaseExpiresAt,
    };
    if (held !== null) claimed.heldFor = held as WaitCode;
    if (priorClaimAt !== null) claimed.takenOver = true;
    claims.push(claimed);
  }
  return claims;
}

// Records the cut-off attempt of each call taken over, and counts it (see `Store.claimDue`).
function recordTakeovers(
  sql: Prepare,
  takenOver: readonly Row[],
  query: { now: number; workerId: WorkerId },
): void {
  const cutOff = takenOverAttempt(query.workerId);
  for (const row of takenOver) {
    const callId = row.id as CallId;
    const number = Number(row.attempts) + 1;
    const startedAt = Number(row.prior_claim_at);
    sql(INSERT_TAKEOVER_ATTEMPT).run(
      ...attemptInsertParams({
        callId,
        number,
        startedAt,
        durationMs: Math.max(0, query.now - startedAt),
        ...cutOff,
      }),
    );
    sql(COUNT_TAKEOVER).run(number, callId);
  }
}

const RENEW =
  "UPDATE work SET lease_expires_at = ? WHERE id = ? AND status = 'running' AND lease_token = ?";

/**
 * Extends the leases of `refs` to `leaseExpiresAt`. A lease is held while the work is running
 * under the same token, even past its expiry if no other engine has claimed it meanwhile (the
 * token, not the clock, decides ownership). Returns the refs no longer held.
 */
export function renewLeases(
  sql: Prepare,
  refs: readonly ClaimRef[],
  leaseExpiresAt: number,
): ClaimRef[] {
  const renew = sql(RENEW);
  const lost: ClaimRef[] = [];
  for (const ref of refs) {
    const { changes } = renew.run(leaseExpiresAt, ref.callId, ref.leaseToken);
    if (Number(changes) === 0) lost.push(ref);
  }
  return lost;
}

const RELEASE =
  "UPDATE work SET status = CASE WHEN attempts > 0 THEN 'waiting' ELSE 'queued' END, " +
  "wait_reason = CASE WHEN attempts > 0 THEN 'lease released' ELSE NULL END, " +
  "wait_code = NULL, wait_destination = NULL, " +
  "run_at = ?, lease_expires_at = NULL, worker_id = NULL, updated_at = ? " +
  "WHERE id = ? AND status = 'running' AND lease_token = ?";

/**
 * Gives claims back, due at `now`: `queued` when no attempt was made yet, else `waiting` with
 * reason `lease released`. Refs no longer held are ignored.
 */
export function releaseClaims(sql: Prepare, refs: readonly ClaimRef[], now: number): void {
  const release = sql(RELEASE);
  for (const ref of refs) release.run(now, now, ref.callId, ref.leaseToken);
}
