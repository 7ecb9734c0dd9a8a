/**
 * The workflow run state machine: one branch per state, each with its own fields, and one pure
 * transition function that refuses what is illegal.
 *
 * States and transitions (event in brackets):
 *
 *   queued       -> running | compensating    [claim] by phase: a run released mid-compensation
 *                                              resumes compensating
 *   running      -> sleeping                  [park] on step.sleep / step.sleepUntil only
 *   running      -> waiting                   [park] on an event, a child run (step.invoke), a
 *                                              child call (step.fetch) or a step retry backoff
 *   compensating -> waiting                   [park] a compensation's retry backoff
 *   sleeping | waiting -> running | compensating   [claim] due, or woken (event, child's end)
 *   running      -> succeeded                 [succeed] the function returned
 *   running      -> compensating              [fail] it threw, and completed steps have
 *                                              compensations to run
 *   running      -> failed                    [fail] it threw, nothing to compensate
 *   compensating -> failed                    [compensated] every compensation has ended
 *   running | compensating -> failed          [diverge] replay_diverged: never compensated, so
 *                                              fixed code can retry the run
 *   running | compensating -> queued          [release] lease given back (graceful shutdown)
 *   queued | running | sleeping | waiting | compensating -> cancelled   [cancel]
 *   failed       -> queued                    [retry] redrive from the failed step, current code
 *
 * `succeeded`, `failed` and `cancelled` are final, except `failed` for a redrive.
 */
import { SteadfastError } from "../errors.ts";
import type { StepWait } from "./checkpoint.ts";
import type { StepId } from "./step-id.ts";

/** Every status a run can have. */
export const RunStatuses = [
  "queued",
  "running",
  "sleeping",
  "waiting",
  "compensating",
  "succeeded",
  "failed",
  "cancelled",
] as const;
/** One of `RunStatuses`. */
export type RunStatus = (typeof RunStatuses)[number];

/** Whether the run goes forward (its function) or backward (its compensations). */
export type RunPhase = "forward" | "compensating";

/**
 * Why a waiting run waits: `event` (step.waitForEvent), `child_run` (step.invoke), `child_call`
 * (step.fetch) or `retry_backoff` (a step's, or a compensation's, next attempt is not due yet).
 */
export type RunWaitCode = "event" | "child_run" | "child_call" | "retry_backoff";

/** One thing a parked run waits for: a step's wait, or a step's retry backoff. */
export type RunWait = { stepId: StepId } & (StepWait | { type: "retry"; until: number });

/** A run's state (see the file's comment). */
export type RunState =
  | { status: "queued"; phase: RunPhase }
  | { status: "running" }
  | {
      status: "sleeping";
      /** Due, epoch ms. */
      until: number;
    }
  | {
      status: "waiting";
      code: RunWaitCode;
      phase: RunPhase;
      /** When time alone wakes it (a timeout, a retry due), epoch ms. */
      until?: number;
    }
  | { status: "compensating" }
  | { status: "succeeded" }
  | {
      status: "failed";
      /** `diverged`: replay_diverged, not compensated. */
      reason: "error" | "diverged";
    }
  | { status: "cancelled" };

/** What happens to a run: the input of `transitionRun`. */
export type RunEvent =
  | { type: "claim" }
  | { type: "park"; waits: readonly RunWait[] }
  | { type: "succeed" }
  | { type: "fail"; compensate: boolean }
  | { type: "compensated" }
  | { type: "diverge" }
  | { type: "release" }
  | { type: "cancel" }
  | { type: "retry" };

/** The result of `transitionRun`: the new state, or why the event is refused. */
export type RunTransition =
  { ok: true; state: RunState } | { ok: false; error: SteadfastError<"invalid_state"> };

/** The state a new run starts in. */
export const NEW_RUN: RunState = Object.freeze({ status: "queued", phase: "forward" });

/**
 * The state after `event`, or a refusal (`invalid_state`, naming the status and the event) when
 * the event is illegal in `state`. Pure.
 *
 * @example transitionRun({ status: "running" }, { type: "park", waits }) // sleeping or waiting
 */
export function transitionRun(state: RunState, event: RunEvent): RunTransition {
  const to = (next: RunState): RunTransition => ({ ok: true, state: next });
  switch (event.type) {
    case "claim":
      if (state.status === "queued" || state.status === "waiting") {
        return to(state.phase === "forward" ? { status: "running" } : { status: "compensating" });
      }
      if (state.status === "sleeping") return to({ status: "running" });
      break;
    case "park":
      if (state.status === "running" || state.status === "compensating") {
        const phase: RunPhase = state.status === "running" ? "forward" : "compensating";
        const parked = parkedState(event.waits, phase);
        if (parked !== undefined) return to(parked);
      }
      break;
    case "succeed":
      if (state.status === "running") return to({ status: "succeeded" });
      break;
    case "fail":
      if (state.status === "running") {
        return to(
          event.compensate ? { status: "compensating" } : { status: "failed", reason: "error" },
        );
      }
      break;
    case "compensated":
      if (state.status === "compensating") return to({ status: "failed", reason: "error" });
      break;
    case "diverge":
      if (state.status === "running" || state.status === "compensating") {
        return to({ status: "failed", reason: "diverged" });
      }
      break;
    case "release":
      if (state.status === "running") return to({ status: "queued", phase: "forward" });
      if (state.status === "compensating") return to({ status: "queued", phase: "compensating" });
      break;
    case "cancel":
      if (!isFinalRunStatus(state.status)) return to({ status: "cancelled" });
      break;
    case "retry":
      if (state.status === "failed") return to({ status: "queued", phase: "forward" });
      break;
  }
  return {
    ok: false,
    error: new SteadfastError(
      "invalid_state",
      `A ${state.status} run cannot take "${event.type}"${event.type === "park" && event.waits.length === 0 ? " without anything to wait for" : ""}.`,
    ),
  };
}

/** True for `succeeded`, `failed` and `cancelled`: the run does not move on its own. */
export function isFinalRunStatus(status: RunStatus): boolean {
  return status === "succeeded" || status === "failed" || status === "cancelled";
}

/**
 * The state of a run parked on `waits`: `sleeping` when every wait is a sleep, otherwise
 * `waiting` with the code of the first other wait; `until` is the earliest time that wakes it.
 * Undefined when there is nothing to wait for.
 */
export function parkedState(waits: readonly RunWait[], phase: RunPhase): RunState | undefined {
  if (waits.length === 0) return undefined;
  const until = earliestWake(waits);
  const other = waits.find((wait) => wait.type !== "sleep");
  if (other === undefined && phase === "forward" && until !== undefined) {
    return { status: "sleeping", until };
  }
  const code: RunWaitCode = other === undefined ? "retry_backoff" : waitCode(other);
  return until === undefined
    ? { status: "waiting", code, phase }
    : { status: "waiting", code, phase, until };
}

/** The earliest time at which time alone ends one of `waits` (epoch ms), if any does. */
export function earliestWake(waits: readonly RunWait[]): number | undefined {
  let earliest: number | undefined;
  for (const wait of waits) {
    const at =
      wait.type === "sleep" || wait.type === "retry"
        ? wait.until
        : wait.type === "event"
          ? wait.timeoutAt
          : undefined;
    if (at !== undefined && (earliest === undefined || at < earliest)) earliest = at;
  }
  return earliest;
}

function waitCode(wait: RunWait): RunWaitCode {
  switch (wait.type) {
    case "event":
      return "event";
    case "child_run":
      return "child_run";
    case "child_call":
      return "child_call";
    default:
      return "retry_backoff";
  }
}
