// Claims and leases: claiming due work, renewing and releasing leases, and the next wake-up.
// All of them read and write the narrow `work` table (migration 0008), never the wide `calls`
// row, which a claim only reads (the call it returns).
//
// Fencing: every claim increments work.lease_token; every write about a claim is conditional
// on status = 'running' AND lease_token = the claim's token.
//
// Many processes claim at once: the rows are chosen and locked with FOR UPDATE SKIP LOCKED, so
// a claimer skips rows another is claiming instead of waiting for it, and a row claimed (and
// committed) since the statement began fails the re-check of its WHERE clause on the new
// version (READ COMMITTED), so no call is claimed twice.
//
// The UPDATE finds each locked row again by its ctid (a TID scan: one heap page) rather than by
// id through work_pkey (an index descent per row). Nobody can move a row we hold locked, so the
// ctid stays valid. A row whose locked version was committed after the statement's snapshot
// (written by another process meanwhile) is not visible to the TID scan and is simply not
// claimed this time: it stays due, and it is never claimed twice.
import type { WaitCode } from "../../core/call.ts";
import type { WorkerId } from "../../core/ids.ts";
import { takenOverAttempt } from "../../core/interruption.ts";
import type { Claim, ClaimRef } from "../../core/store.ts";
import type { PostgresConnection } from "./postgres-connection.ts";
import { sentColumns } from "../call-rows.ts";
import { callColumns, callFromRow } from "./row-mapping.ts";
import type { SchemaNames } from "./schema-names.ts";

/** Claim, lease renewal, lease release and wake-up queries of `PostgresStore`. */
export class ClaimWrites {
  readonly #db: PostgresConnection;
  readonly #claim: string;
  readonly #renew: string;
  readonly #release: string;
  readonly #nextWake: string;
  readonly #nextAnyWake: string;
  readonly #channel: string;

  constructor(db: PostgresConnection, names: SchemaNames) {
    this.#db = db;
    this.#channel = names.channel;
    // One statement: choose, lock and update. RETURNING order is not the ORDER BY's, so the
    // due time comes back for sorting. A call taken over (it was running: its lease expired)
    // counts its cut-off attempt (but not against maxAttempts: attempt_base, and as a crash),
    // which the `interrupted` CTE records from the claimed rows (so only for calls this
    // statement did claim), started at the previous claim's time. A row already holding its
    // number (an inconsistent log) is left alone: it must never fail every claim.
    this.#claim =
      // due_at is generated: run_at while queued or waiting, the lease expiry while running.
      // The wait code before the claim comes back too (Claim.heldFor).
      "WITH due AS MATERIALIZED (SELECT ctid, due_at, wait_code AS held, " +
      `status AS prior_status, updated_at AS prior_claim_at FROM ${names.work} ` +
      // `kind <> 'run'`: calls only, through the partial work_due (runs: run-claims.ts).
      "WHERE due_at <= $1 AND kind <> 'run' ORDER BY due_at LIMIT $4 FOR UPDATE SKIP LOCKED), " +
      `claimed AS (UPDATE ${names.work} w SET status = 'running', ` +
      "lease_token = w.lease_token + 1, lease_expires_at = $2, worker_id = $3, " +
      "attempts = w.attempts + (w.status = 'running')::integer, " +
      "attempt_base = w.attempt_base + (w.status = 'running')::integer, " +
      "crashes_in_a_row = w.crashes_in_a_row + (w.status = 'running')::integer, " +
      "wait_reason = NULL, wait_code = NULL, wait_destination = NULL, updated_at = $1 " +
      // `ctid = ANY(...)` makes the rows a TID scan: joined on ctid alone, the planner prefers a
      // sequential scan of this narrow table (cheaper by its cost model, not in fact).
      "FROM due WHERE w.ctid = ANY(ARRAY(SELECT ctid FROM due)) AND w.ctid = due.ctid " +
      "RETURNING w.id, w.status, w.attempts, w.attempt_base, " +
      "w.crashes_in_a_row, w.updated_at, w.lease_token, w.run_at, w.wait_reason, w.wait_code, " +
      "w.wait_destination, due.due_at, due.held, due.prior_status, due.prior_claim_at), " +
      `interrupted AS (INSERT INTO ${names.attempts} (call_id, number, started_at, duration_ms, ` +
      "outcome, sent, sent_unknown, decision) SELECT id, attempts, prior_claim_at, " +
      "GREATEST(0, $1 - prior_claim_at), $5, $7, $8, $6 FROM claimed " +
      "WHERE prior_status = 'running' ON CONFLICT (call_id, number) DO NOTHING) " +
      // The call itself from its wide row, its live state from the claimed work row.
      `SELECT ${callColumns("c", "w")}, w.due_at, w.held, w.prior_status ` +
      `FROM claimed w JOIN ${names.calls} c ON c.id = w.id`;
    this.#renew =
      `UPDATE ${names.work} w SET lease_expires_at = $1 ` +
      "FROM unnest($2::text[], $3::bigint[]) AS v(id, lease_token) " +
      "WHERE w.id = v.id AND w.kind <> 'run' AND w.status = 'running' " +
      "AND w.lease_token = v.lease_token RETURNING w.id, w.lease_token";
    this.#release =
      `WITH released AS (UPDATE ${names.work} w SET ` +
      "status = CASE WHEN w.attempts > 0 THEN 'waiting' ELSE 'queued' END, " +
      "wait_reason = CASE WHEN w.attempts > 0 THEN 'lease released' ELSE NULL END, " +
      "wait_code = NULL, wait_destination = NULL, " +
      "run_at = $1, lease_expires_at = NULL, worker_id = NULL, updated_at = $1 " +
      "FROM unnest($2::text[], $3::bigint[]) AS v(id, lease_token) " +
      "WHERE w.id = v.id AND w.kind <> 'run' AND w.status = 'running' " +
      "AND w.lease_token = v.lease_token RETURNING w.id) " +
      "SELECT pg_notify($4, $1::text) AS sent FROM released HAVING count(*) > 0";
    this.#nextWake = `SELECT min(due_at) AS at FROM ${names.work} WHERE kind <> 'run'`;
    this.#nextAnyWake =
      `SELECT least((SELECT min(due_at) FROM ${names.work} WHERE kind <> 'run'), ` +
      `(SELECT min(due_at) FROM ${names.work} WHERE kind = 'run')) AS at`;
  }

  /** Claims up to `limit` due calls, earliest due first. See `Store.claimDue`. */
  async claimDue(query: {
    now: number;
    limit: number;
    leaseMs: number;
    workerId: WorkerId;
  }): Promise<Claim[]> {
    const limit = Math.floor(query.limit);
    if (!(limit > 0)) return [];
    const leaseExpiresAt = query.now + query.leaseMs;
    const takeover = takenOverAttempt(query.workerId);
    const sent = sentColumns(takeover.sent);
    const { rows } = await this.#db.query({
      name: "steadfast_claim_due",
      text: this.#claim,
      values: [
        query.now,
        leaseExpiresAt,
        query.workerId,
        limit,
        JSON.stringify(takeover.outcome),
        JSON.stringify(takeover.decision),
        sent.sent,
        sent.sentUnknown,
      ],
    });
    rows.sort(
      (a, b) =>
        (a.due_at as number) - (b.due_at as number) ||
        ((a.id as string) < (b.id as string) ? -1 : 1),
    );
    return rows.map((row) => {
      const claim: Claim = {
        call: callFromRow(row),
        leaseToken: row.lease_token as number,
        leaseExpiresAt,
      };
      if (row.held !== null && row.held !== undefined) claim.heldFor = row.held as WaitCode;
      if (row.prior_status === "running") claim.takenOver = true;
      return claim;
    });
  }

  /** See `Store.renewLeases`: the token, not the clock, decides whether a lease is held. */
  async renewLeases(refs: readonly ClaimRef[], leaseExpiresAt: number): Promise<ClaimRef[]> {
    if (refs.length === 0) return [];
    const { rows } = await this.#db.query({
      name: "steadfast_renew_leases",
      text: this.#renew,
      values: [leaseExpiresAt, refs.map((r) => r.callId), refs.map((r) => r.leaseToken)],
    });
    const held = new Set(rows.map((row) => `${row.id as string}/${row.lease_token as number}`));
    return refs.filter((ref) => !held.has(`${ref.callId}/${ref.leaseToken}`));
  }

  /**
   * See `Store.releaseClaims`: released calls are due at `now` (`queued` before any attempt,
   * else `waiting` with reason `lease released`), and listeners are woken. Refs no longer held
   * are ignored.
   */
  async releaseClaims(refs: readonly ClaimRef[], now: number): Promise<void> {
    if (refs.length === 0) return;
    await this.#db.query({
      name: "steadfast_release_claims",
      text: this.#release,
      values: [now, refs.map((r) => r.callId), refs.map((r) => r.leaseToken), this.#channel],
    });
  }

  /**
   * The earliest due time of any work, calls and runs of every workflow (two index probes):
   * the LISTEN connection's catch-up, which cannot know the workflows its subscribers run.
   */
  async nextAnyWakeAt(): Promise<number | undefined> {
    const { rows } = await this.#db.query({
      name: "steadfast_next_any_wake",
      text: this.#nextAnyWake,
    });
    const at = rows[0]?.at;
    return at === null || at === undefined ? undefined : Number(at);
  }

  /** See `Store.nextWakeAt`: one ordered index probe. */
  async nextWakeAt(): Promise<number | undefined> {
    const { rows } = await this.#db.query({ name: "steadfast_next_wake", text: this.#nextWake });
    const at = rows[0]?.at;
    return typeof at === "number" ? at : undefined;
  }
}
