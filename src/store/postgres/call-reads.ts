// Reads of calls and attempts. Each is one statement on a pooled connection and sees
// committed data.
import {
  TerminalStatuses,
  type AttemptRecord,
  type CallRecord,
  type CallStatus,
} from "../../core/call.ts";
import type { CallId, TenantId } from "../../core/ids.ts";
import type { CallbackDelivery, ListCallsQuery } from "../../core/store.ts";
import type { PostgresConnection } from "./postgres-connection.ts";
import { attemptColumns, attemptFromRow, callColumns, callFromRow } from "./row-mapping.ts";
import type { SchemaNames } from "./schema-names.ts";

/** The read queries of `PostgresStore`. */
export class CallReads {
  readonly #db: PostgresConnection;
  readonly #names: SchemaNames;
  readonly #getCall: string;
  readonly #listAttempts: string;
  readonly #getCallbackDelivery: string;

  constructor(db: PostgresConnection, names: SchemaNames) {
    this.#db = db;
    this.#names = names;
    const { calls, attempts, work } = names;
    // A live call's state is its work row's (migration 0008).
    this.#getCall =
      `SELECT ${callColumns("c", "w")} FROM ${calls} c LEFT JOIN ${work} w ON w.id = c.id ` +
      "WHERE c.id = $1 AND c.tenant_id = $2";
    // A LEFT JOIN tells "no attempts" (one row of NULLs) from "not this tenant's" (no row).
    this.#listAttempts =
      `SELECT ${attemptColumns("a")} FROM ${calls} c LEFT JOIN ${attempts} a ` +
      "ON a.call_id = c.id WHERE c.id = $1 AND c.tenant_id = $2 ORDER BY a.number";
    // The newest delivery through calls_parent, and its last attempt in the same statement. The
    // attempt's columns are prefixed `last_` so that none shadows a column of the call.
    this.#getCallbackDelivery =
      `SELECT ${callColumns("c", "w")}, ${attemptColumns("a")
        .split(", ")
        .map((column) => `${column} AS last_${column.slice(2)}`)
        .join(", ")} ` +
      `FROM ${calls} c LEFT JOIN ${work} w ON w.id = c.id LEFT JOIN ${attempts} a ` +
      "ON a.call_id = c.id AND a.number = coalesce(w.attempts, c.attempts) " +
      "WHERE c.parent_id = $1 AND c.tenant_id = $2 AND c.kind = 'callback' " +
      "ORDER BY c.id DESC LIMIT 1";
  }

  /** See `Store.getCall`. */
  async getCall(tenantId: TenantId, id: CallId): Promise<CallRecord | undefined> {
    const { rows } = await this.#db.query({
      name: "steadfast_get_call",
      text: this.#getCall,
      values: [id, tenantId],
    });
    return rows[0] === undefined ? undefined : callFromRow(rows[0]);
  }

  /**
   * See `Store.listCalls`: newest first, by id (ULIDs sort by creation time). Live statuses are
   * listed from `work` (work_list), ended ones from `calls` (calls_list_status), all of them from
   * `calls` (calls_list) with each live call's state joined from `work`.
   */
  async listCalls(tenantId: TenantId, query: ListCallsQuery): Promise<CallRecord[]> {
    const { calls, work } = this.#names;
    const values: unknown[] = [tenantId, query.kind ?? "call"];
    const status = query.status;
    let text: string;
    if (status === undefined) {
      text =
        `SELECT ${callColumns("c", "w")} FROM ${calls} c LEFT JOIN ${work} w ON w.id = c.id ` +
        "WHERE c.tenant_id = $1 AND c.kind = $2";
    } else if (isLive(status)) {
      values.push(status);
      text =
        `SELECT ${callColumns("c", "w")} FROM ${work} w JOIN ${calls} c ON c.id = w.id ` +
        "WHERE w.tenant_id = $1 AND w.kind = $2 AND w.status = $3";
    } else {
      values.push(status);
      // The literal list lets the planner use the partial calls_list_status.
      text =
        `SELECT ${callColumns("c")} FROM ${calls} c WHERE c.tenant_id = $1 AND c.kind = $2 ` +
        "AND c.status = $3 AND c.status IN ('succeeded', 'failed', 'cancelled')";
    }
    const idColumn = status !== undefined && isLive(status) ? "w.id" : "c.id";
    if (query.before !== undefined) {
      values.push(query.before);
      text += ` AND ${idColumn} < $${values.length}`;
    }
    values.push(Math.max(0, Math.floor(query.limit)));
    text += ` ORDER BY ${idColumn} DESC LIMIT $${values.length}`;
    const { rows } = await this.#db.query({ text, values });
    return rows.map(callFromRow);
  }

  /** See `Store.getCallbackDelivery`. */
  async getCallbackDelivery(
    tenantId: TenantId,
    parentId: CallId,
  ): Promise<CallbackDelivery | undefined> {
    const { rows } = await this.#db.query({
      name: "steadfast_get_callback_delivery",
      text: this.#getCallbackDelivery,
      values: [parentId, tenantId],
    });
    const row = rows[0];
    if (row === undefined) return undefined;
    const call = callFromRow(row);
    if (row.last_call_id === null) return { call };
    const attempt = Object.fromEntries(
      Object.entries(row)
        .filter(([name]) => name.startsWith("last_"))
        .map(([name, value]) => [name.slice("last_".length), value]),
    );
    return { call, lastAttempt: attemptFromRow(attempt) };
  }

  /** See `Store.listAttempts`. */
  async listAttempts(tenantId: TenantId, id: CallId): Promise<AttemptRecord[] | undefined> {
    const { rows } = await this.#db.query({
      name: "steadfast_list_attempts",
      text: this.#listAttempts,
      values: [id, tenantId],
    });
    if (rows.length === 0) return undefined;
    return rows.filter((row) => row.call_id !== null).map(attemptFromRow);
  }
}

// Whether a call in `status` has a work row.
function isLive(status: CallStatus): boolean {
  return !TerminalStatuses.has(status);
}
