/**
 * The event-log role of the `Store` port: the events tenants send (`POST /v1/events`,
 * `sendEvent`), kept so that a waiting step (`step.waitForEvent`) can find its event among those
 * of its name that arrived since its run was created (`chooseEvent` in workflow/event-delivery.ts
 * applies the delivery rule to them), and purged when their retention ends.
 */
import type { TenantId } from "./ids.ts";

/** An event as the store keeps it. */
export interface StoredEvent {
  tenantId: TenantId;
  /** Its id, unique per tenant: the sender's (deduplicating), or one given at arrival. */
  id: string;
  name: string;
  /** Its data, encoded (as the value codec writes it). Opaque text to the store. */
  data: string;
  /** When it arrived, epoch ms. */
  receivedAt: number;
}

/** What `Store.recordEvent` did. */
export type RecordEventResult =
  | { created: true; event: StoredEvent }
  /** Not recorded: the tenant has an event with this id. `event` as stored, unchanged. */
  | { created: false; event: StoredEvent };

/** Query for `Store.listEvents`. */
export interface ListEventsQuery {
  /** Only this tenant's events. */
  tenantId: TenantId;
  /** Only events of this name. */
  name: string;
  /** Only events that arrived at or after this time, epoch ms (a waiting run's creation). */
  since: number;
  /**
   * Resumes a listing (keyset paging): events received at `since` itself come only if their id
   * is greater than this one. To read the page after one, pass its last event's `receivedAt` as
   * `since` and its id here; ties of arrival time are neither skipped nor repeated.
   */
  afterId?: string;
  /** At most this many events (a positive integer). */
  limit: number;
}

/** The events tenants send, for the steps that wait for them. */
export interface EventLog {
  /**
   * Records an event. An id the tenant already has is not recorded again, whatever its name,
   * data or time: the event already stored comes back, with `created: false` (the caller compares
   * them). Ids are per tenant: two tenants may each have an event with one id. Atomic against
   * concurrent records of one id in this and other processes: exactly one is created.
   */
  recordEvent(event: StoredEvent): Promise<RecordEventResult>;
  /**
   * The tenant's events of `name` received at or after `since` (after `afterId` when given),
   * earliest first (then by id), at most `limit`: the candidates a waiting step chooses its event
   * from. A caller whose page holds only events its run already consumed reads the next page.
   */
  listEvents(query: ListEventsQuery): Promise<StoredEvent[]>;
  /**
   * Deletes events (of every tenant) received before `receivedBefore`, at most `limit` of them
   * (all when absent), and returns how many. Retention: a caller deleting in slices calls again
   * while the count equals its limit.
   */
  purgeEventsBefore(receivedBefore: number, limit?: number): Promise<number>;
}
