/**
 * Write-behind checkpoints for a run driven inline by the request that started it (a durable
 * endpoint, issue 12: "the happy path waits on no write"). The run's writes (its creation, its
 * step commits, its end) are held here and flushed in the background, coalesced: everything
 * handed over in one event loop turn goes in one flush, and the next flush starts when the last
 * one has committed. The invocation goes on as soon as a step is handed over.
 *
 * States of the run's creation: `held` (nothing written yet) -> `writing` -> `written`, or
 * `failed` (a write was refused or failed: nothing more is written, the owner is told). The
 * creation is flushed on the turn after the run starts, with whatever the run handed over by
 * then: the request is stored while its first step runs, not after it.
 *
 * What a flush writes, by what it holds:
 * - the run not written yet and its end held: the whole run at once (`createEndedRun`, one row
 *   group-committed with other runs: the fast path of a handler that answers at once);
 * - the run not written yet otherwise: `createRun` claimed (lease token 1), then the rest;
 * - steps only: `commitSteps`; a park: `parkRun`; an end: `finishRun` (fenced as usual).
 *
 * A park, or a step commit that starts children (`step.fetch`, `step.invoke`), is flushed at once
 * and waited for: a handoff to the engine, and a child that may wake the run, must be durable
 * before anything is answered. Steps are at least once either way: a crash before a flush
 * committed runs them again in the run's next invocation (or not at all, if the creation was
 * never written: the client got no answer and retries).
 */
import type { InitialClaim } from "../../core/work-queue.ts";
import type { ChildCall, NewRun, RunEnd, RunPark, RunRef, StepBatch } from "../../core/run-log.ts";
import type { Store } from "../../core/store.ts";
import type { Checkpoint } from "../../core/workflow/checkpoint.ts";
import type { StepAttempt } from "../../core/workflow/step-attempt.ts";

/** The writes of a claimed run the executor makes: to the store, or held here. */
export type RunWrites = Pick<Store, "commitSteps" | "parkRun" | "finishRun">;

type Final =
  { type: "park"; park: RunPark; now: number } | { type: "finish"; end: RunEnd; now: number };

/** Why a write-behind journal stopped writing: its lease was not held, or the store failed. */
export type WriteBehindFailure = { type: "fenced" } | { type: "error"; error: unknown };

/** Options of `WriteBehind`. */
export interface WriteBehindOptions {
  store: Store;
  /** The run, when its creation is held here too (absent: it is created already, claimed). */
  create?: { run: NewRun; claim: InitialClaim };
  ref: RunRef;
  /** Called once when a flush fails: the owner stops the invocation. */
  onFailure: (failure: WriteBehindFailure) => void;
}

/** Holds and flushes one inline run's writes (see the file's comment). */
export class WriteBehind implements RunWrites {
  readonly #store: Store;
  readonly #create: { run: NewRun; claim: InitialClaim } | undefined;
  readonly #ref: RunRef;
  readonly #onFailure: (failure: WriteBehindFailure) => void;
  #state: "held" | "writing" | "written" | "failed";
  /** Whether the run's creation has committed: true for good, even once a later write failed. */
  #created: boolean;
  #checkpoints = new Map<string, Checkpoint>();
  #attempts: StepAttempt[] = [];
  #calls: ChildCall[] = [];
  #runs: NewRun[] = [];
  #now = 0;
  #final: Final | undefined;
  #scheduled: NodeJS.Immediate | undefined;
  /** The flush under way, if any: resolves true when it committed. */
  #flushing: Promise<boolean> | undefined;
  /** Whether writes were handed over since the last flush began. */
  #dirty = false;
  /** Whether the run's park or end was handed over: nothing follows it. */
  #ending = false;

  constructor(options: WriteBehindOptions) {
    this.#store = options.store;
    this.#create = options.create;
    this.#ref = options.ref;
    this.#onFailure = options.onFailure;
    this.#state = options.create === undefined ? "written" : "held";
    this.#created = options.create === undefined;
    // The creation is written two turns on whatever the run does meanwhile: with its end, if the
    // run has ended by then (one write), or alone, so that a long first step finds the request
    // stored. Two: an invocation whose function has returned waits one turn for stray steps
    // (`Invocation.quiesce`) before its end is handed over.
    if (options.create !== undefined) {
      this.#scheduled = setImmediate(() => {
        this.#scheduled = undefined;
        this.#schedule();
      });
    }
  }

  /** Whether the run is in the store (its creation committed). */
  get created(): boolean {
    return this.#created;
  }

  /** Whether the run is in the store and held under its lease (its lease may be renewed). */
  get renewable(): boolean {
    return this.#state === "written" && !this.#ending;
  }

  /** Holds `batch`; flushed on the next turn (at once, and waited for, if it starts children). */
  commitSteps(_ref: RunRef, batch: StepBatch, now: number): Promise<boolean> {
    if (this.#state === "failed") return Promise.resolve(false);
    this.#hold(batch, now);
    const children = (batch.calls?.length ?? 0) + (batch.runs?.length ?? 0) > 0;
    if (children) return this.flush();
    this.#schedule();
    return Promise.resolve(true);
  }

  /** Holds `batch` and the park, flushes at once and resolves when it committed. */
  parkRun(_ref: RunRef, park: RunPark, batch: StepBatch, now: number): Promise<boolean> {
    if (this.#state === "failed") return Promise.resolve(false);
    this.#hold(batch, now);
    this.#final = { type: "park", park, now };
    this.#ending = true;
    return this.flush();
  }

  /**
   * Holds `batch` and the end; flushed on the next turn (or by `flush`). Resolves true at once:
   * a failure is told to `onFailure`.
   */
  finishRun(_ref: RunRef, end: RunEnd, batch: StepBatch, now: number): Promise<boolean> {
    if (this.#state === "failed") return Promise.resolve(false);
    this.#hold(batch, now);
    this.#final = { type: "finish", end, now };
    this.#ending = true;
    this.#schedule();
    return Promise.resolve(true);
  }

  /**
   * Writes everything held now (after the flush under way, if any) and resolves true once it
   * committed, false if a write failed or was refused.
   */
  async flush(): Promise<boolean> {
    if (this.#scheduled !== undefined) {
      clearImmediate(this.#scheduled);
      this.#scheduled = undefined;
    }
    for (;;) {
      if (this.#state === "failed") return false;
      if (this.#flushing !== undefined) {
        await this.#flushing;
        continue;
      }
      if (!this.#dirty && this.#state !== "held") return true;
      this.#flushing = this.#flushOnce().finally(() => {
        this.#flushing = undefined;
      });
      const ok = await this.#flushing;
      if (!ok || !this.#dirty) return ok;
    }
  }

  #hold(batch: StepBatch, now: number): void {
    // One checkpoint per step, its latest, at the position its step was first held at.
    for (const checkpoint of batch.checkpoints)
      this.#checkpoints.set(checkpoint.stepId, checkpoint);
    this.#attempts.push(...batch.attempts);
    if (batch.calls !== undefined) this.#calls.push(...batch.calls);
    if (batch.runs !== undefined) this.#runs.push(...batch.runs);
    this.#now = Math.max(this.#now, now);
    this.#dirty = true;
  }

  #schedule(): void {
    if (this.#scheduled !== undefined || this.#flushing !== undefined) return;
    this.#scheduled = setImmediate(() => {
      this.#scheduled = undefined;
      void this.flush();
    });
  }

  #take(): { batch: StepBatch; final: Final | undefined; now: number } {
    const batch: StepBatch = {
      checkpoints: [...this.#checkpoints.values()],
      attempts: this.#attempts,
    };
    if (this.#calls.length > 0) batch.calls = this.#calls;
    if (this.#runs.length > 0) batch.runs = this.#runs;
    this.#checkpoints = new Map();
    this.#attempts = [];
    this.#calls = [];
    this.#runs = [];
    this.#dirty = false;
    const final = this.#final;
    this.#final = undefined;
    return { batch, final, now: this.#now };
  }

  async #flushOnce(): Promise<boolean> {
    const { batch, final, now } = this.#take();
    try {
      if (this.#state === "held") {
        const create = this.#create!;
        this.#state = "writing";
        const whole =
          final?.type === "finish" &&
          create.run.parent === undefined &&
          batch.calls === undefined &&
          batch.runs === undefined;
        if (whole) {
          const recorded = await this.#store.createEndedRun(
            create.run,
            final.end,
            batch,
            final.now,
          );
          if (!recorded.created) return this.#fail({ type: "fenced" });
          this.#state = "written";
          this.#created = true;
          return true;
        }
        const created = await this.#store.createRun(create.run, create.claim);
        if (!created.created) return this.#fail({ type: "fenced" });
        this.#state = "written";
        this.#created = true;
      }
      let ok: boolean;
      if (final?.type === "finish")
        ok = await this.#store.finishRun(this.#ref, final.end, batch, final.now);
      else if (final?.type === "park") {
        ok = await this.#store.parkRun(this.#ref, final.park, batch, final.now);
      } else if (batch.checkpoints.length > 0 || batch.attempts.length > 0) {
        ok = await this.#store.commitSteps(this.#ref, batch, now);
      } else ok = true;
      if (!ok) return this.#fail({ type: "fenced" });
      return true;
    } catch (error) {
      return this.#fail({ type: "error", error });
    }
  }

  #fail(failure: WriteBehindFailure): false {
    if (this.#state !== "failed") {
      this.#state = "failed";
      this.#onFailure(failure);
    }
    return false;
  }
}
