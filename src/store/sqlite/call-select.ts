// How a call is read: its wide `calls` row (the payload, and the end columns once it ended) with
// its `work` row while it is live (status, counters, due time, wait state), under the column
// names `callFromRow` reads. Every read of a CallRecord goes through this select list, so a call
// looks the same whether it is live or ended (migration 0009).
import type { CallRecord } from "../../core/call.ts";
import type { CallId, TenantId } from "../../core/ids.ts";
import { callFromRow } from "./row-mapping.ts";
import type { Prepare } from "./statement-cache.ts";

/**
 * The select list of a `CallRecord`, over `calls c` and `work w` (`w` all NULL for an ended
 * call: the live columns are then NULL, as an ended call's were).
 */
export const CALL_COLUMNS =
  "c.id, c.tenant_id, c.kind, c.parent_id, c.parent_run, coalesce(w.status, c.status) AS status, c.spec, " +
  "c.idempotency_key, c.fingerprint, c.forwarded_key, " +
  "coalesce(w.attempts, c.attempts) AS attempts, " +
  "coalesce(w.attempt_base, c.attempt_base) AS attempt_base, " +
  "coalesce(w.crashes_in_a_row, c.crashes_in_a_row) AS crashes_in_a_row, " +
  "w.run_at, w.wait_reason, w.wait_code, w.wait_destination, c.deadline_at, c.response, " +
  "c.error, c.created_at, coalesce(w.updated_at, c.updated_at) AS updated_at, c.completed_at";

/** Calls with their work rows, if live: `FROM` this, then a `WHERE` on `c` (or `w`). */
export const CALLS_WITH_WORK = "calls c LEFT JOIN work w ON w.id = c.id";

const SELECT_CALL = `SELECT ${CALL_COLUMNS} FROM ${CALLS_WITH_WORK} WHERE c.id = ? AND c.tenant_id = ?`;

/** A tenant's call by id, live or ended. */
export function selectCall(sql: Prepare, tenantId: TenantId, id: CallId): CallRecord | undefined {
  const row = sql(SELECT_CALL).get(id, tenantId);
  return row === undefined ? undefined : callFromRow(row);
}

const SELECT_LATEST_CALLBACK =
  `SELECT ${CALL_COLUMNS} FROM calls c INDEXED BY calls_parent LEFT JOIN work w ON w.id = c.id ` +
  "WHERE c.parent_id = ? AND c.tenant_id = ? AND c.kind = 'callback' ORDER BY c.id DESC LIMIT 1";

/** The newest callback delivery of the tenant's call `parentId`, live or ended. */
export function selectLatestCallback(
  sql: Prepare,
  tenantId: TenantId,
  parentId: CallId,
): CallRecord | undefined {
  const row = sql(SELECT_LATEST_CALLBACK).get(parentId, tenantId);
  return row === undefined ? undefined : callFromRow(row);
}
