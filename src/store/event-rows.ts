// The mapping of an `events` row (both dialects) to the `StoredEvent` the `EventLog` role returns.
import type { TenantId } from "../core/ids.ts";
import type { StoredEvent } from "../core/store.ts";
import type { Row } from "./call-rows.ts";

/** The columns `eventFromRow` reads, for SELECT and RETURNING lists. */
export const EVENT_COLUMNS = "tenant_id, id, name, data, received_at";

/** The event an `events` row holds. */
export function eventFromRow(row: Row): StoredEvent {
  return {
    tenantId: row.tenant_id as TenantId,
    id: row.id as string,
    name: row.name as string,
    data: row.data as string,
    receivedAt: Number(row.received_at),
  };
}
