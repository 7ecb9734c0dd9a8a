/**
 * One invocation of a workflow function: the `step` API over a snapshot of the run's
 * checkpoints, collecting what to commit (new checkpoints, attempts) and why the invocation must
 * end (park, divergence, cancellation).
 *
 * A step that must wait (a sleep, an event, a child, a retry backoff) does not throw through
 * the user's code, where a `try`/`catch` could swallow it: it records its wait and returns a
 * promise that never settles, and signals `halted`. Step calls made in the same synchronous run
 * (the other members of a `Promise.all`) still start; later step calls never settle (and record
 * nothing), while step functions already running are awaited (`quiesce`) so their results are
 * committed with the batch.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { setImmediate } from "node:timers/promises";
import { InvalidOptionError } from "../../core/errors.ts";
import { monotonicNow, type Clock, type Random } from "../../core/ports.ts";
import {
  nextCheckpoint,
  type AttemptedKind,
  type Checkpoint,
  type StepEvent,
  type StepKind,
  type ValueCodec,
} from "../../core/workflow/checkpoint.ts";
import { decideReplay, type ReplayDecision } from "../../core/workflow/replay-decision.ts";
import type { RunWait } from "../../core/workflow/run-state.ts";
import {
  decideStepAttempt,
  type StepAttempt,
  type StepRetryPolicy,
} from "../../core/workflow/step-attempt.ts";
import {
  StepIdAllocator,
  type ReservedStepName,
  type StepId,
} from "../../core/workflow/step-id.ts";
import {
  recordError,
  type RecordedError,
  type ReplayDivergedError,
} from "../../core/workflow/workflow-errors.ts";
import { createSteps } from "./step-api.ts";
import type { Compensation, StepRunContext, Steps } from "./workflow-definition.ts";

// The step whose function is running, so a step called from inside it is refused: its id would
// be allocated only when the outer step runs, not when it is memoized, and replay would diverge.
const insideStep = new AsyncLocalStorage<string>();

/** What ended the invocation before its function did. */
export type Halt =
  | { type: "park" }
  | { type: "diverged"; error: ReplayDivergedError }
  | { type: "cancelled" }
  | { type: "interrupted"; error: unknown };

/** Checkpoints and attempts to commit together. */
export interface CheckpointBatch {
  checkpoints: Checkpoint[];
  attempts: StepAttempt[];
}

/** A completed step's compensation, collected for the saga. */
export interface RegisteredCompensation {
  stepId: StepId;
  /** The step's place in call order. */
  callIndex: number;
  /** The step's output, decoded. */
  output: unknown;
  run: Compensation<unknown>;
  retry: StepRetryPolicy;
}

/** How an attempted step's execution ended. */
export type Execution =
  | { type: "succeeded"; output: string }
  | { type: "failed"; error: RecordedError }
  /** Parked (a retry is due later), or interrupted (its commit failed). */
  | { type: "halted" };

/** What an invocation is built from. */
export interface InvocationOptions {
  runId: string;
  checkpoints: Iterable<Checkpoint>;
  codec: ValueCodec;
  clock: Clock;
  /** For step retry jitter and `step.random()`. */
  random: Random;
  /** Aborts to cancel the run: it stops at its next step call (compensations are not run). */
  signal?: AbortSignal;
  /**
   * Commits a step's records (its checkpoint, its attempts) before the step returns to the
   * workflow, so a crash later in the invocation does not run it again: the engine's group
   * commit, fenced by its lease. Concurrent steps call it concurrently. When it rejects (the
   * lease is lost, the store is away), nothing more is run or committed: the outcome is
   * `interrupted`. Without it, everything is in the result's batch (one commit at the end).
   */
  commit?: (batch: CheckpointBatch) => Promise<void>;
}

/** The state of one invocation (see the file's comment). Used by `runInvocation`. */
export class Invocation {
  readonly runId: string;
  readonly #recorded = new Map<string, Checkpoint>();
  readonly #batch = new Map<string, Checkpoint>();
  /** Steps whose latest checkpoint has not been handed to `commit`. */
  readonly #dirty = new Set<string>();
  /** Attempts not handed to `commit`. */
  readonly #attempts: StepAttempt[] = [];
  readonly #commit: ((batch: CheckpointBatch) => Promise<void>) | undefined;
  readonly #waits: RunWait[] = [];
  readonly #visited: StepId[] = [];
  readonly #compensations: RegisteredCompensation[] = [];
  readonly #inFlight = new Set<Promise<unknown>>();
  readonly #ids = new StepIdAllocator();
  readonly #codec: ValueCodec;
  readonly #clock: Clock;
  readonly #random: Random;
  readonly #signal: AbortSignal;
  #callIndex = 0;
  #halt: Halt | undefined;
  /** Set once new step calls no longer start (they never settle). */
  #closed = false;
  #onHalt: () => void = () => {};
  /** Resolves when the invocation halts (a park, a divergence, a cancellation). */
  readonly halted: Promise<void>;
  /** The `step` API handed to the workflow function. */
  readonly steps: Steps;

  constructor(options: InvocationOptions) {
    this.runId = options.runId;
    for (const checkpoint of options.checkpoints) this.#recorded.set(checkpoint.stepId, checkpoint);
    this.#codec = options.codec;
    this.#clock = options.clock;
    this.#random = options.random;
    this.#signal = options.signal ?? new AbortController().signal;
    this.#commit = options.commit;
    this.halted = new Promise((resolve) => (this.#onHalt = resolve));
    this.steps = createSteps(this);
  }

  /** Why the invocation halted, if it did. */
  get halt(): Halt | undefined {
    return this.#halt;
  }

  /** The checkpoints written by this invocation and not yet committed, one per step (its latest state). */
  get checkpoints(): Checkpoint[] {
    return [...this.#dirty].map((stepId) => this.#batch.get(stepId)!);
  }

  /** The attempts made by this invocation and not yet committed. */
  get attempts(): StepAttempt[] {
    return [...this.#attempts];
  }

  /** What the run waits for, when parked. */
  get waits(): RunWait[] {
    return [...this.#waits];
  }

  /** Step ids called, in call order. */
  get visited(): StepId[] {
    return [...this.#visited];
  }

  /** Compensations of the completed steps, in the order their steps were called. */
  get compensations(): RegisteredCompensation[] {
    return [...this.#compensations];
  }

  /** Waits until no step function is running (and the promise callbacks they freed have run). */
  async quiesce(): Promise<void> {
    for (;;) {
      while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
      await setImmediate();
      if (this.#inFlight.size === 0) return;
    }
  }

  /** Encodes `value`, the encoded form of which is what a replay decodes. */
  encode(value: unknown): string {
    return this.#codec.encode(value);
  }

  decode(text: string): unknown {
    return this.#codec.decode(text);
  }

  /** The checkpoint of `stepId` as it stands in this invocation. */
  current(stepId: StepId): Checkpoint | undefined {
    return this.#batch.get(stepId) ?? this.#recorded.get(stepId);
  }

  /** Runs one attempt of an attempted step, records it and decides what follows. */
  execute(
    stepId: StepId,
    kind: AttemptedKind,
    policy: StepRetryPolicy,
    fn: (context: StepRunContext) => unknown,
  ): Promise<Execution> {
    const execution = this.#executeAttempt(stepId, kind, policy, fn).then(async (ended) =>
      ended.type === "halted" || (await this.flush()) ? ended : { type: "halted" as const },
    );
    this.#inFlight.add(execution);
    void execution.finally(() => this.#inFlight.delete(execution));
    return execution;
  }

  /** The invocation's time, epoch ms. */
  now(): number {
    return this.#clock.now();
  }

  /** A draw from the invocation's random source. */
  draw(): number {
    return this.#random.next();
  }

  /** Adds a completed step's compensation, for the saga. */
  registerCompensation(compensation: RegisteredCompensation): void {
    this.#compensations.push(compensation);
  }

  /** Parks the invocation on `wait`. */
  park(wait: RunWait): void {
    this.#waits.push(wait);
    this.#stop({ type: "park" });
  }

  #stop(halt: Halt): void {
    // A failed commit outranks everything (nothing more may be written); a divergence outranks
    // a park or a cancellation that came first.
    if (
      this.#halt === undefined ||
      halt.type === "interrupted" ||
      (halt.type === "diverged" && this.#halt.type !== "interrupted")
    ) {
      this.#halt = halt;
    }
    if (halt.type === "park") {
      // Steps called in the same synchronous run as the park (`Promise.all([step.sleep(...),
      // step.run(...)])`) still start; later calls do not.
      queueMicrotask(() => (this.#closed = true));
    } else {
      this.#closed = true;
    }
    this.#onHalt();
  }

  /** Moves `stepId`'s checkpoint by `event` (the step state machine) and marks it to commit. */
  record(stepId: StepId, event: StepEvent): Checkpoint {
    const next = nextCheckpoint(this.current(stepId), event, stepId);
    this.#batch.set(stepId, next);
    this.#dirty.add(stepId);
    return next;
  }

  /**
   * Hands what is not yet committed to `commit`, if there is one, and waits for it; false when
   * it failed (the invocation is then interrupted: the step must not return).
   */
  flush(): Promise<boolean> {
    const commit = this.#commit;
    if (commit === undefined) return Promise.resolve(true);
    if (this.#halt?.type === "interrupted") return Promise.resolve(false);
    const batch: CheckpointBatch = {
      checkpoints: this.checkpoints,
      attempts: this.#attempts.splice(0),
    };
    this.#dirty.clear();
    if (batch.checkpoints.length === 0 && batch.attempts.length === 0) return Promise.resolve(true);
    const flushed = (async () => {
      try {
        await commit(batch);
        return true;
      } catch (error) {
        this.#stop({ type: "interrupted", error });
        return false;
      }
    })();
    this.#inFlight.add(flushed);
    void flushed.finally(() => this.#inFlight.delete(flushed));
    return flushed;
  }

  /**
   * Allocates the id of a step call and decides it; undefined when the invocation has halted
   * (the call then never settles).
   */
  begin(
    kind: StepKind,
    id: string,
    reserved: boolean,
  ): { stepId: StepId; callIndex: number; decision: ReplayDecision } | undefined {
    const outer = insideStep.getStore();
    if (outer !== undefined) {
      throw new InvalidOptionError(
        `step.${kind}(${reserved ? "" : JSON.stringify(id)}) was called inside the function of step "${outer}": steps cannot be nested. Call it from the workflow function, before or after that step.`,
      );
    }
    const stepId = reserved
      ? this.#ids.allocateReserved(id as ReservedStepName)
      : this.#ids.allocate(id);
    const callIndex = this.#callIndex++;
    this.#visited.push(stepId);
    if (this.#closed) return undefined;
    if (this.#signal.aborted) {
      this.#stop({ type: "cancelled" });
      return undefined;
    }
    const decision = decideReplay(this.current(stepId), kind, stepId, this.#clock.now());
    if (decision.type === "diverged") {
      this.#stop({ type: "diverged", error: decision.error });
      return undefined;
    }
    return { stepId, callIndex, decision };
  }

  async #executeAttempt(
    stepId: StepId,
    kind: AttemptedKind,
    policy: StepRetryPolicy,
    fn: (context: StepRunContext) => unknown,
  ): Promise<Execution> {
    const number = (this.current(stepId)?.attempts ?? 0) + 1;
    const startedAt = this.#clock.now();
    const started = monotonicNow(this.#clock);
    const context: StepRunContext = {
      stepId,
      attempt: number,
      idempotencyKey: `${this.runId}:${stepId}`,
      signal: this.#signal,
    };
    let thrown: { error: unknown; encoding: boolean } | undefined;
    let output = "";
    try {
      const value = await insideStep.run(stepId, () => fn(context));
      try {
        output = this.#codec.encode(value);
      } catch (error) {
        thrown = {
          error: new InvalidOptionError(
            `Step "${stepId}" returned a value that cannot be stored: ${recordError(error).message}`,
            { cause: error },
          ),
          encoding: true,
        };
      }
    } catch (error) {
      thrown = { error, encoding: false };
    }
    const at = this.#clock.now();
    const durationMs = Math.max(0, monotonicNow(this.#clock) - started);
    // Every attempt is recorded, however it ended.
    const attempt = (outcome: StepAttempt["outcome"], decision: StepAttempt["decision"]): void => {
      this.#attempts.push({ stepId, number, startedAt, durationMs, outcome, decision });
    };
    if (thrown === undefined) {
      this.record(stepId, { type: "attempt-succeeded", kind, output, startedAt, at });
      attempt({ type: "succeeded" }, { type: "succeed" });
      return { type: "succeeded", output };
    }
    const error = recordError(thrown.error);
    if (this.#signal.aborted && !thrown.encoding) {
      // The run was cancelled while this attempt ran (a step honouring `signal` throws): the
      // attempt is recorded, the step is not failed, and the run stops as cancelled, with no
      // retry and no compensation.
      attempt(
        { type: "failed", error },
        { type: "fail", code: "cancelled", reason: "the run was cancelled" },
      );
      this.#stop({ type: "cancelled" });
      return { type: "halted" };
    }
    const decision = thrown.encoding
      ? ({ type: "fail", code: "output_not_encodable", reason: error.message } as const)
      : decideStepAttempt({ error: thrown.error, attempt: number, policy, now: at }, this.#random);
    attempt({ type: "failed", error }, decision);
    if (decision.type === "retry") {
      this.record(stepId, {
        type: "attempt-failed",
        kind,
        error,
        startedAt,
        at,
        retryAt: decision.retryAt,
      });
      this.park({ stepId, type: "retry", until: decision.retryAt });
      return { type: "halted" };
    }
    this.record(stepId, { type: "attempt-failed", kind, error, startedAt, at });
    return { type: "failed", error };
  }
}
