// The engine's writes on calls: create, claim, commit an attempt, renew and release leases.
// Each function is synchronous and runs inside the group-commit transaction (see
// group-commit.ts), so its statements are atomic together.
//
// Fencing: every claim increments calls.lease_token; every write about a claim is conditional
// on status = 'running' AND lease_token = the claim's token.
import type { WaitCode } from "../../core/call.ts";
import type { CallId, WorkerId } from "../../core/ids.ts";
import { takenOverAttempt } from "../../core/interruption.ts";
import { StoreError } from "../../core/errors.ts";
import type {
  AttemptCommit,
  Claim,
  ClaimRef,
  CreateCallResult,
  NewCall,
} from "../../core/store.ts";
import {
  ATTEMPT_COLUMNS,
  attemptInsertParams,
  CALL_INSERT_COLUMNS,
  callFromRow,
  callInsertParams,
  newCallRecord,
  type Row,
} from "./row-mapping.ts";
import type { Prepare } from "./statement-cache.ts";

const INSERT_CALL =
  `INSERT INTO calls (${CALL_INSERT_COLUMNS.join(", ")}) ` +
  `VALUES (${CALL_INSERT_COLUMNS.map(() => "?").join(", ")}) ` +
  // Only a held idempotency key is tolerated; a duplicate id still fails.
  "ON CONFLICT (tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING";

const SELECT_BY_KEY = "SELECT * FROM calls WHERE tenant_id = ? AND idempotency_key = ?";

/**
 * Inserts `call` as queued (or running under `claim`), or returns the call already holding its
 * idempotency key.
 */
export function insertCall(
  sql: Prepare,
  call: NewCall,
  claim?: { workerId: string; leaseExpiresAt: number },
): CreateCallResult {
  const { changes } = sql(INSERT_CALL).run(...callInsertParams(call, claim));
  if (Number(changes) === 1) {
    const record = newCallRecord(call);
    if (claim !== undefined) record.status = "running";
    return { created: true, call: record };
  }
  const existing = sql(SELECT_BY_KEY).get(call.tenantId, call.idempotencyKey ?? null);
  if (existing === undefined) {
    throw new StoreError(
      "invariant_broken",
      `Call ${call.id} was neither inserted nor found by its idempotency key.`,
    );
  }
  return { created: false, call: callFromRow(existing) };
}

// Due queued/waiting calls by run_at, and running calls whose lease expired by expiry time,
// merged on that due time. Each branch walks its partial index. A running call (taken over)
// comes with its previous claim's time and its attempts, to record its cut-off attempt.
const SELECT_DUE =
  "SELECT id, held, prior_claim_at, attempts FROM (" +
  "SELECT id, due, held, NULL AS prior_claim_at, NULL AS attempts FROM (" +
  "SELECT id, run_at AS due, wait_code AS held FROM calls " +
  "WHERE status IN ('queued', 'waiting') AND run_at <= ?1 ORDER BY run_at LIMIT ?2) " +
  "UNION ALL " +
  "SELECT id, due, NULL, prior_claim_at, attempts FROM (" +
  "SELECT id, lease_expires_at AS due, updated_at AS prior_claim_at, attempts FROM calls " +
  "WHERE status = 'running' AND lease_expires_at <= ?1 ORDER BY lease_expires_at LIMIT ?2)" +
  ") ORDER BY due, id LIMIT ?2";

// One statement for the whole batch: the ids chosen by SELECT_DUE, as a JSON array.
const CLAIM =
  "UPDATE calls SET status = 'running', lease_token = lease_token + 1, lease_expires_at = ?, " +
  "worker_id = ?, wait_reason = NULL, wait_code = NULL, wait_destination = NULL, updated_at = ? " +
  "WHERE id IN (SELECT value FROM json_each(?)) RETURNING *";

// The cut-off attempt is counted, but not against maxAttempts (attempt_base), and as a crash.
const COUNT_TAKEOVER =
  "UPDATE calls SET attempts = ?, attempt_base = attempt_base + 1, " +
  "crashes_in_a_row = crashes_in_a_row + 1 WHERE id = ?";

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
  const rows = sql(CLAIM).all(
    leaseExpiresAt,
    query.workerId,
    query.now,
    JSON.stringify(due.map((d) => d.id)),
  );
  // RETURNING comes in no set order: back to the due order SELECT_DUE chose.
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

// An interrupted attempt (a graceful stop's) is not counted against maxAttempts and leaves the
// crash count; any other completed, which ends a run of crashes (see `Store.commitAttempt`).
const COMMIT_TRANSITION =
  "UPDATE calls SET status = ?, attempts = ?, attempt_base = attempt_base + ?, " +
  "crashes_in_a_row = CASE WHEN ? THEN crashes_in_a_row ELSE 0 END, " +
  "run_at = ?, wait_reason = ?, wait_code = NULL, " +
  "wait_destination = NULL, response = ?, " +
  "error = ?, completed_at = ?, idempotency_expires_at = ?, lease_expires_at = NULL, " +
  "worker_id = NULL, updated_at = ? WHERE id = ? AND status = 'running' AND lease_token = ?";

const INSERT_ATTEMPT =
  `INSERT INTO attempts (${ATTEMPT_COLUMNS.join(", ")}) ` +
  `VALUES (${ATTEMPT_COLUMNS.map(() => "?").join(", ")})`;

// A takeover's record of the attempt it cut off never fails the claim: a row already holding its
// number (an inconsistent log) stays as it is.
const INSERT_TAKEOVER_ATTEMPT = `${INSERT_ATTEMPT} ON CONFLICT (call_id, number) DO NOTHING`;

/** Records an attempt and applies its transition if the lease is still held. */
export function commitAttempt(sql: Prepare, commit: AttemptCommit): boolean {
  const { attempt, transition, now } = commit;
  if (attempt.callId !== commit.callId) {
    throw new StoreError(
      "invariant_broken",
      `Attempt ${attempt.number} names call ${attempt.callId} but is committed for ` +
        `${commit.callId}: pass the same call id in both.`,
    );
  }
  const waiting = transition.status === "waiting";
  const interrupted = attempt.outcome.type === "interrupted" ? 1 : 0;
  const { changes } = sql(COMMIT_TRANSITION).run(
    transition.status,
    attempt.number,
    interrupted,
    interrupted,
    waiting ? transition.runAt : null,
    waiting ? transition.reason : null,
    !waiting && transition.response !== undefined ? JSON.stringify(transition.response) : null,
    transition.status === "failed" ? JSON.stringify(transition.error) : null,
    waiting ? null : now,
    waiting ? null : transition.idempotencyExpiresAt,
    now,
    commit.callId,
    commit.leaseToken,
  );
  if (Number(changes) === 0) return false;
  sql(INSERT_ATTEMPT).run(...attemptInsertParams(attempt));
  if (commit.followUp !== undefined) insertCall(sql, commit.followUp);
  return true;
}

const RENEW =
  "UPDATE calls SET lease_expires_at = ? WHERE id = ? AND status = 'running' AND lease_token = ?";

/**
 * Extends the leases of `refs` to `leaseExpiresAt`. A lease is held while the call is running
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
  "UPDATE calls SET status = CASE WHEN attempts > 0 THEN 'waiting' ELSE 'queued' END, " +
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
