/**
 * The workflow invocation runner: runs a workflow function once, from the top, against a
 * snapshot of its run's checkpoints, and says what happened. No store, no queue: the caller
 * (the engine, or an HTTP handler driving a durable endpoint inline) commits the returned batch
 * of checkpoints and attempts, fenced by its lease, and moves the run as the outcome says.
 *
 * Outcomes:
 * - `completed`: the function returned; its output, and the run succeeds.
 * - `failed`: the function threw (a step that failed for good, or its own error). The
 *   compensations of its completed steps have run, latest first, each a durable step; the
 *   run ends failed with their report. Every `failed` is final: a step failure that will be
 *   retried parks instead.
 * - `parked`: the run waits (a sleep, an event, a child run or call, a retry backoff, or a
 *   compensation's retry backoff: `phase`); `wakeAt` is when time alone wakes it.
 * - `diverged`: the code no longer matches the recorded run (`replay_diverged`). Not compensated,
 *   so code that keeps its step ids can retry the run.
 * - `cancelled`: the signal aborted; the function stopped at a step call. Not compensated.
 * - `interrupted`: the `commit` hook failed (lease lost, store away): nothing more was run.
 *
 * After a crash the next invocation replays: completed steps return their records, so a resumed
 * compensating run replays its function (the failed step rethrowing its recorded failure) to
 * collect the compensations again, then runs those not yet recorded. An attempt cut off by a
 * crash left no record and runs again (steps are at least once; `idempotencyKey` makes them
 * effectively once).
 */
import type { Clock } from "../../core/ports.ts";
import type { Checkpoint } from "../../core/workflow/checkpoint.ts";
import {
  compensationOrder,
  type CompensationOutcome,
  type CompensationReport,
} from "../../core/workflow/compensation.ts";
import { decideReplay } from "../../core/workflow/replay-decision.ts";
import { earliestWake, type RunPhase, type RunWait } from "../../core/workflow/run-state.ts";
import type { StepAttempt } from "../../core/workflow/step-attempt.ts";
import { compensationStepId, type StepId } from "../../core/workflow/step-id.ts";
import {
  recordError,
  type RecordedError,
  type ReplayDivergedError,
} from "../../core/workflow/workflow-errors.ts";
import { Invocation, type InvocationOptions } from "./invocation.ts";
import type { WorkflowFunction } from "./workflow-definition.ts";

/** What `runInvocation` needs: the invocation's options, and the function and its input. */
export interface RunInvocationOptions<I, O> extends InvocationOptions {
  /** The workflow function (`workflow.fn`). */
  fn: WorkflowFunction<I, O>;
  /** The run's input, decoded. */
  input: I;
}

/** How an invocation ended (see the file's comment). */
export type InvocationOutcome<O> =
  | {
      type: "completed";
      output: O;
      /** The output, encoded for storage. */
      encodedOutput: string;
    }
  | { type: "failed"; error: RecordedError; compensation: CompensationReport }
  | {
      type: "parked";
      /** `compensating`: a compensation waits for its retry. */
      phase: RunPhase;
      waits: RunWait[];
      /** When time alone ends one of the waits, epoch ms. */
      wakeAt?: number;
    }
  | { type: "diverged"; error: ReplayDivergedError }
  | { type: "cancelled" }
  /** `commit` failed: commit nothing more, the run is someone else's (or the store is away). */
  | { type: "interrupted"; error: unknown };

/** What an invocation produced: a batch to commit, and its outcome. */
export interface InvocationResult<O> {
  outcome: InvocationOutcome<O>;
  /**
   * New or changed checkpoints not yet handed to `commit`, one per step: commit them (with
   * `attempts`) in one batch with the run's new state.
   */
  checkpoints: Checkpoint[];
  /** Attempts made by this invocation and not yet handed to `commit`, in the order they ended. */
  attempts: StepAttempt[];
  /** Step ids called by the function, in call order (compensations excluded). */
  visited: StepId[];
}

/**
 * Runs `fn` once against `checkpoints` and reports the outcome and what to commit.
 *
 * @example
 * const { outcome, checkpoints, attempts } = await runInvocation({
 *   fn: checkout.fn, input, runId, checkpoints: stored, codec, clock, random,
 * });
 */
export async function runInvocation<I, O>(
  options: RunInvocationOptions<I, O>,
): Promise<InvocationResult<O>> {
  const invocation = new Invocation({
    runId: options.runId,
    checkpoints: options.checkpoints,
    codec: options.codec,
    clock: options.clock,
    random: options.random,
    ...(options.signal === undefined ? {} : { signal: options.signal }),
    ...(options.commit === undefined ? {} : { commit: options.commit }),
  });
  let settled: { type: "returned"; value: O } | { type: "threw"; error: unknown } | undefined;
  const done = (async () =>
    options.fn({ input: options.input, runId: options.runId, step: invocation.steps }))().then(
    (value) => {
      settled = { type: "returned", value };
    },
    (error: unknown) => {
      settled = { type: "threw", error };
    },
  );
  await Promise.race([done, invocation.halted]);
  // Step functions already running finish and are recorded with the batch.
  await invocation.quiesce();
  const outcome = await decideOutcome(invocation, settled, options);
  return {
    outcome,
    checkpoints: invocation.checkpoints,
    attempts: invocation.attempts,
    visited: invocation.visited,
  };
}

async function decideOutcome<I, O>(
  invocation: Invocation,
  settled: { type: "returned"; value: O } | { type: "threw"; error: unknown } | undefined,
  options: RunInvocationOptions<I, O>,
): Promise<InvocationOutcome<O>> {
  const halt = invocation.halt;
  if (halt?.type === "interrupted") return { type: "interrupted", error: halt.error };
  if (halt?.type === "diverged") return { type: "diverged", error: halt.error };
  // Cancelled before anything the function did afterwards: a step cut off by the cancellation
  // may have made it throw, and a cancelled run is not compensated.
  if (halt?.type === "cancelled" && settled?.type !== "returned") return { type: "cancelled" };
  if (settled?.type === "returned") {
    let encodedOutput: string;
    try {
      encodedOutput = invocation.encode(settled.value);
    } catch (error) {
      return compensate(invocation, recordError(error), options.clock);
    }
    return { type: "completed", output: invocation.decode(encodedOutput) as O, encodedOutput };
  }
  if (settled?.type === "threw")
    return compensate(invocation, recordError(settled.error), options.clock);
  if (halt?.type === "cancelled") return { type: "cancelled" };
  const waits = invocation.waits;
  return parked("forward", waits);
}

function parked<O>(phase: RunPhase, waits: RunWait[]): InvocationOutcome<O> {
  const wakeAt = earliestWake(waits);
  return wakeAt === undefined
    ? { type: "parked", phase, waits }
    : { type: "parked", phase, waits, wakeAt };
}

/** Runs the compensations not yet recorded, latest step first; then the run ends failed. */
async function compensate<O>(
  invocation: Invocation,
  error: RecordedError,
  clock: Clock,
): Promise<InvocationOutcome<O>> {
  const outcomes: CompensationOutcome[] = [];
  for (const registered of compensationOrder(invocation.compensations)) {
    const { stepId } = registered;
    const compensationId = compensationStepId(stepId);
    const decision = decideReplay(
      invocation.current(compensationId),
      "compensate",
      compensationId,
      clock.now(),
    );
    switch (decision.type) {
      case "memoized":
        outcomes.push({ stepId, compensationId, status: "compensated" });
        break;
      case "rethrow":
        outcomes.push({ stepId, compensationId, status: "failed", error: decision.error });
        break;
      case "retry-pending":
        return parked("compensating", [
          { stepId: compensationId, type: "retry", until: decision.retryAt },
        ]);
      case "execute":
      case "retry-due": {
        const execution = await invocation.execute(
          compensationId,
          "compensate",
          registered.retry,
          () => registered.run(registered.output),
        );
        if (execution.type === "halted") {
          if (invocation.halt?.type === "interrupted") {
            return { type: "interrupted", error: invocation.halt.error };
          }
          const checkpoint = invocation.current(compensationId);
          const until = checkpoint?.status === "retrying" ? checkpoint.retryAt : clock.now();
          return parked("compensating", [{ stepId: compensationId, type: "retry", until }]);
        }
        outcomes.push(
          execution.type === "succeeded"
            ? { stepId, compensationId, status: "compensated" }
            : { stepId, compensationId, status: "failed", error: execution.error },
        );
        break;
      }
      case "diverged":
        return { type: "diverged", error: decision.error };
      default:
        // A compensation id only ever holds a compensate step: it never waits.
        outcomes.push({
          stepId,
          compensationId,
          status: "failed",
          error: { name: "SteadfastError", message: `unexpected ${decision.type}`, terminal: true },
        });
    }
  }
  return { type: "failed", error, compensation: { outcomes } };
}
