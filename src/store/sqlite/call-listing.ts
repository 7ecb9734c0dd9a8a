// The statement behind Store.listCalls, built per query shape so that each shape walks an index.
import type { TenantId } from "../../core/ids.ts";
import type { ListCallsQuery } from "../../core/store.ts";

/** SQL text and its parameters. */
export interface Statement {
  sql: string;
  params: (string | number)[];
}

/**
 * The listing of a tenant's calls, newest first. Without a status it walks calls_list; with one,
 * calls_list_status, except for `running`: running calls are not in that index (migration 0004),
 * so they are found through calls_lease, which holds only the attempts in flight, and sorted.
 */
export function listCallsStatement(tenantId: TenantId, query: ListCallsQuery): Statement {
  const running = query.status === "running";
  let sql = `SELECT * FROM calls${running ? " INDEXED BY calls_lease" : ""} WHERE tenant_id = ? AND kind = ?`;
  const params: (string | number)[] = [tenantId, query.kind ?? "call"];
  if (running) {
    sql += " AND status = 'running'";
  } else if (query.status !== undefined) {
    // The redundant `<> 'running'` is what lets SQLite prove that the partial index applies to
    // a bound status.
    sql += " AND status = ? AND status <> 'running'";
    params.push(query.status);
  }
  if (query.before !== undefined) {
    sql += " AND id < ?";
    params.push(query.before);
  }
  sql += " ORDER BY id DESC LIMIT ?";
  params.push(Math.max(0, Math.floor(query.limit)));
  return { sql, params };
}
