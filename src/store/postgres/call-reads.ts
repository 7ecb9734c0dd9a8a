// Reads of calls and attempts. Each is one statement on a pooled connection and sees
// committed data.
import type { AttemptRecord, CallRecord } from "../../core/call.ts";
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
    const { calls, attempts } = names;
    this.#getCall = `SELECT ${callColumns()} FROM ${calls} WHERE id = $1 AND tenant_id = $2`;
    // A LEFT JOIN tells "no attempts" (one row of NULLs) from "not this tenant's" (no row).
    this.#listAttempts =
      `SELECT ${attemptColumns("a")} FROM ${calls} c LEFT JOIN ${attempts} a ` +
      "ON a.call_id = c.id WHERE c.id = $1 AND c.tenant_id = $2 ORDER BY a.number";
    // The newest delivery through calls_parent, and its last attempt in the same statement. The
    // attempt's columns are prefixed `last_` so that none shadows a column of the call.
    this.#getCallbackDelivery =
      `SELECT ${callColumns("c")}, ${attemptColumns("a")
        .split(", ")
        .map((column) => `${column} AS last_${column.slice(2)}`)
        .join(", ")} ` +
      `FROM ${calls} c LEFT JOIN ${attempts} a ON a.call_id = c.id AND a.number = c.attempts ` +
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

  /** See `Store.listCalls`: newest first, by id (ULIDs sort by creation time). */
  async listCalls(tenantId: TenantId, query: ListCallsQuery): Promise<CallRecord[]> {
    const values: unknown[] = [tenantId, query.kind ?? "call"];
    let text =
      `SELECT ${callColumns()} FROM ${this.#names.calls} ` + "WHERE tenant_id = $1 AND kind = $2";
    if (query.status !== undefined) {
      values.push(query.status);
      text += ` AND status = $${values.length}`;
    }
    if (query.before !== undefined) {
      values.push(query.before);
      text += ` AND id < $${values.length}`;
    }
    values.push(Math.max(0, Math.floor(query.limit)));
    text += ` ORDER BY id DESC LIMIT $${values.length}`;
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
