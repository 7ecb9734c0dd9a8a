// The events tenants send (issue 11), for the workflow steps waiting for them: record (an id the
// tenant has is not recorded again), list by name since a time, purge by age. Each write is
// synchronous and runs inside the group-commit transaction (group-commit.ts), so an insert and
// the read of the event holding its id are atomic together.
import type { ListEventsQuery, RecordEventResult, StoredEvent } from "../../core/store.ts";
import { EVENT_COLUMNS, eventFromRow } from "../event-rows.ts";
import type { Prepare } from "./statement-cache.ts";

const INSERT =
  `INSERT INTO events (${EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?) ` +
  "ON CONFLICT (tenant_id, id) DO NOTHING";
const SELECT_ONE = `SELECT ${EVENT_COLUMNS} FROM events WHERE tenant_id = ? AND id = ?`;
// Walks events_by_name from `since` on (after `afterId` among the events received at `since`).
const LIST =
  `SELECT ${EVENT_COLUMNS} FROM events INDEXED BY events_by_name ` +
  "WHERE tenant_id = ?1 AND name = ?2 AND received_at >= ?3 " +
  "AND (?4 IS NULL OR received_at > ?3 OR id > ?4) ORDER BY received_at, id LIMIT ?5";
// Oldest first through events_received; LIMIT -1 is no limit.
const PURGE =
  "DELETE FROM events WHERE rowid IN (SELECT rowid FROM events INDEXED BY events_received " +
  "WHERE received_at < ? ORDER BY received_at LIMIT ?)";

/** See `Store.recordEvent`. */
export function recordEvent(sql: Prepare, event: StoredEvent): RecordEventResult {
  const { tenantId, id, name, data, receivedAt } = event;
  if (Number(sql(INSERT).run(tenantId, id, name, data, receivedAt).changes) === 1) {
    return { created: true, event: { tenantId, id, name, data, receivedAt } };
  }
  return { created: false, event: eventFromRow(sql(SELECT_ONE).get(tenantId, id)!) };
}

/** See `Store.listEvents`. */
export function listEvents(sql: Prepare, query: ListEventsQuery): StoredEvent[] {
  return sql(LIST)
    .all(
      query.tenantId,
      query.name,
      query.since,
      query.afterId ?? null,
      Math.max(0, Math.floor(query.limit)),
    )
    .map(eventFromRow);
}

/** See `Store.purgeEventsBefore`. */
export function purgeEventsBefore(sql: Prepare, receivedBefore: number, limit?: number): number {
  const rows = limit === undefined ? -1 : Math.max(0, Math.floor(limit));
  return Number(sql(PURGE).run(receivedBefore, rows).changes);
}
