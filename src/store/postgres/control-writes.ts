// Operator and API writes: cancel, redrive, idempotency-key purge, signing secrets (API keys:
// api-key-queries.ts). Each is
// one statement (or one short transaction), conditional on the call's state, so that concurrent
// engines and operators never see half a change.
import type { CallId, TenantId } from "../../core/ids.ts";
import type { ControlResult } from "../../core/store.ts";
import type { PostgresConnection } from "./postgres-connection.ts";
import { callColumns, callFromRow, type Row } from "./row-mapping.ts";
import type { SchemaNames } from "./schema-names.ts";

// A redrive (failed -> queued) resets what the failure left; a retry-now (waiting) only moves
// runAt. Both in one UPDATE, so that the choice and the change see the same row.
const FAILED = "c.status = 'failed'";

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
    this.#select = `SELECT ${callColumns()} FROM ${names.calls} WHERE id = $1 AND tenant_id = $2`;
    // Incrementing lease_token fences the attempt in flight, if any.
    this.#cancel =
      `UPDATE ${names.calls} c SET status = 'cancelled', lease_token = c.lease_token + 1, ` +
      "run_at = NULL, wait_reason = NULL, wait_code = NULL, wait_destination = NULL, " +
      "lease_expires_at = NULL, worker_id = NULL, " +
      "completed_at = $3, idempotency_expires_at = $4, updated_at = $3 " +
      "WHERE c.id = $1 AND c.tenant_id = $2 AND c.status IN ('queued', 'waiting', 'running') " +
      `RETURNING ${callColumns("c")}`;
    const ifFailed = (then: string, otherwise: string) =>
      `CASE WHEN ${FAILED} THEN ${then} ELSE ${otherwise} END`;
    this.#retry =
      `WITH changed AS (UPDATE ${names.calls} c SET ` +
      `status = ${ifFailed("'queued'", "c.status")}, ` +
      `attempt_base = ${ifFailed("c.attempts", "c.attempt_base")}, ` +
      `crashes_in_a_row = ${ifFailed("0", "c.crashes_in_a_row")}, ` +
      `deadline_at = ${ifFailed("$4::bigint", "c.deadline_at")}, ` +
      `wait_reason = ${ifFailed("NULL", "c.wait_reason")}, ` +
      `wait_code = ${ifFailed("NULL", "c.wait_code")}, ` +
      `wait_destination = ${ifFailed("NULL", "c.wait_destination")}, ` +
      `response = ${ifFailed("NULL", "c.response")}, ` +
      `error = ${ifFailed("NULL", "c.error")}, ` +
      `completed_at = ${ifFailed("NULL", "c.completed_at")}, ` +
      `idempotency_expires_at = ${ifFailed("NULL", "c.idempotency_expires_at")}, ` +
      "run_at = $3, updated_at = $3 " +
      "WHERE c.id = $1 AND c.tenant_id = $2 AND c.status IN ('failed', 'waiting') " +
      `RETURNING ${callColumns("c")}) ` +
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
      values: [id, tenantId, now, idempotencyExpiresAt],
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
