// Waking workflow runs (issue 11): making parked runs due now, marking running ones woken (their
// park then leaves them due, so a wake-up is never lost), the event names parked runs wait for,
// and recording an event with the wake-up of its waiting runs. Used by the run writes and by
// every transaction that ends a child call or run. Each function is synchronous and runs inside
// the group-commit transaction (group-commit.ts).
import type { RunUid, TenantId } from "../../core/ids.ts";
import type { RecordEventResult, StoredEvent } from "../../core/store.ts";
import { recordEvent } from "./event-writes.ts";
import type { Prepare } from "./statement-cache.ts";

// Parked and due later: due now (a parked run without a time, run_at NULL, too).
const WAKE_PARKED =
  "UPDATE work SET run_at = ?1, updated_at = ?1 WHERE id = ?2 AND kind = 'run' " +
  "AND status IN ('queued', 'sleeping', 'waiting') AND (run_at IS NULL OR run_at > ?1)";
const MARK_WOKEN = "UPDATE work SET woken = 1 WHERE id = ? AND kind = 'run' AND status = 'running'";

/** Makes parked runs due at `now`, marks running ones woken. See `Store.wakeRuns`. */
export function wakeRuns(sql: Prepare, uids: readonly RunUid[], now: number): number {
  let touched = 0;
  for (const uid of uids) {
    const { changes } = sql(WAKE_PARKED).run(now, uid);
    touched += Number(changes) === 1 ? 1 : Number(sql(MARK_WOKEN).run(uid).changes);
  }
  return touched;
}

const WAITING_FOR =
  "SELECT run_uid FROM run_event_waits WHERE tenant_id = ? AND event_name = ? ORDER BY run_uid";

/** Wakes the tenant's runs waiting for event `name`. See `Store.wakeRunsForEvent`. */
export function wakeRunsForEvent(
  sql: Prepare,
  tenantId: TenantId,
  name: string,
  now: number,
): number {
  const uids = sql(WAITING_FOR)
    .all(tenantId, name)
    .map((row) => row.run_uid as RunUid);
  return wakeRuns(sql, uids, now);
}

/**
 * Records `event` and wakes the tenant's runs waiting for an event of the stored event's name,
 * in one transaction. See `Store.recordEventAndWake`.
 */
export function recordEventAndWake(
  sql: Prepare,
  event: StoredEvent,
  now: number,
): RecordEventResult & { woken: number } {
  const result = recordEvent(sql, event);
  return { ...result, woken: wakeRunsForEvent(sql, event.tenantId, result.event.name, now) };
}

const INSERT_EVENT_WAIT =
  "INSERT INTO run_event_waits (tenant_id, event_name, run_uid) VALUES (?, ?, ?) " +
  "ON CONFLICT DO NOTHING";
const DELETE_EVENT_WAIT =
  "DELETE FROM run_event_waits WHERE tenant_id = ? AND event_name = ? AND run_uid = ?";

/**
 * Replaces the event names run `uid` waits for: `previous` (its work row's `wait_events`, JSON or
 * NULL) by `events`. Returns the new `wait_events` value.
 */
export function replaceEventWaits(
  sql: Prepare,
  tenantId: string,
  uid: RunUid,
  previous: unknown,
  events: readonly string[],
): string | null {
  if (typeof previous === "string") {
    for (const name of JSON.parse(previous) as string[]) {
      sql(DELETE_EVENT_WAIT).run(tenantId, name, uid);
    }
  }
  for (const name of events) sql(INSERT_EVENT_WAIT).run(tenantId, name, uid);
  return events.length === 0 ? null : JSON.stringify([...new Set(events)]);
}

/** Wakes `parent` (the run of an ended child call or run), if there is one. */
export function wakeParentRun(sql: Prepare, parent: unknown, now: number): void {
  if (typeof parent === "string") wakeRuns(sql, [parent as RunUid], now);
}
