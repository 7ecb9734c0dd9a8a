// The events tenants send (issue 11), for the workflow steps waiting for them: record (an id the
// tenant has is not recorded again), list by name since a time, purge by age. A record is an
// INSERT ... ON CONFLICT DO NOTHING, then, when it inserted nothing, a read of the event holding
// the id in a statement of its own: its snapshot is taken after the INSERT waited for a
// concurrent holder to commit, so that holder is visible (one statement would not see it).
import { StoreError } from "../../core/errors.ts";
import type { ListEventsQuery, RecordEventResult, StoredEvent } from "../../core/store.ts";
import type { TenantId } from "../../core/ids.ts";
import { EVENT_COLUMNS, eventFromRow } from "../event-rows.ts";
import { lockEventSharedSql } from "./event-locks.ts";
import type { PostgresConnection, Query } from "./postgres-connection.ts";
import type { SchemaNames } from "./schema-names.ts";

// How often an event whose holder vanished (purged between our INSERT and SELECT) is inserted
// again before giving up.
const MAX_ID_RACES = 3;

/** Event writes and reads of `PostgresStore`. */
export class EventWrites {
  readonly #db: PostgresConnection;
  readonly #insert: string;
  readonly #select: string;
  readonly #list: string;
  readonly #purge: string;
  readonly #lock: string;

  constructor(db: PostgresConnection, names: SchemaNames) {
    this.#db = db;
    const { events } = names;
    this.#insert =
      `INSERT INTO ${events} (${EVENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5) ` +
      "ON CONFLICT (tenant_id, id) DO NOTHING";
    this.#select = `SELECT ${EVENT_COLUMNS} FROM ${events} WHERE tenant_id = $1 AND id = $2`;
    this.#list =
      `SELECT ${EVENT_COLUMNS} FROM ${events} ` +
      "WHERE tenant_id = $1 AND name = $2 AND received_at >= $3 " +
      "AND ($4::text IS NULL OR received_at > $3 OR id > $4) ORDER BY received_at, id LIMIT $5";
    this.#lock = lockEventSharedSql(names);
    // Oldest first through events_received; LIMIT NULL is no limit.
    this.#purge =
      `DELETE FROM ${events} e USING (SELECT tenant_id, id FROM ${events} ` +
      "WHERE received_at < $1 ORDER BY received_at LIMIT $2) old " +
      "WHERE e.tenant_id = old.tenant_id AND e.id = old.id";
  }

  /** See `Store.recordEvent`. */
  recordEvent(event: StoredEvent): Promise<RecordEventResult> {
    return this.recordEventWith((statement) => this.#db.query(statement), event);
  }

  /** Records `event` through `query` (a transaction's, for `recordEventAndWake`). */
  async recordEventWith(query: Query, event: StoredEvent): Promise<RecordEventResult> {
    const { tenantId, id, name, data, receivedAt } = event;
    for (let race = 0; race < MAX_ID_RACES; race++) {
      const { rowCount } = await query({
        name: "steadfast_record_event",
        text: this.#insert,
        values: [tenantId, id, name, data, receivedAt],
      });
      if (rowCount === 1) return { created: true, event: { tenantId, id, name, data, receivedAt } };
      const { rows } = await query({
        name: "steadfast_select_event",
        text: this.#select,
        values: [tenantId, id],
      });
      if (rows[0] !== undefined) return { created: false, event: eventFromRow(rows[0]) };
    }
    throw new StoreError(
      "invariant_broken",
      `Event ${id} of tenant ${tenantId} was neither recorded nor found by its id.`,
    );
  }

  /**
   * Takes the shared lock of the tenant's event `name` through `query` (a transaction's), until
   * the transaction ends (event-locks.ts): before recording an event and waking its runs.
   */
  async lockEventWith(query: Query, tenantId: TenantId, name: string): Promise<void> {
    await query({ name: "steadfast_lock_event", text: this.#lock, values: [tenantId, name] });
  }

  /** See `Store.listEvents`. */
  async listEvents(query: ListEventsQuery): Promise<StoredEvent[]> {
    const { rows } = await this.#db.query({
      name: "steadfast_list_events",
      text: this.#list,
      values: [
        query.tenantId,
        query.name,
        query.since,
        query.afterId ?? null,
        Math.max(0, Math.floor(query.limit)),
      ],
    });
    return rows.map(eventFromRow);
  }

  /** See `Store.purgeEventsBefore`. */
  async purgeEventsBefore(receivedBefore: number, limit?: number): Promise<number> {
    const { rowCount } = await this.#db.query({
      name: "steadfast_purge_events",
      text: this.#purge,
      values: [receivedBefore, limit === undefined ? null : Math.max(0, Math.floor(limit))],
    });
    return rowCount ?? 0;
  }
}
