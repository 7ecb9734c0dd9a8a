// Operator and API writes: cancel, redrive, idempotency-key purge, signing secrets (API keys:
// api-key-queries.ts). Each is
// one statement (or one short transaction), conditional on the call's state, so that concurrent
// engines and operators never see half a change.
import type { CallId, TenantId } from "../../core/ids.ts";
import type { ControlResult } from "../../core/store.ts";
import type { PostgresConnection } from "./postgres-connection.ts";
import { callColumns, callFromRow, type Row } from "./row-mapping.ts";
import { wakeRunsSql } from "./run-rows.ts";
import type { SchemaNames } from "./schema-names.ts";

// The work row a redrive (failed -> queued) creates again: its token continues from the one the
// call ended with, its attempts count from its last, its crash count starts again.
const REQUEUE_COLUMNS =
  "id, kind, tenant_id, parent_id, status, run_at, lease_token, attempts, attempt_base, " +
  "crashes_in_a_row, updated_at";

/** Cancel, redrive, purge and signing secret writes of `PostgresStore`. */
export class ControlWrites {
  readonly #db: PostgresConnection;
  readonly #names: SchemaNames;
  readonly #select: string;
  readonly #cancel: string;
  readonly #retry: string;
  readonly #purge: string;
  readonly #ensureSecret: string;

  constructor(db: PostgresConnection, names: SchemaNames) {
    this.#db = db;
    this.#names = names;
    const { calls, work } = names;
    this.#select =
      `SELECT ${callColumns("c", "w")} FROM ${calls} c LEFT JOIN ${work} w ON w.id = c.id ` +
      "WHERE c.id = $1 AND c.tenant_id = $2";
    // Ends live work (a work row): the row goes, the call gets its end columns. Incrementing the
    // lease token fences the attempt in flight, if any (its work row is gone too). Calls only
    // (`kind <> 'run'`): a run's work row is never a call's, whatever id is asked for.
    this.#cancel =
      `WITH ended AS (DELETE FROM ${work} w WHERE w.id = $1 AND w.tenant_id = $2 ` +
      "AND w.kind <> 'run' " +
      "RETURNING w.id, w.lease_token, w.attempts, w.attempt_base, w.crashes_in_a_row), " +
      `cancelled AS (UPDATE ${calls} c SET status = 'cancelled', ` +
      "lease_token = e.lease_token + 1, attempts = e.attempts, attempt_base = e.attempt_base, " +
      "crashes_in_a_row = e.crashes_in_a_row, completed_at = $3, idempotency_expires_at = $4, " +
      `updated_at = $3 FROM ended e WHERE c.id = e.id RETURNING ${callColumns("c")}), ` +
      // A call started by a run's step wakes that run as it ends (run-log.ts, ChildCall).
      `woken AS (${wakeRunsSql(names, "r.id IN (SELECT parent_run FROM cancelled)", "$3")}), ` +
      "note AS (SELECT pg_notify($5, $3::text) AS sent FROM woken WHERE run_at IS NOT NULL " +
      "HAVING count(*) > 0) " +
      "SELECT cancelled.*, (SELECT sent FROM note) AS sent FROM cancelled";
    // A waiting call is due now (retry-now: only its work row's due time moves); a failed one is
    // redriven (its end columns are reset and its work row created again, queued). Both in one
    // statement, so that the choice and the change see the same rows.
    this.#retry =
      `WITH hurried AS (UPDATE ${work} w SET run_at = $3, updated_at = $3 ` +
      "WHERE w.id = $1 AND w.tenant_id = $2 AND w.status = 'waiting' AND w.kind <> 'run' " +
      "RETURNING w.*), " +
      `redriven AS (UPDATE ${calls} c SET status = 'queued', attempt_base = c.attempts, ` +
      "crashes_in_a_row = 0, deadline_at = $4::bigint, response = NULL, error = NULL, " +
      "completed_at = NULL, idempotency_expires_at = NULL, updated_at = $3 " +
      "WHERE c.id = $1 AND c.tenant_id = $2 AND c.status = 'failed' RETURNING c.*), " +
      `requeued AS (INSERT INTO ${work} (${REQUEUE_COLUMNS}) SELECT id, kind, tenant_id, ` +
      "parent_id, 'queued', $3, lease_token, attempts, attempt_base, 0, $3 FROM redriven " +
      "RETURNING *), " +
      `changed AS (SELECT ${callColumns("c", "w")} FROM hurried w JOIN ${calls} c ON c.id = w.id ` +
      `UNION ALL SELECT ${callColumns("c", "w")} FROM redriven c JOIN requeued w ON w.id = c.id) ` +
      // The call is due now: wake the listeners of other processes, at commit.
      "SELECT changed.*, pg_notify($5, $3::text) AS sent FROM changed";
    this.#purge =
      `UPDATE ${names.calls} SET idempotency_key = NULL ` +
      "WHERE idempotency_key IS NOT NULL AND idempotency_expires_at < $1";
    this.#ensureSecret =
      `INSERT INTO ${names.tenants} AS t (id, signing_secret, created_at) VALUES ($1, $2, $3) ` +
      "ON CONFLICT (id) DO UPDATE " +
      "SET signing_secret = coalesce(t.signing_secret, excluded.signing_secret) " +
      "RETURNING signing_secret";
  }

  /** See `Store.cancelCall`. */
  async cancelCall(
    tenantId: TenantId,
    id: CallId,
    now: number,
    idempotencyExpiresAt: number,
  ): Promise<ControlResult> {
    const { rows } = await this.#db.query({
      name: "steadfast_cancel_call",
      text: this.#cancel,
      values: [id, tenantId, now, idempotencyExpiresAt, this.#names.channel],
    });
    return rows[0] === undefined
      ? this.#notChanged(tenantId, id)
      : { type: "ok", call: callFromRow(rows[0]) };
  }

  /** See `Store.retryCall`. */
  async retryCall(
    tenantId: TenantId,
    id: CallId,
    now: number,
    deadlineAt: number | undefined,
  ): Promise<ControlResult> {
    const { rows } = await this.#db.query({
      name: "steadfast_retry_call",
      text: this.#retry,
      values: [id, tenantId, now, deadlineAt ?? null, this.#names.channel],
    });
    return rows[0] === undefined
      ? this.#notChanged(tenantId, id)
      : { type: "ok", call: callFromRow(rows[0]) };
  }

  /** See `Store.purgeExpiredIdempotencyKeys`. */
  async purgeExpiredIdempotencyKeys(now: number): Promise<number> {
    const { rowCount } = await this.#db.query({ text: this.#purge, values: [now] });
    return rowCount ?? 0;
  }

  /** See `Store.ensureSigningSecret`: the first writer's secret wins. */
  async ensureSigningSecret(tenantId: TenantId, candidate: string, now: number): Promise<string> {
    const { rows } = await this.#db.query({
      text: this.#ensureSecret,
      values: [tenantId, candidate, now],
    });
    return rows[0]!.signing_secret as string;
  }

  async #notChanged(tenantId: TenantId, id: CallId): Promise<ControlResult> {
    const { rows } = await this.#db.query({
      name: "steadfast_select_call",
      text: this.#select,
      values: [id, tenantId],
    });
    const row: Row | undefined = rows[0];
    return row === undefined
      ? { type: "not_found" }
      : { type: "invalid_state", call: callFromRow(row) };
  }
}
