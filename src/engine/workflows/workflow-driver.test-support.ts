/**
 * Test helpers for the invocation runner: a JSON stand-in for the value codec, and a driver that
 * plays the engine's part with a map for a store: commits each invocation's batch, resolves
 * waiting steps as the engine would (an event delivered, a child's end), and moves a FakeClock to
 * each wake-up.
 */
import type { Checkpoint, ValueCodec } from "../../core/workflow/checkpoint.ts";
import { nextCheckpoint } from "../../core/workflow/checkpoint.ts";
import type { StepAttempt } from "../../core/workflow/step-attempt.ts";
import type { StepId } from "../../core/workflow/step-id.ts";
import type { RecordedError } from "../../core/workflow/workflow-errors.ts";
import { FakeClock } from "../../testing/fake-clock.ts";
import { SeededRandom } from "../../testing/seeded-random.ts";
import type { CheckpointBatch } from "./invocation.ts";
import { runInvocation, type InvocationResult } from "./run-invocation.ts";
import type { WorkflowFunction } from "./workflow-definition.ts";

/** JSON in an envelope (so `undefined` round-trips): a stand-in for the real codec. */
export const jsonCodec: ValueCodec = {
  encode: (value) => JSON.stringify({ v: value }),
  decode: (text) => (JSON.parse(text) as { v?: unknown }).v,
};

/** Plays the engine for one run, with a map for a store. */
export class RunDriver<I, O> {
  readonly clock: FakeClock;
  readonly random: SeededRandom;
  /** The committed checkpoints, by step id, in the order first committed. */
  readonly store = new Map<string, Checkpoint>();
  /** Every committed attempt. */
  readonly attempts: StepAttempt[] = [];
  /** Every committed batch's checkpoints, in commit order. */
  readonly history: Checkpoint[][] = [];
  /** Every invocation's result, in order. */
  readonly invocations: InvocationResult<O>[] = [];
  readonly #fn: WorkflowFunction<I, O>;
  readonly #input: I;
  readonly runId: string;
  /** The JSON stand-in unless a test gives another (`storedValueCodec`, the real one). */
  readonly codec: ValueCodec;

  constructor(
    fn: WorkflowFunction<I, O>,
    input: I,
    options: { runId?: string; seed?: number; clock?: FakeClock; codec?: ValueCodec } = {},
  ) {
    this.codec = options.codec ?? jsonCodec;
    this.#fn = fn;
    this.#input = input;
    this.runId = options.runId ?? "run_1";
    this.clock = options.clock ?? new FakeClock(1_000_000);
    this.random = new SeededRandom(options.seed ?? 7);
  }

  /** Runs one invocation and commits its batch. */
  async invoke(
    options: { signal?: AbortSignal; commit?: (batch: CheckpointBatch) => Promise<void> } = {},
  ): Promise<InvocationResult<O>> {
    const result = await runInvocation({
      fn: this.#fn,
      input: this.#input,
      runId: this.runId,
      checkpoints: [...this.store.values()],
      codec: this.codec,
      clock: this.clock,
      random: this.random,
      ...options,
    });
    this.commit(result);
    this.invocations.push(result);
    return result;
  }

  /** Commits a batch, as the store would. */
  commit(result: Pick<InvocationResult<O>, "checkpoints" | "attempts">): void {
    for (const checkpoint of result.checkpoints) this.store.set(checkpoint.stepId, checkpoint);
    this.history.push(result.checkpoints);
    this.attempts.push(...result.attempts);
  }

  /** Resolves a waiting step with `value`, as the engine does when its event or child ends. */
  resolve(stepId: string, value: unknown): void {
    const id = stepId as StepId;
    this.store.set(
      id,
      nextCheckpoint(
        this.store.get(id),
        { type: "resolved", output: jsonCodec.encode(value), at: this.clock.now() },
        id,
      ),
    );
  }

  /** Fails a waiting step, as the engine does when its child run or call fails. */
  reject(stepId: string, error: RecordedError): void {
    const id = stepId as StepId;
    this.store.set(
      id,
      nextCheckpoint(this.store.get(id), { type: "rejected", error, at: this.clock.now() }, id),
    );
  }

  /**
   * Invokes until the run ends, moving the clock to each wake-up; a run parked with nothing time
   * can end is handed to `onStuck` (which resolves something), at most `maxInvocations` times.
   */
  async runToEnd(
    options: {
      onStuck?: (result: InvocationResult<O>) => void;
      maxInvocations?: number;
      /** Commit each step before it returns (the `commit` hook), not only at the end. */
      stepwise?: boolean;
    } = {},
  ): Promise<InvocationResult<O>> {
    const commit = (batch: CheckpointBatch) => Promise.resolve(this.commit(batch));
    for (let i = 0; i < (options.maxInvocations ?? 100); i++) {
      const result = await this.invoke(options.stepwise === true ? { commit } : {});
      if (result.outcome.type !== "parked") return result;
      if (result.outcome.wakeAt !== undefined) await this.clock.set(result.outcome.wakeAt);
      else if (options.onStuck !== undefined) options.onStuck(result);
      else throw new Error(`run parked with nothing to wake it: ${JSON.stringify(result.outcome)}`);
    }
    throw new Error("run did not end");
  }
}
