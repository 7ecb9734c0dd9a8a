// Operator and API writes: cancel, redrive, idempotency-key purge, signing secrets (API keys:
// api-key-queries.ts). Each
// function is synchronous and runs inside the group-commit transaction (group-commit.ts).
import type { CallId, TenantId } from "../../core/ids.ts";
import type { ControlResult } from "../../core/store.ts";
import { selectCall } from "./call-select.ts";
import { END_CALL } from "./call-writes.ts";
import { wakeParentRun } from "./run-wakes.ts";
import type { Prepare } from "./statement-cache.ts";

// Deleting the work row ends the call and fences the attempt in flight, if any (its commit finds
// no row). The token kept in calls is one more than the last claim's, as cancelling always made it.
const END_WORK =
  "DELETE FROM work WHERE id = ? AND tenant_id = ? AND kind <> 'run' " +
  "RETURNING attempts, attempt_base, crashes_in_a_row, lease_token";

/** Cancels a queued, waiting or running call. See `Store.cancelCall`. */
export function cancelCall(
  sql: Prepare,
  tenantId: TenantId,
  id: CallId,
  now: number,
  idempotencyExpiresAt: number,
): ControlResult {
  const ended = sql(END_WORK).get(id, tenantId);
  if (ended === undefined) return notChanged(sql, tenantId, id);
  const { parent_run: parentRun } = sql(END_CALL).get(
    "cancelled",
    Number(ended.attempts),
    Number(ended.attempt_base),
    Number(ended.crashes_in_a_row),
    null,
    null,
    now,
    idempotencyExpiresAt,
    Number(ended.lease_token) + 1,
    now,
    id,
  )!;
  wakeParentRun(sql, parentRun, now);
  return { type: "ok", call: selectCall(sql, tenantId, id)! };
}

// A failed call back to live: its wide row as created (the end columns cleared) and a queued work
// row whose claims carry on above the last token. Counters: a fresh attempt budget.
const REDRIVE =
  "UPDATE calls SET status = 'queued', attempt_base = attempts, crashes_in_a_row = 0, " +
  "deadline_at = ?, response = NULL, error = NULL, completed_at = NULL, " +
  "idempotency_expires_at = NULL, updated_at = ? " +
  "WHERE id = ? AND tenant_id = ? AND status = 'failed' " +
  "RETURNING kind, parent_id, attempts, lease_token";

const REQUEUE =
  "INSERT INTO work (id, kind, tenant_id, parent_id, status, run_at, lease_token, attempts, " +
  "attempt_base, crashes_in_a_row, updated_at) VALUES (?, ?, ?, ?, 'queued', ?, ?, ?, ?, 0, ?)";

const RETRY_NOW =
  "UPDATE work SET run_at = ?, updated_at = ? " +
  "WHERE id = ? AND tenant_id = ? AND status = 'waiting' AND kind <> 'run'";

/** Redrives a failed call or makes a waiting one due now. See `Store.retryCall`. */
export function retryCall(
  sql: Prepare,
  tenantId: TenantId,
  id: CallId,
  now: number,
  deadlineAt: number | undefined,
): ControlResult {
  const redriven = sql(REDRIVE).get(deadlineAt ?? null, now, id, tenantId);
  if (redriven !== undefined) {
    sql(REQUEUE).run(
      id,
      String(redriven.kind),
      tenantId,
      redriven.parent_id === null ? null : String(redriven.parent_id),
      now,
      Number(redriven.lease_token),
      Number(redriven.attempts),
      Number(redriven.attempts),
      now,
    );
    return { type: "ok", call: selectCall(sql, tenantId, id)! };
  }
  const { changes } = sql(RETRY_NOW).run(now, now, id, tenantId);
  if (Number(changes) === 1) return { type: "ok", call: selectCall(sql, tenantId, id)! };
  return notChanged(sql, tenantId, id);
}

function notChanged(sql: Prepare, tenantId: TenantId, id: CallId): ControlResult {
  const call = selectCall(sql, tenantId, id);
  return call === undefined ? { type: "not_found" } : { type: "invalid_state", call };
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
