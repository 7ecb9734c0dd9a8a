/**
 * The check the run executor makes before it parks a run on events (`step.waitForEvent`): the
 * events its new waits are for are read first, so that one recorded already makes the park due
 * at once, and otherwise the park tells the store what was read (`RunPark.eventsSeen`). The
 * store makes the park due at once if an event of those names it did not list was recorded
 * since, in the park's transaction: an event sent between this read and the park is not lost,
 * and a crash after the park loses nothing either.
 */
import type { RunPark, RunRecord } from "../../core/run-log.ts";
import type { Checkpoint, ValueCodec } from "../../core/workflow/checkpoint.ts";
import type { RunWait } from "../../core/workflow/run-state.ts";
import { resolveWaits, type WaitStore } from "./wait-resolution.ts";

/** How far the clocks of processes sending events may disagree with this one's, ms. */
const EVENT_CLOCK_MARGIN_MS = 5_000;

/**
 * What the read before a park found: an event one of the waits can take (`due`: park due at
 * once), or none (`seen`: what the park carries as `eventsSeen`).
 */
export type ParkEvents =
  { type: "due" } | { type: "seen"; eventsSeen: NonNullable<RunPark["eventsSeen"]> };

/**
 * Reads the events the event waits among `waits` are for, at `now`. `before` is the run's
 * checkpoints before the invocation (the events it took already are not offered again).
 *
 * @example
 * const found = await parkEvents(store, codec, run, before, outcome.waits, now);
 * if (found.type === "due") park.runAt = now;
 * else park.eventsSeen = found.eventsSeen;
 */
export async function parkEvents(
  store: WaitStore,
  codec: ValueCodec,
  run: RunRecord,
  before: readonly Checkpoint[],
  waits: readonly RunWait[],
  now: number,
): Promise<ParkEvents> {
  const waiting: Checkpoint[] = [];
  for (const wait of waits) {
    if (wait.type !== "event") continue;
    const { stepId, ...eventWait } = wait;
    waiting.push({
      status: "waiting",
      stepId,
      kind: "waitForEvent",
      startedAt: now,
      attempts: 0,
      wait: eventWait,
    });
  }
  // Events recorded (by the senders' clocks) before `since` were all read here; those after it
  // that this read listed are named. The margin covers the clocks of a fleet disagreeing.
  // Events from before the run was created are never its (and are not read): not from then.
  const since = Math.max(now - EVENT_CLOCK_MARGIN_MS, run.createdAt);
  const ids: string[] = [];
  const delivered = before.filter((c) => c.status === "completed" && c.eventId !== undefined);
  const found = await resolveWaits(store, run, [...delivered, ...waiting], codec, now, (event) => {
    if (event.receivedAt >= since) ids.push(event.id);
  });
  return found.length > 0 ? { type: "due" } : { type: "seen", eventsSeen: { since, ids } };
}
