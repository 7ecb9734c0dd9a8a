/**
 * Checkpoints: the recorded state of one step of a workflow run, and the step state machine.
 *
 * States (`Checkpoint["status"]`) and transitions (`nextCheckpoint`):
 *
 *   (none)   -> completed   run/compensate: an attempt succeeded; now/random: value recorded
 *   (none)   -> retrying    run/compensate: an attempt failed, another is due at `retryAt`
 *   (none)   -> failed      run/compensate: an attempt failed for good (terminal, attempts used up)
 *   (none)   -> waiting     sleep/waitForEvent/fetch/invoke: the run parks until it is resolved
 *   retrying -> completed | retrying | failed     the next attempt, once due
 *   waiting  -> completed  resolved: the sleep is due, the event arrived (its payload) or timed
 *                          out (null), the child run or call ended well (its result)
 *   waiting  -> failed     rejected: the child run or call failed
 *
 * `completed` and `failed` are final: a replay returns the output or rethrows the error without
 * running anything. Values (outputs, a child's input) are opaque strings made by the injected
 * `ValueCodec`; errors are plain `RecordedError`s.
 */
import { SteadfastError } from "../errors.ts";
import type { StepId } from "./step-id.ts";
import type { RecordedError } from "./workflow-errors.ts";

/** What a step call was: the method of `step` that made it (`compensate`: a saga's undo). */
export type StepKind =
  "run" | "sleep" | "waitForEvent" | "fetch" | "invoke" | "now" | "random" | "compensate";

/** Kinds whose step runs a function in the invocation, attempt by attempt. */
export type AttemptedKind = "run" | "compensate";
/** Kinds whose step parks the run until the engine (or time) resolves it. */
export type ParkingKind = "sleep" | "waitForEvent" | "fetch" | "invoke";
/** Kinds whose step records a value at once. */
export type RecordedKind = "now" | "random";

/**
 * Turns values into stored text and back (the real one tags its format and round-trips `Date`,
 * `Map`, `BigInt`...). Injected: the replay logic treats the text as opaque.
 */
export interface ValueCodec {
  encode(value: unknown): string;
  decode(text: string): unknown;
}

/** Field match of `waitForEvent`: each key must equal the event data's top-level field. */
export type EventMatch = Readonly<Record<string, string | number | boolean | null>>;

/** What a waiting step waits for. */
export type StepWait =
  | {
      type: "sleep";
      /** Due, epoch ms. */
      until: number;
    }
  | {
      type: "event";
      /** The event's name (`order.approved`). */
      event: string;
      match?: EventMatch;
      /** When the wait gives up and returns null, epoch ms; absent: never. */
      timeoutAt?: number;
    }
  | {
      type: "child_run";
      /** The child workflow's name. */
      workflow: string;
      /** Its input, encoded. */
      input: string;
      /** The child run's id, `<runId>:<stepId>`: starting it again finds the same run. */
      runId: string;
    }
  | {
      type: "child_call";
      /** The request, as `POST /v1/fetch` takes it (plain JSON). */
      request: Readonly<Record<string, unknown>>;
      /** Forwarded upstream as `Idempotency-Key`: `<runId>:<stepId>`. */
      idempotencyKey: string;
      /** The child call's id, given by the engine when it commits the wait (creating the call). */
      callId?: string;
    };

interface CheckpointBase {
  stepId: StepId;
  kind: StepKind;
  /** When the step was first called, epoch ms. */
  startedAt: number;
  /** Attempts made (run and compensate steps; 0 for the others). */
  attempts: number;
}

/** A step that ended well: its output is returned on replay. */
export interface CompletedCheckpoint extends CheckpointBase {
  status: "completed";
  /** The step's output, encoded. */
  output: string;
  completedAt: number;
  /**
   * A `waitForEvent` step that received an event: that event's id, so the run's later waits do
   * not receive it again (delivered once per run).
   */
  eventId?: string;
}

/** A step that failed for good: its error is rethrown on replay (a `StepFailedError`). */
export interface FailedCheckpoint extends CheckpointBase {
  status: "failed";
  error: RecordedError;
  completedAt: number;
}

/** A run or compensate step whose last attempt failed; the next is due at `retryAt`. */
export interface RetryingCheckpoint extends CheckpointBase {
  status: "retrying";
  kind: AttemptedKind;
  /** Next attempt due, epoch ms. */
  retryAt: number;
  lastError: RecordedError;
}

/** A step that parked the run until it is resolved. */
export interface WaitingCheckpoint extends CheckpointBase {
  status: "waiting";
  kind: ParkingKind;
  wait: StepWait;
}

/** The recorded state of one step (see the file's comment for the transitions). */
export type Checkpoint =
  CompletedCheckpoint | FailedCheckpoint | RetryingCheckpoint | WaitingCheckpoint;

/** What happened to a step: the input of `nextCheckpoint`. */
export type StepEvent =
  | { type: "recorded"; kind: RecordedKind | ParkingKind; output: string; at: number }
  | {
      type: "attempt-succeeded";
      kind: AttemptedKind;
      output: string;
      startedAt: number;
      at: number;
    }
  | {
      type: "attempt-failed";
      kind: AttemptedKind;
      error: RecordedError;
      startedAt: number;
      at: number;
      /** Set when another attempt is decided, epoch ms. */
      retryAt?: number;
    }
  | { type: "parked"; kind: ParkingKind; wait: StepWait; at: number }
  | {
      type: "resolved";
      output: string;
      at: number;
      /** The event that resolved a `waitForEvent` step. */
      eventId?: string;
    }
  | { type: "rejected"; error: RecordedError; at: number };

/**
 * The checkpoint after `event`, from `current` (undefined: the step was never recorded). Refuses
 * an illegal transition with a `SteadfastError` `invalid_state` naming the step, its state and
 * the event: a bug in the caller, never a user's mistake.
 *
 * @example nextCheckpoint(undefined, { type: "parked", kind: "sleep", wait: { type: "sleep", until }, at }, id)
 */
export function nextCheckpoint(
  current: Checkpoint | undefined,
  event: StepEvent,
  stepId: StepId,
): Checkpoint {
  if (current === undefined) {
    switch (event.type) {
      case "recorded":
        return completed(stepId, event.kind, event.at, 0, event.output, event.at);
      case "attempt-succeeded":
        return completed(stepId, event.kind, event.startedAt, 1, event.output, event.at);
      case "attempt-failed":
        return attemptFailed(stepId, event.startedAt, 1, event);
      case "parked":
        return {
          status: "waiting",
          stepId,
          kind: event.kind,
          startedAt: event.at,
          attempts: 0,
          wait: event.wait,
        };
      default:
        return refuse(stepId, "unrecorded", event);
    }
  }
  if (current.stepId !== stepId) return refuse(stepId, current.status, event);
  if (current.status === "retrying") {
    if (event.type === "attempt-succeeded" && event.kind === current.kind) {
      return completed(
        stepId,
        current.kind,
        current.startedAt,
        current.attempts + 1,
        event.output,
        event.at,
      );
    }
    if (event.type === "attempt-failed" && event.kind === current.kind) {
      return attemptFailed(stepId, current.startedAt, current.attempts + 1, event);
    }
    return refuse(stepId, current.status, event);
  }
  if (current.status === "waiting") {
    if (event.type === "resolved") {
      const done = completed(
        stepId,
        current.kind,
        current.startedAt,
        current.attempts,
        event.output,
        event.at,
      );
      return event.eventId === undefined ? done : { ...done, eventId: event.eventId };
    }
    if (event.type === "rejected") {
      return {
        status: "failed",
        stepId,
        kind: current.kind,
        startedAt: current.startedAt,
        attempts: current.attempts,
        error: event.error,
        completedAt: event.at,
      };
    }
  }
  return refuse(stepId, current.status, event);
}

function completed(
  stepId: StepId,
  kind: StepKind,
  startedAt: number,
  attempts: number,
  output: string,
  at: number,
): CompletedCheckpoint {
  return { status: "completed", stepId, kind, startedAt, attempts, output, completedAt: at };
}

function attemptFailed(
  stepId: StepId,
  startedAt: number,
  attempts: number,
  event: Extract<StepEvent, { type: "attempt-failed" }>,
): Checkpoint {
  if (event.retryAt === undefined) {
    return {
      status: "failed",
      stepId,
      kind: event.kind,
      startedAt,
      attempts,
      error: event.error,
      completedAt: event.at,
    };
  }
  return {
    status: "retrying",
    stepId,
    kind: event.kind,
    startedAt,
    attempts,
    retryAt: event.retryAt,
    lastError: event.error,
  };
}

function refuse(stepId: StepId, state: string, event: StepEvent): never {
  throw new SteadfastError(
    "invalid_state",
    `Step "${stepId}" cannot take "${event.type}" in state ${state}: a bug in Steadfast (please report it).`,
  );
}
