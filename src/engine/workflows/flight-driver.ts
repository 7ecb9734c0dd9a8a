/**
 * Drives one flight of the run executor (`run-executor.ts`): a claimed run's invocation, from
 * its claim to its end or its park. It resolves the waits the run's claim can resolve now, runs
 * the invocation (`runInvocation`) with a commit hook that commits every step before it returns
 * (fenced by the run's lease token; the store group-commits them), retries a failed step here
 * while the request of a run driven inline may wait for it (`inlineRetries`), and moves the run
 * as the outcome says (`run-outcome.ts`): ended, or parked until its time or a wake-up.
 *
 * A commit refused (the lease no longer holds) interrupts the invocation: nothing more runs. The
 * executor keeps the flights, their leases and slots; it hears from here through the callbacks
 * of `FlightDriverOptions`.
 */
import type { UrlCheck } from "../calls-service.ts";
import { SteadfastError } from "../../core/errors.ts";
import type { RunUid } from "../../core/ids.ts";
import { MAX_CRASHES_IN_A_ROW } from "../../core/interruption.ts";
import type { Random } from "../../core/ports.ts";
import {
  endedRun,
  type RunClaim,
  type RunEnd,
  type RunPark,
  type RunRecord,
  type RunRef,
  type StepBatch,
} from "../../core/run-log.ts";
import type { Checkpoint, ValueCodec } from "../../core/workflow/checkpoint.ts";
import { recordError } from "../../core/workflow/workflow-errors.ts";
import { existingChildren } from "./existing-children.ts";
import type { CheckpointBatch } from "./invocation.ts";
import { parkEvents } from "./park-events.ts";
import type { FlightEnd, RunExecutorOptions } from "./run-executor-types.ts";
import { NOT_RUN, STOPPING, type Flight } from "./run-flight.ts";
import { runInvocation, type InvocationResult } from "./run-invocation.ts";
import { crashLoopEnd, inlineRetryAt, runEnd, runPark } from "./run-outcome.ts";
import { withChildren } from "./step-children.ts";
import { resolveWaits } from "./wait-resolution.ts";
import type { WorkflowDefinition } from "./workflow-definition.ts";

/** What a `FlightDriver` runs with (the executor's parts), and the executor's callbacks. */
export interface FlightDriverOptions extends Pick<
  RunExecutorOptions,
  "store" | "clock" | "random" | "logger" | "faults" | "guard" | "onCallsCreated"
> {
  codec: ValueCodec;
  /** The registered definition of a workflow, if this process runs it. */
  definition: (workflow: string) => WorkflowDefinition<unknown, unknown> | undefined;
  /** Work for runs was committed, due at `runAt` (a child run, a parent woken). */
  notify: (runAt: number) => void;
  /** The run parked (committed); the store may have made it due at once. */
  onParked: (uid: RunUid, park: RunPark) => void;
  /** The run ended (committed), with its record as it ended. */
  onEnded: (run: RunRecord) => void;
  /** A commit was refused: the run's lease is no longer held under `ref`'s token. */
  onLeaseLost: (ref: RunRef) => void;
  /** Gives runs back (due at once, for another process); never rejects. */
  releaseRefs: (refs: readonly RunRef[]) => Promise<void>;
}

/** Thrown by the commit hook when the run's lease no longer holds: nothing more is run. */
class LeaseLostError extends SteadfastError<"lease_lost"> {
  constructor(uid: RunUid) {
    super("lease_lost", `Run ${uid}: its lease is no longer held by this process.`);
    this.name = "LeaseLostError";
  }
}

/**
 * Runs claimed runs' invocations and moves the runs as they end (see the file's comment).
 *
 * @example
 * const driver = new FlightDriver({ store, clock, random, logger, codec, definition, ... });
 * const end = await driver.drive(claim, flight);
 */
export class FlightDriver {
  readonly #options: FlightDriverOptions;
  readonly #store: FlightDriverOptions["store"];
  readonly #clock: FlightDriverOptions["clock"];
  readonly #codec: ValueCodec;

  constructor(options: FlightDriverOptions) {
    this.#options = options;
    this.#store = options.store;
    this.#clock = options.clock;
    this.#codec = options.codec;
  }

  /**
   * Runs `claim`'s run as `flight` (its writes, its signal, its inline options): its invocation,
   * its inline retries, and its end or park. Resolves with how it ended (`not-run` when the
   * workflow is not run here, the lease was lost, the invocation was cancelled or interrupted).
   */
  async drive(claim: RunClaim, flight: Flight): Promise<FlightEnd> {
    const { run } = claim;
    const ref = flight.ref;
    const definition = this.#options.definition(run.workflow);
    if (definition === undefined) {
      await this.#options.releaseRefs([ref]);
      return NOT_RUN;
    }
    let checkpoints: Checkpoint[] = claim.checkpoints;
    const now = this.#clock.now();
    if (claim.takenOver === true && run.crashesInARow >= MAX_CRASHES_IN_A_ROW) {
      // Its invocations ended with their process (or hung past their lease) that many times in a
      // row without committing a step: run again, it would most likely do the same.
      return await this.#end(flight, run, crashLoopEnd(run.crashesInARow), {
        checkpoints: [],
        attempts: [],
      });
    }
    const resolved = await resolveWaits(this.#store, run, checkpoints, this.#codec, now);
    if (resolved.length > 0) {
      if (!(await flight.writes.commitSteps(ref, { checkpoints: resolved, attempts: [] }, now))) {
        this.#options.onLeaseLost(ref);
        return NOT_RUN;
      }
      const byId = new Map(checkpoints.map((c) => [c.stepId, c]));
      for (const checkpoint of resolved) byId.set(checkpoint.stepId, checkpoint);
      checkpoints = [...byId.values()];
    }
    let input: unknown;
    try {
      const given = flight.inline?.input;
      input = given === undefined ? this.#codec.decode(run.input) : given.value;
    } catch (error) {
      return await this.#end(
        flight,
        run,
        { status: "failed", error: recordError(error), reason: "error" },
        {
          checkpoints: [],
          attempts: [],
        },
      );
    }
    let wakeNow = false;
    // Every checkpoint of the run as this process knows it, for an inline retry's invocation.
    const known = new Map(checkpoints.map((c) => [c.stepId, c]));
    const commit = async (batch: CheckpointBatch): Promise<void> => {
      await this.#options.faults?.hit("before-step-commit");
      const at = this.#clock.now();
      const prepared = withChildren(run, batch, at, this.#childOptions());
      if (
        prepared.resolvedNow ||
        (await existingChildren(this.#store, run, prepared.batch, at, this.#options.notify))
      ) {
        wakeNow = true;
      }
      if (!(await flight.writes.commitSteps(ref, prepared.batch, at)))
        throw new LeaseLostError(run.uid);
      for (const checkpoint of prepared.batch.checkpoints) known.set(checkpoint.stepId, checkpoint);
      this.#childrenCreated(prepared.batch, at);
      await this.#options.faults?.hit("after-step-commit");
    };
    let retriesLeft = flight.inline?.retries ?? 0;
    for (;;) {
      const before = [...known.values()];
      const result = await runInvocation({
        fn: definition.fn,
        input,
        runId: run.id,
        checkpoints: before,
        codec: this.#codec,
        clock: this.#clock,
        random: this.#options.random,
        signal: flight.controller.signal,
        commit,
      });
      const { outcome } = result;
      const retryAt = outcome.type === "parked" ? inlineRetryAt(outcome.waits) : undefined;
      const deadline = flight.inline?.until ?? Number.POSITIVE_INFINITY;
      if (retriesLeft <= 0 || wakeNow || retryAt === undefined || retryAt > deadline) {
        return await this.#settle(run, result, flight, wakeNow, before);
      }
      // A step failed and will be retried soon enough: retry it here, the request still waiting
      // (`inlineRetries`), rather than hand the run to the engine.
      retriesLeft--;
      const rest = { checkpoints: result.checkpoints, attempts: result.attempts };
      if (!(await flight.writes.commitSteps(ref, rest, this.#clock.now()))) {
        this.#options.onLeaseLost(ref);
        return NOT_RUN;
      }
      for (const checkpoint of result.checkpoints) known.set(checkpoint.stepId, checkpoint);
      try {
        await this.#clock.sleep(Math.max(0, retryAt - this.#clock.now()), flight.controller.signal);
      } catch {
        return await this.#settle(run, result, flight, wakeNow, before);
      }
    }
  }

  /** Commits what the invocation left and moves the run as its outcome says. */
  async #settle(
    run: RunRecord,
    result: InvocationResult<unknown>,
    flight: Flight,
    wokenBefore: boolean,
    before: readonly Checkpoint[],
  ): Promise<FlightEnd> {
    const { outcome } = result;
    const ref = flight.ref;
    const rest: CheckpointBatch = { checkpoints: result.checkpoints, attempts: result.attempts };
    switch (outcome.type) {
      case "completed":
      case "failed":
      case "diverged":
        return await this.#end(flight, run, runEnd(outcome), rest);
      case "parked": {
        await this.#options.faults?.hit("before-step-commit");
        const now = this.#clock.now();
        const prepared = withChildren(run, rest, now, this.#childOptions());
        const park = runPark(outcome.waits, outcome.phase);
        if (
          wokenBefore ||
          prepared.resolvedNow ||
          (await existingChildren(this.#store, run, prepared.batch, now, this.#options.notify))
        ) {
          park.runAt = now;
        } else if (park.events !== undefined) {
          // Read the events waited for now, before the park (see `park-events.ts`).
          const found = await parkEvents(this.#store, this.#codec, run, before, outcome.waits, now);
          if (found.type === "due") park.runAt = now;
          else park.eventsSeen = found.eventsSeen;
        }
        if (!(await flight.writes.parkRun(ref, park, prepared.batch, now))) {
          this.#options.onLeaseLost(ref);
          return NOT_RUN;
        }
        this.#childrenCreated(prepared.batch, now);
        this.#options.onParked(run.uid, park);
        if (park.runAt !== undefined) this.#options.notify(park.runAt);
        await this.#options.faults?.hit("after-step-commit");
        return park.runAt === undefined
          ? { type: "parked" }
          : { type: "parked", runAt: park.runAt };
      }
      case "cancelled": {
        const reason: unknown = flight.controller.signal.reason;
        if (reason instanceof Error && reason.message === STOPPING) {
          // What a write-behind flight holds is written first: then the run is in the store (a
          // creation still held would otherwise be written claimed by this stopping process after
          // the release), and its steps are kept.
          if (flight.ahead !== undefined && !(await flight.ahead.flush())) return NOT_RUN;
          await this.#options.releaseRefs([ref]);
        }
        return NOT_RUN;
      }
      case "interrupted":
        if (outcome.error instanceof LeaseLostError) this.#options.onLeaseLost(ref);
        else {
          this.#options.logger.warn(
            { err: outcome.error, runId: run.id },
            "a step could not be committed; the run is taken up again when its lease expires",
          );
        }
        return NOT_RUN;
    }
  }

  /** Ends the run with `end`, committing `rest` with it. */
  async #end(
    flight: Flight,
    run: RunRecord,
    end: RunEnd,
    rest: CheckpointBatch,
  ): Promise<FlightEnd> {
    const ref = flight.ref;
    await this.#options.faults?.hit("before-step-commit");
    const now = this.#clock.now();
    const prepared = withChildren(run, rest, now, this.#childOptions());
    if (!(await flight.writes.finishRun(ref, end, prepared.batch, now))) {
      this.#options.onLeaseLost(ref);
      return NOT_RUN;
    }
    await this.#options.faults?.hit("after-step-commit");
    // Its parent, woken by the same commit, may be a run of this process.
    if (run.parent !== undefined) this.#options.notify(now);
    const ended = endedRun(run, end, now);
    // A write-behind flight tells its end once it is written (the executor's `#launchFlight`):
    // until then the run is still this process's, and a reader that finds it running waits for
    // the event.
    if (flight.ahead === undefined) this.#options.onEnded(ended);
    return { type: "ended", run: ended };
  }

  #childOptions(): { random: Random; guard?: UrlCheck } {
    return this.#options.guard === undefined
      ? { random: this.#options.random }
      : { random: this.#options.random, guard: this.#options.guard };
  }

  #childrenCreated(batch: StepBatch, at: number): void {
    if (batch.calls !== undefined && batch.calls.length > 0) this.#options.onCallsCreated(at);
    if (batch.runs !== undefined && batch.runs.length > 0) this.#options.notify(at);
  }
}
