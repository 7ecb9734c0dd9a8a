/**
 * The in-process API of durable workflows: `steadfast.workflow(name, fn)` registers a workflow in
 * this process and returns a handle that starts its runs; a run's handle reads its status and
 * waits for its result.
 *
 * A run's id doubles as its idempotency key (per tenant): starting an id that exists returns that
 * run when the workflow and input are the same, and is refused with a `RunIdReusedError` when
 * they differ (a key reused for another request, as for calls).
 */
import { SteadfastError, TerminalError, WaitTimeoutError } from "../../core/errors.ts";
import { newRunUid, tenantId as toTenantId } from "../../core/ids.ts";
import type { Clock, Random } from "../../core/ports.ts";
import type { RunRecord } from "../../core/run-log.ts";
import type { Store } from "../../core/store.ts";
import type { CompensationReport } from "../../core/workflow/compensation.ts";
import { isFinalRunStatus, type RunStatus } from "../../core/workflow/run-state.ts";
import { runIdProblem } from "../../core/workflow/run-names.ts";
import type { RecordedError } from "../../core/workflow/workflow-errors.ts";
import type { RunExecutor, WorkflowOptions } from "./run-executor.ts";
import { runInputFingerprint } from "./step-children.ts";
import { storedValueCodec } from "./stored-value-codec.ts";
import {
  defineWorkflow,
  type WorkflowDefinition,
  type WorkflowFunction,
} from "./workflow-definition.ts";

/** Options of `Workflow.start`. */
export interface StartOptions {
  /**
   * The run's id, unique per tenant, and its idempotency key: 1 to 256 printable characters
   * (`order-o-42`). Default a new id (`run_...`).
   */
  id?: string;
  /** Default `default`. */
  tenantId?: string;
}

/** A started run. */
export interface RunHandle<O> {
  /** The run's id. */
  readonly id: string;
  /** True when this start created the run; false when the id found it (same input). */
  readonly created: boolean;
  /** Its status now: `queued`, `running`, `sleeping`, `waiting`, `compensating`, or ended. */
  status(): Promise<RunStatus>;
  /**
   * Its output once it has succeeded. Rejects with a `RunFailedError` (its error, and what its
   * compensations did) when it failed, a `RunCancelledError` when it was cancelled, and a
   * `WaitTimeoutError` when `timeoutMs` passes first (the run goes on). Default: no time limit.
   */
  result(options?: { timeoutMs?: number }): Promise<O>;
}

/** A registered workflow: its definition, and how to start its runs. */
export interface Workflow<I, O> extends WorkflowDefinition<I, O> {
  /** Starts a run with `input` (committed before this resolves). */
  start(input: I, options?: StartOptions): Promise<RunHandle<O>>;
}

/** The run's id was used already, for another workflow or input. */
export class RunIdReusedError extends TerminalError<"run_id_reused"> {
  readonly runId: string;
  constructor(runId: string, existing: RunRecord) {
    super(
      "run_id_reused",
      `Run id "${runId}" is taken by a run of workflow "${existing.workflow}" with another input: a run id is an idempotency key, so give a new run a new id.`,
    );
    this.name = "RunIdReusedError";
    this.runId = runId;
  }
}

/** The run failed: its error, and what its compensations did. */
export class RunFailedError extends TerminalError<"run_failed"> {
  readonly runId: string;
  readonly failure: RecordedError;
  readonly compensation?: CompensationReport;
  constructor(run: RunRecord) {
    const failure = run.error ?? { name: "Error", message: "no error recorded", terminal: true };
    super(
      "run_failed",
      `Run "${run.id}" failed${run.failReason === "diverged" ? " (its replay diverged)" : ""}: ${failure.name}: ${failure.message}`,
    );
    this.name = "RunFailedError";
    this.runId = run.id;
    this.failure = failure;
    if (run.compensation !== undefined) this.compensation = run.compensation;
  }
}

/** The run was cancelled. */
export class RunCancelledError extends TerminalError<"run_cancelled"> {
  readonly runId: string;
  constructor(runId: string) {
    super("run_cancelled", `Run "${runId}" was cancelled.`);
    this.name = "RunCancelledError";
    this.runId = runId;
  }
}

/** What the workflow API works with. */
export interface WorkflowClientOptions {
  store: Store;
  executor: RunExecutor;
  clock: Clock;
  random: Random;
  /** How often `result()` reads a run another process runs, ms. Default 1,000. */
  pollIntervalMs?: number;
}

/**
 * Registers workflows and starts their runs (see the file's comment).
 *
 * @example
 * const workflows = new WorkflowClient({ store, executor: engine.runs, clock, random });
 * const checkout = workflows.workflow("checkout", async ({ input, step }) => ...);
 */
export class WorkflowClient {
  readonly #options: WorkflowClientOptions;

  constructor(options: WorkflowClientOptions) {
    this.#options = options;
  }

  /** Registers `fn` under `name` in this process and returns its handle. */
  workflow<I = unknown, O = unknown>(
    name: string,
    fn: WorkflowFunction<I, O>,
    options: WorkflowOptions = {},
  ): Workflow<I, O> {
    const definition = defineWorkflow(name, fn);
    this.#options.executor.register(definition as WorkflowDefinition<unknown, unknown>, options);
    return Object.freeze({
      name: definition.name,
      fn: definition.fn,
      start: (input: I, startOptions?: StartOptions) =>
        this.start<I, O>(definition, input, startOptions),
    });
  }

  /** Starts a run of `definition` (registered here or not: a process that registers it runs it). */
  async start<I, O>(
    definition: WorkflowDefinition<I, O>,
    input: I,
    options: StartOptions = {},
  ): Promise<RunHandle<O>> {
    const { store, executor, clock, random } = this.#options;
    const tenant = toTenantId(options.tenantId ?? "default");
    const problem = options.id === undefined ? undefined : runIdProblem(options.id);
    if (problem !== undefined) {
      throw new SteadfastError(
        "invalid_request",
        `Run id ${JSON.stringify(options.id).slice(0, 80)} is not valid: ${problem}.`,
      );
    }
    const encoded = storedValueCodec.encode(input);
    const now = clock.now();
    const uid = newRunUid(now, random);
    const id = options.id ?? uid;
    const slot = executor.reserve(definition.name);
    let created: { created: boolean; run: RunRecord };
    try {
      created = await store.createRun(
        {
          uid,
          tenantId: tenant,
          id,
          workflow: definition.name,
          input: encoded,
          inputFingerprint: runInputFingerprint(definition.name, encoded),
          createdAt: now,
        },
        slot,
      );
    } catch (error) {
      slot?.release();
      throw error;
    }
    if (created.created) {
      if (slot === undefined) executor.notify(now);
      // Its end is awaited through `result()`, not here (launch never rejects).
      else void slot.launch(created.run);
    } else {
      slot?.release();
      if (created.run.inputFingerprint !== runInputFingerprint(definition.name, encoded)) {
        throw new RunIdReusedError(id, created.run);
      }
    }
    return this.#handle<O>(created.run, created.created);
  }

  #handle<O>(run: RunRecord, created: boolean): RunHandle<O> {
    const { store } = this.#options;
    return {
      id: run.id,
      created,
      status: async () => (await store.getRunByUid(run.uid))?.status ?? run.status,
      result: async (resultOptions = {}) => {
        const ended = await waitForRunEnd(this.#options, run, resultOptions.timeoutMs);
        if (ended === undefined) {
          const now = (await store.getRunByUid(run.uid))?.status ?? run.status;
          throw new WaitTimeoutError(run.id, now, resultOptions.timeoutMs ?? 0, "Run");
        }
        return outputOf<O>(ended);
      },
    };
  }
}

/** What `waitForRunEnd` reads: the store, the executor's `run:ended`, and time. */
export interface RunEndSources {
  store: Pick<Store, "getRunByUid">;
  /** This process's executor, whose `run:ended` is heard at once. Absent: the store is polled. */
  executor?: Pick<RunExecutor, "events" | "isRunning"> | undefined;
  clock: Clock;
  /** How often the store is read, ms. Default 1,000. */
  pollIntervalMs?: number | undefined;
}

/**
 * `run` once it has ended, or undefined when `timeoutMs` passed first (default: no limit) or
 * `signal` aborted. Its end is heard at once when this process runs it (`run:ended`); a run
 * another process runs is read from the store every `pollIntervalMs` (default 1,000).
 */
export async function waitForRunEnd(
  sources: RunEndSources,
  run: RunRecord,
  timeoutMs?: number,
  signal?: AbortSignal,
): Promise<RunRecord | undefined> {
  const { store, executor, clock } = sources;
  const deadline = timeoutMs === undefined ? Number.POSITIVE_INFINITY : clock.now() + timeoutMs;
  const controller = new AbortController();
  const stop = (): void => controller.abort();
  signal?.addEventListener("abort", stop, { once: true });
  let ended: RunRecord | undefined;
  const off =
    executor?.events.on("run:ended", ({ run: done }) => {
      if (done.uid === run.uid) {
        ended = done;
        controller.abort();
      }
    }) ?? (() => {});
  // Run here now: its end is heard (run:ended) without asking the store first.
  let ask = executor?.isRunning(run.uid) !== true;
  try {
    for (;;) {
      const current = ended ?? (ask ? await store.getRunByUid(run.uid) : undefined);
      ask = true;
      if (current !== undefined && isFinalRunStatus(current.status)) return current;
      const left = deadline - clock.now();
      if (left <= 0 || signal?.aborted === true) return undefined;
      const wait = Math.min(left, sources.pollIntervalMs ?? 1_000);
      await clock.sleep(wait, controller.signal).catch(() => {});
      if (controller.signal.aborted && ended !== undefined) return ended;
    }
  } finally {
    off();
    signal?.removeEventListener("abort", stop);
  }
}

function outputOf<O>(run: RunRecord): O {
  if (run.status === "succeeded") return storedValueCodec.decode(run.output ?? "") as O;
  if (run.status === "cancelled") throw new RunCancelledError(run.id);
  throw new RunFailedError(run);
}
