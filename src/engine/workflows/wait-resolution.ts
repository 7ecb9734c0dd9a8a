/**
 * Resolving a claimed run's waiting steps before its function runs again: the engine's part of
 * `step.waitForEvent`, `step.invoke` and `step.fetch` (a sleep, a timeout and a retry are time's
 * part, decided by `decideReplay` in the invocation).
 *
 * - An event wait receives the event `chooseEvent` picks among those of its name that arrived
 *   since the run was created (and no later than its timeout), not yet delivered to another step
 *   of the run. Its data is the step's output, its id is recorded with it.
 * - A child run's step completes with the child's output when the child succeeded, and fails
 *   (a `StepFailedError` in the workflow) when it failed or was cancelled.
 * - A child call's step completes with the call's final response when it succeeded, and fails
 *   with the call's error otherwise.
 * What is not over yet stays waiting. The changed checkpoints are committed before the function
 * runs, so a resolution is decided once.
 */
import type { CallRecord } from "../../core/call.ts";
import type { CallLog } from "../../core/call-log.ts";
import type { EventLog, StoredEvent } from "../../core/event-log.ts";
import type { CallId } from "../../core/ids.ts";
import type { RunLog, RunRecord } from "../../core/run-log.ts";
import {
  nextCheckpoint,
  type Checkpoint,
  type StepEvent,
  type ValueCodec,
  type WaitingCheckpoint,
} from "../../core/workflow/checkpoint.ts";
import { chooseEvent, type ReceivedEvent } from "../../core/workflow/event-delivery.ts";
import type { RecordedError } from "../../core/workflow/workflow-errors.ts";
import { isOwnChild, runInputFingerprint } from "./step-children.ts";

/** What resolving needs from the store. */
export type WaitStore = Pick<EventLog, "listEvents"> &
  Pick<RunLog, "getRun"> &
  Pick<CallLog, "getCall">;

/** Events read per page while looking for a wait's event. */
const EVENT_PAGE = 100;

/**
 * The checkpoints of `run` that its events, child runs and child calls resolve at `now`,
 * changed (completed or failed); the others are left out. Reads the store; writes nothing.
 *
 * @example const resolved = await resolveWaits(store, claim.run, claim.checkpoints, codec, now);
 */
export async function resolveWaits(
  store: WaitStore,
  run: RunRecord,
  checkpoints: readonly Checkpoint[],
  codec: ValueCodec,
  now: number,
  /** Called with every event read while looking (to tell the store what was seen). */
  onListed?: (event: StoredEvent) => void,
): Promise<Checkpoint[]> {
  const consumed = new Set<string>();
  for (const checkpoint of checkpoints) {
    if (checkpoint.status === "completed" && checkpoint.eventId !== undefined) {
      consumed.add(checkpoint.eventId);
    }
  }
  const resolved: Checkpoint[] = [];
  for (const checkpoint of checkpoints) {
    if (checkpoint.status !== "waiting") continue;
    const event = await resolution(store, run, checkpoint, codec, consumed, now, onListed);
    if (event === undefined) continue;
    if (event.type === "resolved" && event.eventId !== undefined) consumed.add(event.eventId);
    resolved.push(nextCheckpoint(checkpoint, event, checkpoint.stepId));
  }
  return resolved;
}

async function resolution(
  store: WaitStore,
  run: RunRecord,
  checkpoint: WaitingCheckpoint,
  codec: ValueCodec,
  consumed: ReadonlySet<string>,
  now: number,
  onListed: ((event: StoredEvent) => void) | undefined,
): Promise<StepEvent | undefined> {
  const { wait } = checkpoint;
  switch (wait.type) {
    case "sleep":
      return undefined;
    case "event": {
      const event = await findEvent(store, run, wait, codec, consumed, onListed);
      return event === undefined
        ? undefined
        : { type: "resolved", output: event.text, at: now, eventId: event.id };
    }
    case "child_run": {
      const detail = await store.getRun(run.tenantId, wait.runId);
      if (detail === undefined) return undefined;
      if (!isOwnChild(detail.run, run.uid, runInputFingerprint(wait.workflow, wait.input))) {
        return {
          type: "rejected",
          error: {
            name: "RunIdReusedError",
            message: `Run id "${wait.runId}" is taken by a run this step did not start (another workflow, input or parent): rename the step, or the run that holds the id.`,
            code: "run_id_reused",
            terminal: true,
          },
          at: now,
        };
      }
      return childRunEnd(detail.run, now);
    }
    case "child_call": {
      if (wait.callId === undefined) return undefined;
      const call = await store.getCall(run.tenantId, wait.callId as CallId);
      if (call === undefined) return undefined;
      return childCallEnd(call, codec, now);
    }
  }
}

/** The earliest deliverable event for `wait`, with its stored text. */
async function findEvent(
  store: WaitStore,
  run: RunRecord,
  wait: Extract<WaitingCheckpoint["wait"], { type: "event" }>,
  codec: ValueCodec,
  consumed: ReadonlySet<string>,
  onListed: ((event: StoredEvent) => void) | undefined,
): Promise<(ReceivedEvent & { text: string }) | undefined> {
  let since = run.createdAt;
  let afterId: string | undefined;
  for (;;) {
    const page = await store.listEvents({
      tenantId: run.tenantId,
      name: wait.event,
      since,
      ...(afterId === undefined ? {} : { afterId }),
      limit: EVENT_PAGE,
    });
    if (onListed !== undefined) for (const stored of page) onListed(stored);
    // Pages come earliest first: the first deliverable event of a page is the earliest of all.
    const candidates = page
      .filter((stored) => wait.timeoutAt === undefined || stored.receivedAt <= wait.timeoutAt)
      .flatMap((stored) => {
        try {
          const data = codec.decode(stored.data);
          return [
            {
              id: stored.id,
              name: stored.name,
              data,
              receivedAt: stored.receivedAt,
              text: stored.data,
            },
          ];
        } catch {
          // Data this code cannot read (written by a newer version): not deliverable here, and
          // never a reason for the run to fail to resume.
          return [];
        }
      });
    const chosen = chooseEvent(
      {
        event: wait.event,
        ...(wait.match === undefined ? {} : { match: wait.match }),
        runCreatedAt: run.createdAt,
        consumed,
      },
      candidates,
    );
    if (chosen !== undefined) return chosen as ReceivedEvent & { text: string };
    const last = page.at(-1);
    if (page.length < EVENT_PAGE || last === undefined) return undefined;
    // Past the timeout nothing is deliverable; a caller told of every event read (to tell the
    // store what was seen) still gets them all.
    if (onListed === undefined && wait.timeoutAt !== undefined && last.receivedAt > wait.timeoutAt)
      return undefined;
    since = last.receivedAt;
    afterId = last.id;
  }
}

function childRunEnd(child: RunRecord, now: number): StepEvent | undefined {
  switch (child.status) {
    case "succeeded":
      return { type: "resolved", output: child.output ?? "", at: now };
    case "failed":
      return {
        type: "rejected",
        error: childFailure(
          `Child run "${child.id}" failed`,
          child.error ?? { name: "Error", message: "no error recorded", terminal: true },
        ),
        at: now,
      };
    case "cancelled":
      return {
        type: "rejected",
        error: {
          name: "RunCancelledError",
          message: `Child run "${child.id}" was cancelled.`,
          code: "run_cancelled",
          terminal: true,
        },
        at: now,
      };
    default:
      return undefined;
  }
}

function childCallEnd(call: CallRecord, codec: ValueCodec, now: number): StepEvent | undefined {
  switch (call.status) {
    case "succeeded": {
      let output: string;
      try {
        output = codec.encode(call.response);
      } catch (error) {
        return {
          type: "rejected",
          error: {
            name: "CallFailedError",
            message: `Call ${call.id} succeeded but its response cannot be stored as the step's result: ${error instanceof Error ? error.message : String(error)}`,
            code: "value_too_large",
            terminal: true,
          },
          at: now,
        };
      }
      return { type: "resolved", output, at: now };
    }
    case "failed":
    case "cancelled": {
      const error = call.error ?? { code: call.status, message: `the call was ${call.status}` };
      const status = call.response === undefined ? "" : ` (last status ${call.response.status})`;
      return {
        type: "rejected",
        error: {
          name: "CallFailedError",
          message: `Call ${call.id} ${call.status}${status}: ${error.message}`,
          code: error.code,
          terminal: true,
        },
        at: now,
      };
    }
    default:
      return undefined;
  }
}

function childFailure(prefix: string, error: RecordedError): RecordedError {
  return { ...error, message: `${prefix}: ${error.name}: ${error.message}` };
}
