// The statement behind Store.listCalls, built per query shape so that each shape walks an index.
import type { TenantId } from "../../core/ids.ts";
import type { ListCallsQuery } from "../../core/store.ts";
import { CALL_COLUMNS } from "./call-select.ts";

/** SQL text and its parameters. */
export interface Statement {
  sql: string;
  params: (string | number)[];
}

/**
 * The listing of a tenant's calls, newest first (migration 0009). Without a status it walks
 * calls_list, joining each call's work row if it is live. A live status is a `work` status: queued
 * and waiting work is listed through work_list, running work (left out of work_list, like
 * migration 0004 left it out of calls_list_status) through work_lease, which holds only the
 * attempts in flight (of calls: the redundant `kind <> 'run'` lets SQLite apply it), and sorted. An ended status is a `calls` status, listed through
 * calls_list_status, which holds only ended calls.
 */
export function listCallsStatement(tenantId: TenantId, query: ListCallsQuery): Statement {
  const params: (string | number)[] = [tenantId, query.kind ?? "call"];
  const status = query.status;
  let sql: string;
  // The table whose id orders the listing.
  let t: "c" | "w";
  if (status === undefined) {
    t = "c";
    sql =
      `SELECT ${CALL_COLUMNS} FROM calls c INDEXED BY calls_list LEFT JOIN work w ON w.id = c.id ` +
      "WHERE c.tenant_id = ? AND c.kind = ?";
  } else if (status === "running") {
    t = "w";
    sql =
      `SELECT ${CALL_COLUMNS} FROM work w INDEXED BY work_lease CROSS JOIN calls c ON c.id = w.id ` +
      "WHERE w.tenant_id = ? AND w.kind = ? AND w.status = 'running' AND w.kind <> 'run'";
  } else if (status === "queued" || status === "waiting") {
    t = "w";
    // The redundant `<> 'running'` is what lets SQLite prove that the partial index applies to a
    // bound status.
    sql =
      `SELECT ${CALL_COLUMNS} FROM work w INDEXED BY work_list CROSS JOIN calls c ON c.id = w.id ` +
      "WHERE w.tenant_id = ? AND w.kind = ? AND w.status = ? AND w.status <> 'running'";
    params.push(status);
  } else {
    t = "c";
    // The repeated predicate of the partial index is what lets SQLite apply it to a bound status.
    sql =
      `SELECT ${CALL_COLUMNS} FROM calls c INDEXED BY calls_list_status ` +
      "LEFT JOIN work w ON w.id = c.id WHERE c.tenant_id = ? AND c.kind = ? AND c.status = ? " +
      "AND c.status IN ('succeeded', 'failed', 'cancelled')";
    params.push(status);
  }
  if (query.before !== undefined) {
    sql += ` AND ${t}.id < ?`;
    params.push(query.before);
  }
  sql += ` ORDER BY ${t}.id DESC LIMIT ?`;
  params.push(Math.max(0, Math.floor(query.limit)));
  return { sql, params };
}
