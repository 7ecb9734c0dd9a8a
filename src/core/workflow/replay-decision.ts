/**
 * The replay decision: what a step call does, given what is recorded under its id.
 *
 * On every invocation the workflow function runs again from the top; each step call asks this
 * function what to do. Steps are matched by id, never by position, so adding, removing or
 * reordering steps with distinct ids does not disturb an in-flight run: a new step runs, a
 * removed one's record is ignored. What is refused is a record of another kind under the id
 * called (a `step.sleep` where a `step.run` was recorded): that is `diverged`, and the run fails
 * with `replay_diverged` rather than hand one step's value to another.
 */
import type {
  Checkpoint,
  RetryingCheckpoint,
  StepKind,
  StepWait,
  WaitingCheckpoint,
} from "./checkpoint.ts";
import type { StepId } from "./step-id.ts";
import { ReplayDivergedError, type RecordedError } from "./workflow-errors.ts";

/** What a step call does. */
export type ReplayDecision =
  /** Nothing recorded: run the first attempt, record the value, or park. */
  | { type: "execute" }
  /** Completed: return the recorded output (decoded) without running anything. */
  | { type: "memoized"; output: string }
  /** Failed for good: throw the recorded error (a `StepFailedError`) without running anything. */
  | { type: "rethrow"; error: RecordedError }
  /** Its next attempt is due: run it. */
  | { type: "retry-due"; checkpoint: RetryingCheckpoint }
  /** Its next attempt is not due yet: park again until `retryAt`. */
  | { type: "retry-pending"; retryAt: number }
  /** Parked and its wait is over without the engine resolving it: resolve it with `value`. */
  | { type: "wait-over"; checkpoint: WaitingCheckpoint; value: undefined | null }
  /** Parked and still waiting: park again. */
  | { type: "still-waiting"; wait: StepWait }
  /** Another kind of step is recorded under this id: fail the run, compensating nothing. */
  | { type: "diverged"; error: ReplayDivergedError };

/**
 * Decides a step call of kind `kind` under `stepId`, with `recorded` the checkpoint under that
 * id (if any) and `now` the invocation's time. A sleep whose time has come resolves to
 * `undefined`, an event wait whose timeout has passed to `null` (an event the engine delivered
 * first is already recorded as its output). Pure.
 *
 * @example decideReplay(checkpoints.get(id), "run", id, clock.now())
 */
export function decideReplay(
  recorded: Checkpoint | undefined,
  kind: StepKind,
  stepId: StepId,
  now: number,
): ReplayDecision {
  if (recorded === undefined) return { type: "execute" };
  if (recorded.kind !== kind) {
    return { type: "diverged", error: new ReplayDivergedError(stepId, recorded.kind, kind) };
  }
  switch (recorded.status) {
    case "completed":
      return { type: "memoized", output: recorded.output };
    case "failed":
      return { type: "rethrow", error: recorded.error };
    case "retrying":
      return recorded.retryAt <= now
        ? { type: "retry-due", checkpoint: recorded }
        : { type: "retry-pending", retryAt: recorded.retryAt };
    case "waiting": {
      const { wait } = recorded;
      if (wait.type === "sleep" && wait.until <= now) {
        return { type: "wait-over", checkpoint: recorded, value: undefined };
      }
      if (wait.type === "event" && wait.timeoutAt !== undefined && wait.timeoutAt <= now) {
        return { type: "wait-over", checkpoint: recorded, value: null };
      }
      return { type: "still-waiting", wait };
    }
  }
}
