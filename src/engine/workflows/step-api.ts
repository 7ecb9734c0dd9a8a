/**
 * The `step` API of one invocation: each method allocates its step's id, asks the replay decision
 * what to do, and returns the recorded value, runs the step, or parks (a promise that never
 * settles: see `invocation.ts`).
 */
import { InvalidOptionError, SteadfastError } from "../../core/errors.ts";
import { eventNameProblem } from "../../core/workflow/run-names.ts";
import { parseFetchInput } from "../../core/fetch-input.ts";
import type { ParkingKind, StepWait } from "../../core/workflow/checkpoint.ts";
import type { ReplayDecision } from "../../core/workflow/replay-decision.ts";
import { stepRetryPolicy } from "../../core/workflow/step-attempt.ts";
import { parseDuration } from "../../core/duration.ts";
import type { StepId } from "../../core/workflow/step-id.ts";
import { StepFailedError } from "../../core/workflow/workflow-errors.ts";
import type { Invocation } from "./invocation.ts";
import type {
  Compensation,
  StepFetchRequest,
  StepFetchResponse,
  StepRunContext,
  StepRunOptions,
  Steps,
  WaitForEventOptions,
  WorkflowDefinition,
} from "./workflow-definition.ts";

// A promise that never settles: what a parked step returns to the workflow's code.
const never = <T>(): Promise<T> => new Promise<T>(() => {});

/** Builds the `step` API over `invocation`. */
export function createSteps(invocation: Invocation): Steps {
  return new StepCalls(invocation).steps();
}

class StepCalls {
  readonly #inv: Invocation;

  constructor(invocation: Invocation) {
    this.#inv = invocation;
  }

  /** A step that parks the run until it is resolved. */
  async #parking<T>(
    kind: ParkingKind,
    id: string,
    makeWait: (stepId: StepId, now: number) => StepWait,
  ): Promise<T> {
    const begun = this.#inv.begin(kind, id, false);
    if (begun === undefined) return never();
    const { stepId, decision } = begun;
    switch (decision.type) {
      case "memoized":
        return this.#inv.decode(decision.output) as T;
      case "rethrow":
        throw new StepFailedError(stepId, decision.error);
      case "wait-over": {
        const output = this.#inv.encode(decision.value);
        this.#inv.record(stepId, { type: "resolved", output, at: this.#inv.now() });
        if (!(await this.#inv.flush())) return never();
        return this.#inv.decode(output) as T;
      }
      case "still-waiting":
        this.#inv.park({ stepId, ...decision.wait });
        return never();
      case "execute": {
        const now = this.#inv.now();
        const wait = makeWait(stepId, now);
        this.#inv.record(stepId, { type: "parked", kind, wait, at: now });
        if (wait.type === "sleep" && wait.until <= now) {
          // A sleep that is already due (0 ms, a past date) ends at once.
          const output = this.#inv.encode(undefined);
          this.#inv.record(stepId, { type: "resolved", output, at: now });
          if (!(await this.#inv.flush())) return never();
          return undefined as T;
        }
        this.#inv.park({ stepId, ...wait });
        return never();
      }
      default:
        return unexpected(stepId, decision);
    }
  }

  /** A step whose value is recorded at once (`now`, `random`). */
  async #recordedValue(
    kind: "now" | "random",
    id: string | undefined,
    draw: () => number,
  ): Promise<number> {
    const begun =
      id === undefined ? this.#inv.begin(kind, `$${kind}`, true) : this.#inv.begin(kind, id, false);
    if (begun === undefined) return never();
    const { stepId, decision } = begun;
    if (decision.type === "memoized") return this.#inv.decode(decision.output) as number;
    if (decision.type !== "execute") return unexpected(stepId, decision);
    const output = this.#inv.encode(draw());
    this.#inv.record(stepId, { type: "recorded", kind, output, at: this.#inv.now() });
    if (!(await this.#inv.flush())) return never();
    return this.#inv.decode(output) as number;
  }

  async #run<T>(
    id: string,
    fn: (context: StepRunContext) => T | Promise<T>,
    options: StepRunOptions<Awaited<T>> = {},
  ): Promise<Awaited<T>> {
    const policy = stepRetryPolicy(id, options.retry);
    const compensate = options.compensate;
    const compensation =
      compensate === undefined
        ? undefined
        : typeof compensate === "function"
          ? { run: compensate, retry: policy }
          : { run: compensate.run, retry: stepRetryPolicy(`$compensate:${id}`, compensate.retry) };
    const begun = this.#inv.begin("run", id, false);
    if (begun === undefined) return never<Awaited<T>>();
    const { stepId, callIndex, decision } = begun;
    const completed = (output: string): Awaited<T> => {
      const value = this.#inv.decode(output) as Awaited<T>;
      if (compensation !== undefined) {
        this.#inv.registerCompensation({
          stepId,
          callIndex,
          output: value,
          run: compensation.run as Compensation<unknown>,
          retry: compensation.retry,
        });
      }
      return value;
    };
    switch (decision.type) {
      case "memoized":
        return completed(decision.output);
      case "rethrow":
        throw new StepFailedError(stepId, decision.error);
      case "retry-pending":
        this.#inv.park({ stepId, type: "retry", until: decision.retryAt });
        return never<Awaited<T>>();
      case "execute":
      case "retry-due": {
        const execution = await this.#inv.execute(stepId, "run", policy, fn);
        if (execution.type === "succeeded") return completed(execution.output);
        if (execution.type === "failed") throw new StepFailedError(stepId, execution.error);
        return never<Awaited<T>>();
      }
      default:
        return unexpected(stepId, decision);
    }
  }

  /** The `step` API handed to the workflow function. */
  steps(): Steps {
    const runId = this.#inv.runId;
    return {
      run: (id, fn, options) => this.#run(id, fn, options),
      sleep: async (id, duration) => {
        const ms = parseDuration(duration, `step.sleep("${id}") duration`);
        return this.#parking<void>("sleep", id, (_stepId, now) => ({
          type: "sleep",
          until: now + ms,
        }));
      },
      sleepUntil: async (id, until) => {
        const at = until instanceof Date ? until.getTime() : until;
        if (!Number.isFinite(at)) {
          throw new InvalidOptionError(
            `step.sleepUntil("${id}"): ${String(until)} is not a valid date.`,
          );
        }
        return this.#parking<void>("sleep", id, () => ({ type: "sleep", until: at }));
      },
      waitForEvent: async <D>(id: string, options: WaitForEventOptions) => {
        checkEventOptions(id, options);
        const timeoutMs =
          options.timeout === undefined
            ? undefined
            : parseDuration(options.timeout, `step.waitForEvent("${id}") timeout`);
        return this.#parking<D | null>("waitForEvent", id, (_stepId, now) => ({
          type: "event",
          event: options.event,
          ...(options.match === undefined ? {} : { match: { ...options.match } }),
          ...(timeoutMs === undefined ? {} : { timeoutAt: now + timeoutMs }),
        }));
      },
      fetch: async (id: string, request: StepFetchRequest) => {
        checkFetchRequest(id, request);
        return this.#parking<StepFetchResponse>("fetch", id, (stepId) => ({
          type: "child_call",
          request: { ...request },
          idempotencyKey: `${runId}:${stepId}`,
        }));
      },
      invoke: async <I, O>(id: string, workflow: WorkflowDefinition<I, O>, input: I) => {
        return this.#parking<O>("invoke", id, (stepId) => ({
          type: "child_run",
          workflow: workflow.name,
          input: this.#inv.encode(input),
          runId: `${runId}:${stepId}`,
        }));
      },
      now: (id) => this.#recordedValue("now", id, () => this.#inv.now()),
      random: (id) => this.#recordedValue("random", id, () => this.#inv.draw()),
    };
  }
}

function checkEventOptions(id: string, options: WaitForEventOptions): void {
  const problem = eventNameProblem(options.event);
  if (problem !== undefined) {
    throw new InvalidOptionError(`step.waitForEvent("${id}"): event ${problem}.`);
  }
  for (const [field, value] of Object.entries(options.match ?? {})) {
    if (value !== null && !["string", "number", "boolean"].includes(typeof value)) {
      throw new InvalidOptionError(
        `step.waitForEvent("${id}"): match.${field} must be a string, number, boolean or null, got ${typeof value}.`,
      );
    }
  }
}

function checkFetchRequest(id: string, request: StepFetchRequest): void {
  const extra = request as { callback?: unknown; delayMs?: unknown };
  if (extra.callback !== undefined || extra.delayMs !== undefined) {
    throw new InvalidOptionError(
      `step.fetch("${id}"): callback and delayMs are not step options (the run is the callback; use step.sleep for a delay).`,
    );
  }
  // The same checks as POST /v1/fetch, so a bad request fails here, in the workflow's code.
  parseFetchInput(request);
}

function unexpected(stepId: StepId, decision: ReplayDecision): never {
  throw new SteadfastError(
    "internal",
    `Step "${stepId}": unexpected replay decision "${decision.type}" (a bug in Steadfast, please report it).`,
  );
}
