// Operator and API writes: cancel, redrive, idempotency-key purge, signing secrets (API keys:
// api-key-queries.ts). Each
// function is synchronous and runs inside the group-commit transaction (group-commit.ts).
import type { CallId, TenantId } from "../../core/ids.ts";
import type { ControlResult } from "../../core/store.ts";
import { callFromRow } from "./row-mapping.ts";
import type { Prepare } from "./statement-cache.ts";

const SELECT_CALL = "SELECT * FROM calls WHERE id = ? AND tenant_id = ?";

// Incrementing lease_token fences the attempt in flight, if any.
const CANCEL =
  "UPDATE calls SET status = 'cancelled', lease_token = lease_token + 1, run_at = NULL, " +
  "wait_reason = NULL, wait_code = NULL, wait_destination = NULL, lease_expires_at = NULL, " +
  "worker_id = NULL, completed_at = ?, " +
  "idempotency_expires_at = ?, updated_at = ? " +
  "WHERE id = ? AND tenant_id = ? AND status IN ('queued', 'waiting', 'running') RETURNING *";

/** Cancels a queued, waiting or running call. See `Store.cancelCall`. */
export function cancelCall(
  sql: Prepare,
  tenantId: TenantId,
  id: CallId,
  now: number,
  idempotencyExpiresAt: number,
): ControlResult {
  const row = sql(CANCEL).get(now, idempotencyExpiresAt, now, id, tenantId);
  if (row !== undefined) return { type: "ok", call: callFromRow(row) };
  return notChanged(sql, tenantId, id);
}

const REDRIVE =
  "UPDATE calls SET status = 'queued', run_at = ?, attempt_base = attempts, " +
  "crashes_in_a_row = 0, deadline_at = ?, " +
  "wait_reason = NULL, wait_code = NULL, wait_destination = NULL, response = NULL, " +
  "error = NULL, completed_at = NULL, " +
  "idempotency_expires_at = NULL, updated_at = ? " +
  "WHERE id = ? AND tenant_id = ? AND status = 'failed' RETURNING *";

const RETRY_NOW =
  "UPDATE calls SET run_at = ?, updated_at = ? " +
  "WHERE id = ? AND tenant_id = ? AND status = 'waiting' RETURNING *";

/** Redrives a failed call or makes a waiting one due now. See `Store.retryCall`. */
export function retryCall(
  sql: Prepare,
  tenantId: TenantId,
  id: CallId,
  now: number,
  deadlineAt: number | undefined,
): ControlResult {
  const redriven = sql(REDRIVE).get(now, deadlineAt ?? null, now, id, tenantId);
  if (redriven !== undefined) return { type: "ok", call: callFromRow(redriven) };
  const hurried = sql(RETRY_NOW).get(now, now, id, tenantId);
  if (hurried !== undefined) return { type: "ok", call: callFromRow(hurried) };
  return notChanged(sql, tenantId, id);
}

function notChanged(sql: Prepare, tenantId: TenantId, id: CallId): ControlResult {
  const row = sql(SELECT_CALL).get(id, tenantId);
  return row === undefined
    ? { type: "not_found" }
    : { type: "invalid_state", call: callFromRow(row) };
}

const PURGE_KEYS =
  "UPDATE calls SET idempotency_key = NULL " +
  "WHERE idempotency_key IS NOT NULL AND idempotency_expires_at < ?";

/** Releases idempotency keys whose retention ended before `now`. Returns how many. */
export function purgeExpiredIdempotencyKeys(sql: Prepare, now: number): number {
  return Number(sql(PURGE_KEYS).run(now).changes);
}

const ENSURE_SECRET =
  "INSERT INTO tenants (id, signing_secret, created_at) VALUES (?, ?, ?) " +
  "ON CONFLICT (id) DO UPDATE " +
  "SET signing_secret = coalesce(signing_secret, excluded.signing_secret) " +
  "RETURNING signing_secret";

/** The tenant's signing secret, storing `candidate` if it has none (first writer wins). */
export function ensureSigningSecret(
  sql: Prepare,
  tenantId: TenantId,
  candidate: string,
  now: number,
): string {
  return sql(ENSURE_SECRET).get(tenantId, candidate, now)!.signing_secret as string;
}
