/**
 * Which event a `step.waitForEvent` receives: the delivery rule, one pure function that every
 * store and process applies alike.
 *
 * An event is for a waiting step when its name is the wait's, each field of the wait's `match`
 * equals the event data's top-level field of that name, and it arrived at or after the run was
 * created (not only after the wait started: an approval sent while the run was still busy with an
 * earlier step is not lost, the race Inngest's rule leaves its users). Within one run an event is
 * delivered once: a second wait for the same name (a loop) gets the next matching event. Across
 * runs an event is delivered to every run it matches. Among several matching events the earliest
 * arrival wins (then the smaller id), so replays and processes agree.
 */
import type { EventMatch } from "./checkpoint.ts";

/** An event as stored (`POST /v1/events`, `sendEvent`). */
export interface ReceivedEvent {
  /** Its id: the sender's (deduplicating), or one given at arrival. */
  id: string;
  name: string;
  /** Its data, decoded. */
  data: unknown;
  /** When it arrived, epoch ms. */
  receivedAt: number;
}

/** A waiting step, as `chooseEvent` needs it. */
export interface EventWait {
  /** The event's name it waits for. */
  event: string;
  match?: EventMatch;
  /** When its run was created, epoch ms: earlier events are not its. */
  runCreatedAt: number;
  /** Ids of events already delivered to other steps of the same run. */
  consumed: ReadonlySet<string>;
}

/**
 * Whether `event` is one `wait` waits for, by name and fields (arrival time and earlier
 * deliveries aside). A match field is compared with `Object.is`, except that `0` and `-0` are
 * equal; an event whose data is not a plain object matches only a wait without `match`.
 *
 * @example eventMatches({ event: "order.approved", match: { orderId: "o-42" } }, { name: "order.approved", data: { orderId: "o-42" } }) // true
 */
export function eventMatches(
  wait: Pick<EventWait, "event" | "match">,
  event: Pick<ReceivedEvent, "name" | "data">,
): boolean {
  if (event.name !== wait.event) return false;
  const fields = Object.entries(wait.match ?? {});
  if (fields.length === 0) return true;
  const data = event.data;
  if (data === null || typeof data !== "object" || Array.isArray(data)) return false;
  return fields.every(([field, expected]) => {
    if (!Object.hasOwn(data, field)) return false;
    const actual = (data as Record<string, unknown>)[field];
    return actual === expected || Object.is(actual, expected);
  });
}

/**
 * The event `wait` receives among `candidates` (see the file's comment), or `undefined` when none
 * is for it yet.
 *
 * @example chooseEvent({ event: "order.approved", runCreatedAt: t0, consumed: new Set() }, events)
 */
export function chooseEvent(
  wait: EventWait,
  candidates: Iterable<ReceivedEvent>,
): ReceivedEvent | undefined {
  let chosen: ReceivedEvent | undefined;
  for (const event of candidates) {
    if (event.receivedAt < wait.runCreatedAt || wait.consumed.has(event.id)) continue;
    if (!eventMatches(wait, event)) continue;
    if (
      chosen === undefined ||
      event.receivedAt < chosen.receivedAt ||
      (event.receivedAt === chosen.receivedAt && event.id < chosen.id)
    ) {
      chosen = event;
    }
  }
  return chosen;
}
