/**
 * Errors of durable workflows, and the form in which a step's error is recorded.
 *
 * A step's error is recorded as a `RecordedError` (name, message, code, whether it was terminal),
 * not as the thrown object: an error's prototype, closures and fields do not survive a process.
 * Whether the step failed on this invocation or on an earlier one, the workflow sees the same
 * `StepFailedError` built from that record, so code that catches it behaves the same live and
 * on replay.
 */
import {
  isSteadfastError,
  isTerminalError,
  SteadfastError,
  TerminalError,
  type SteadfastErrorOptions,
} from "../errors.ts";
import type { StepKind } from "./checkpoint.ts";

/** A step's or a run's error as recorded: plain data, the same on every replay. */
export interface RecordedError {
  /** The error's `name` (`TypeError`, `TerminalError`...), or `"Error"` for a thrown non-error. */
  name: string;
  message: string;
  /** The error's string `code`, when it had one (`card_declined`, `ECONNRESET`...). */
  code?: string;
  /** True when it was a `TerminalError` (never retried). */
  terminal: boolean;
}

/** Records `error` as plain data. Anything thrown is accepted (a string, an object, undefined). */
export function recordError(error: unknown): RecordedError {
  const terminal = isTerminalError(error);
  if (error instanceof Error || isSteadfastError(error)) {
    const code = (error as { code?: unknown }).code;
    return {
      name: error.name,
      message: error.message,
      ...(typeof code === "string" ? { code } : {}),
      terminal,
    };
  }
  return { name: "Error", message: describeThrown(error), terminal };
}

function describeThrown(value: unknown): string {
  if (typeof value === "string") return value;
  try {
    return `non-error thrown: ${JSON.stringify(value) ?? String(value)}`;
  } catch {
    return `non-error thrown: ${String(value)}`;
  }
}

/**
 * Thrown by a step call whose step failed for good: a `TerminalError` from its function, its
 * attempts used up, a child run or call that failed. The same on the invocation where it
 * happened and on every replay (its fields come from the record). Terminal: the workflow can
 * catch it and go on, or let it fail the run (which then runs its compensations).
 *
 * @example
 * try { await step.run("charge", charge); }
 * catch (error) { if (isStepFailedError(error) && error.failure.code === "card_declined") ... }
 */
export class StepFailedError extends TerminalError<"step_failed"> {
  /** The step that failed. */
  readonly stepId: string;
  /** Its last error, as recorded. */
  readonly failure: RecordedError;

  constructor(stepId: string, failure: RecordedError) {
    super(
      "step_failed",
      `Step "${stepId}" failed: ${failure.name}${failure.code === undefined ? "" : ` (${failure.code})`}: ${failure.message}`,
    );
    this.name = "StepFailedError";
    this.stepId = stepId;
    this.failure = failure;
  }
}

/** True for a `StepFailedError`, from any copy of the package. */
export function isStepFailedError(value: unknown): value is StepFailedError {
  return isSteadfastError(value) && value.code === "step_failed";
}

/**
 * Thrown from a step's function to fail the step at once, without retrying it (a `TerminalError`
 * with code `non_retriable` and a message of your own). Any `TerminalError` does the same.
 *
 * @example step.run("charge", async () => { if (declined) throw new NonRetriableError("card declined"); })
 */
export class NonRetriableError extends TerminalError<"non_retriable"> {
  constructor(message: string, options: SteadfastErrorOptions = {}) {
    super("non_retriable", message, options);
    this.name = "NonRetriableError";
  }
}

/**
 * The workflow's code no longer matches its recorded run: the step recorded under `stepId` is of
 * another kind than the one called now (the code changed under an in-flight run). The run fails
 * with it, rather than hand a step a value recorded for another. It is not compensated: deploy
 * code whose steps keep their ids and retry the run, or cancel it.
 */
export class ReplayDivergedError extends SteadfastError<"replay_diverged"> {
  readonly stepId: string;
  /** The kind of step recorded under `stepId`. */
  readonly recordedKind: StepKind;
  /** The kind of step the code calls under that id now. */
  readonly calledKind: StepKind;

  constructor(stepId: string, recordedKind: StepKind, calledKind: StepKind) {
    super(
      "replay_diverged",
      `Replay diverged at step "${stepId}": the run recorded a step.${recordedKind}() under this id, the code now calls step.${calledKind}(). Deploy code whose steps keep their ids, or cancel the run.`,
    );
    this.name = "ReplayDivergedError";
    this.stepId = stepId;
    this.recordedKind = recordedKind;
    this.calledKind = calledKind;
  }
}

/** True for a `ReplayDivergedError`, from any copy of the package. */
export function isReplayDivergedError(value: unknown): value is ReplayDivergedError {
  return isSteadfastError(value) && value.code === "replay_diverged";
}
