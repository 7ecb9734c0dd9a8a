/**
 * How an invocation's outcome moves its run, as pure functions of the outcome (no store, no
 * clock): the run's end (`runEnd`, `crashLoopEnd`; its record once ended is core's `endedRun`), how a
 * parked run is held (`runPark`), and whether a parked run's retry may be waited for inline
 * (`inlineRetryAt`). The run executor's flight driver (`flight-driver.ts`) writes what they say.
 */
import type { RunEnd, RunPark } from "../../core/run-log.ts";
import { parkedState, type RunWait } from "../../core/workflow/run-state.ts";
import { recordError } from "../../core/workflow/workflow-errors.ts";
import type { InvocationOutcome } from "./run-invocation.ts";

/** An outcome that ends the run. */
export type EndingOutcome = Extract<
  InvocationOutcome<unknown>,
  { type: "completed" } | { type: "failed" } | { type: "diverged" }
>;

/**
 * How the run ends after `outcome`: succeeded with the function's output, failed with its error
 * (and its compensations' report, when any ran), or failed as diverged from its recorded run.
 */
export function runEnd(outcome: EndingOutcome): RunEnd {
  switch (outcome.type) {
    case "completed":
      return { status: "succeeded", output: outcome.encodedOutput };
    case "failed":
      return {
        status: "failed",
        error: outcome.error,
        reason: "error",
        ...(outcome.compensation.outcomes.length === 0
          ? {}
          : { compensation: outcome.compensation }),
      };
    case "diverged":
      return { status: "failed", error: recordError(outcome.error), reason: "diverged" };
  }
}

/**
 * The end of a run taken over `crashesInARow` times in a row without committing a step (its
 * invocations ended with their process, or hung past their lease): failed rather than run
 * again, since it would most likely do the same.
 */
export function crashLoopEnd(crashesInARow: number): RunEnd {
  return {
    status: "failed",
    reason: "error",
    error: {
      name: "CrashLoopError",
      code: "crash_loop",
      message: `The run was taken over ${crashesInARow} times in a row without committing a step (its process died or hung each time); it was failed rather than run again. Fix the cause and retry it.`,
      terminal: true,
    },
  };
}

/**
 * When a parked invocation's run may be retried inline: when every wait is a step's retry
 * backoff, the earliest; otherwise undefined (a sleep, an event or a child is the engine's).
 */
export function inlineRetryAt(waits: readonly RunWait[]): number | undefined {
  if (waits.length === 0 || waits.some((wait) => wait.type !== "retry")) return undefined;
  return Math.min(...waits.map((wait) => (wait.type === "retry" ? wait.until : 0)));
}

/** How a run parked on `waits` is held in the store. */
export function runPark(waits: readonly RunWait[], phase: RunPark["phase"]): RunPark {
  const state = parkedState(waits, phase);
  const events = [...new Set(waits.flatMap((wait) => (wait.type === "event" ? [wait.event] : [])))];
  const base = events.length === 0 ? {} : { events };
  if (state?.status === "sleeping")
    return { status: "sleeping", phase, runAt: state.until, ...base };
  if (state?.status === "waiting") {
    return {
      status: "waiting",
      waitCode: state.code,
      phase,
      ...(state.until === undefined ? {} : { runAt: state.until }),
      ...base,
    };
  }
  // Nothing to wait for cannot park (the runner never does it): due again at once.
  return { status: "waiting", waitCode: "retry_backoff", phase, runAt: 0 };
}
