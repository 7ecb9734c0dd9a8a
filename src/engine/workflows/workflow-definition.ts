/**
 * What a workflow's author writes against: the workflow function, its context, and the `step`
 * API. The runner (`run-invocation.ts`) implements `Steps` for one invocation.
 *
 * Determinism: the function runs again from the top on every invocation (after a sleep, a
 * wait, a retry backoff, a crash), and completed steps return their recorded result. Code
 * outside steps must therefore do the same thing every time: read the time with `step.now()`,
 * draw randomness with `step.random()`, and do I/O only inside steps.
 */
import type { StoredResponse } from "../../core/call.ts";
import { InvalidOptionError } from "../../core/errors.ts";
import type { FetchInput } from "../../core/fetch-input.ts";
import type { EventMatch } from "../../core/workflow/checkpoint.ts";
import type { Duration } from "../../core/duration.ts";
import type { StepRetryOptions } from "../../core/workflow/step-attempt.ts";
import { workflowNameProblem } from "../../core/workflow/run-names.ts";

/** What a step's function is given. */
export interface StepRunContext {
  /** The step's recorded id (`charge`, or `charge#2` for its second use in a loop). */
  stepId: string;
  /** This attempt's number, 1-based, over the step's life (it survives crashes). */
  attempt: number;
  /** `<runId>:<stepId>`: the same on every attempt; forward it to make the effect idempotent. */
  idempotencyKey: string;
  /** Aborts when the run is cancelled; the attempt may still finish and be recorded. */
  signal: AbortSignal;
}

/** A compensation: undoes a completed step, given its output. */
export type Compensation<T> = (output: T) => unknown;

/** Options of `step.run`. */
export interface StepRunOptions<T> {
  /** Retry of the step's function. Default: 4 attempts, full-jitter exponential from 1 s. */
  retry?: StepRetryOptions;
  /**
   * Runs, as a durable step of its own, if the run later fails: completed steps' compensations
   * run in reverse call order. A function, or one with its own retry policy (default: as a step).
   */
  compensate?: Compensation<T> | { run: Compensation<T>; retry?: StepRetryOptions };
}

/** Options of `step.waitForEvent`. */
export interface WaitForEventOptions {
  /** The event's name (`order.approved`). */
  event: string;
  /** Field match: each key must equal the event data's top-level field of that name. */
  match?: EventMatch;
  /** Give up after this long and return null: ms or a string (`"1d"`). Default: wait forever. */
  timeout?: Duration;
}

/** The request of `step.fetch`: the body of `POST /v1/fetch`, without `callback` and `delayMs`. */
export type StepFetchRequest = Omit<FetchInput, "callback" | "delayMs">;

/** The answer of `step.fetch`: the child call's final response, as a call stores it. */
export type StepFetchResponse = StoredResponse;

/**
 * The step API of one invocation. Every method takes a step id that must be stable across
 * deployments (see `core/workflow/step-id.ts` for the rules); an id used again in a loop is
 * numbered (`id`, `id#2`, ...).
 */
export interface Steps {
  /**
   * Runs `fn` as a durable step: once it succeeds, its result is recorded and every later
   * invocation returns that result without running `fn`. A failed attempt is retried after a
   * durable backoff (the run parks; no process waits); a `TerminalError` (`NonRetriableError`)
   * fails it at once. A step that fails for good throws a `StepFailedError`, now and on replay.
   *
   * @example const charge = await step.run("charge", () => payments.charge(orderId), { compensate: (c) => payments.refund(c.id) });
   */
  run<T>(
    id: string,
    fn: (context: StepRunContext) => T | Promise<T>,
    options?: StepRunOptions<Awaited<T>>,
  ): Promise<Awaited<T>>;
  /** Parks the run for `duration` (ms, or `"10m"`, `"1d"`...), counted from the first call. */
  sleep(id: string, duration: Duration): Promise<void>;
  /** Parks the run until `until` (a `Date` or epoch ms). */
  sleepUntil(id: string, until: Date | number): Promise<void>;
  /**
   * Parks the run until an event named `event` whose data matches `match` is delivered (its
   * data is returned), or until `timeout` passes (null is returned).
   */
  waitForEvent<D = unknown>(id: string, options: WaitForEventOptions): Promise<D | null>;
  /**
   * A durable HTTP call as a step: the run parks while a child call (the engine's transport,
   * destination protection and attempt records, with the idempotency key `<runId>:<stepId>`)
   * runs; its final response is returned. A child call that fails throws a `StepFailedError`.
   */
  fetch(id: string, request: StepFetchRequest): Promise<StepFetchResponse>;
  /** Starts the child workflow `workflow` with `input` (run id `<runId>:<stepId>`) and parks until it ends; returns its output. */
  invoke<I, O>(id: string, workflow: WorkflowDefinition<I, O>, input: I): Promise<O>;
  /**
   * The time, epoch ms, recorded: a replay returns the same. Without an id, calls are matched
   * by call order (`$now`, `$now#2`, ...): inserting a `step.now()` before an existing one in
   * code shifts the recorded values onto later calls. Give an id to pin one.
   */
  now(id?: string): Promise<number>;
  /** A random number in [0, 1), recorded; matched like `now()` (`$random`, `$random#2`, ...). */
  random(id?: string): Promise<number>;
}

/** What a workflow function is given. */
export interface WorkflowContext<I> {
  /** The run's input, as given when it was started (decoded). */
  input: I;
  /** The run's id. */
  runId: string;
  step: Steps;
}

/** A workflow function: its steps, and the output of the run. */
export type WorkflowFunction<I, O> = (context: WorkflowContext<I>) => Promise<O> | O;

/** A workflow: its name (stable across deployments) and its function. */
export interface WorkflowDefinition<I, O> {
  readonly name: string;
  readonly fn: WorkflowFunction<I, O>;
}

/**
 * Declares a workflow. The input type comes from the context's annotation, the output type from
 * what the function returns.
 *
 * @example
 * const checkout = defineWorkflow("checkout", async ({ input, step }: WorkflowContext<{ orderId: string }>) => {
 *   const charge = await step.run("charge", () => charge(input.orderId));
 *   return { chargeId: charge.id };
 * });
 */
export function defineWorkflow<I, O>(
  name: string,
  fn: WorkflowFunction<I, O>,
): WorkflowDefinition<I, O> {
  const problem = workflowNameProblem(name);
  if (problem !== undefined) {
    throw new InvalidOptionError(`Workflow name ${JSON.stringify(name)} is not valid: ${problem}.`);
  }
  return Object.freeze({ name, fn });
}
