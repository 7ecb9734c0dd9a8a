/**
 * The engine's part of durable workflows: claims the due runs of the workflows this process has
 * registered, runs each invocation (`runInvocation`) with a commit hook that commits every step
 * before it returns (group-committed by the store, fenced by the run's lease token), and moves
 * the run as the invocation's outcome says: ended (succeeded, failed, diverged), or parked until
 * its time or a wake-up (an event, a child's end).
 *
 * A run is claimed through the same queue table as calls and holds a lease renewed while its
 * invocation runs; a process whose lease ended (it was found dead, the run was cancelled) cannot
 * commit a step: its commit is refused, the invocation is interrupted and nothing more runs. Only
 * runs of registered workflows are claimed, so processes running different code can share one
 * database (a rolling deploy).
 *
 * The children of steps (`step.fetch`'s call, `step.invoke`'s run) are created in the commit that
 * records their wait; the call is run by the engine's call pump like any call, and its end (or
 * the child run's) wakes the parent in the transaction that ends it.
 */
import type { EngineLogger } from "../engine.ts";
import type { FaultInjector } from "../fault-points.ts";
import type { UrlCheck } from "../calls-service.ts";
import { ClaimLoop, repeatEvery } from "../claim-loop.ts";
import { SteadfastError } from "../../core/errors.ts";
import { MAX_CRASHES_IN_A_ROW } from "../../core/interruption.ts";
import type { RunUid, WorkerId } from "../../core/ids.ts";
import type { Clock, Random } from "../../core/ports.ts";
import {
  claimedRunRecord,
  type NewRun,
  type RunClaim,
  type RunEnd,
  type RunPark,
  type RunRecord,
  type RunRef,
  type StepBatch,
} from "../../core/run-log.ts";
import type { Store } from "../../core/store.ts";
import type { Checkpoint, ValueCodec } from "../../core/workflow/checkpoint.ts";
import { isFinalRunStatus, parkedState, type RunWait } from "../../core/workflow/run-state.ts";
import { recordError } from "../../core/workflow/workflow-errors.ts";
import { Emitter } from "../../resilience/events.ts";
import type { CheckpointBatch } from "./invocation.ts";
import { runInvocation, type InvocationResult } from "./run-invocation.ts";
import { isOwnChild, withChildren } from "./step-children.ts";
import { storedValueCodec } from "./stored-value-codec.ts";
import { resolveWaits } from "./wait-resolution.ts";
import type { WorkflowDefinition } from "./workflow-definition.ts";
import { WriteBehind, type RunWrites, type WriteBehindFailure } from "./write-behind.ts";

/** Options of a registered workflow. */
export interface WorkflowOptions {
  /**
   * Most runs of this workflow this process runs at once (their invocations, not their parked
   * waits). Default: no limit of its own (the executor's `concurrency` bounds all runs).
   */
  concurrency?: number;
}

/** Events of the run executor. */
export interface RunExecutorEvents extends Record<string, unknown> {
  /** A run this process ran has ended. */
  "run:ended": { run: RunRecord };
  /** A run this process ran has parked (slept, waits). */
  "run:parked": { uid: RunUid; park: RunPark };
  /** A claim of this process was lost (another took the run over, or it was cancelled). */
  "run:lease-lost": { uid: RunUid };
}

/** Options of `RunExecutor`. */
export interface RunExecutorOptions {
  store: Store;
  clock: Clock;
  random: Random;
  workerId: WorkerId;
  leaseMs: number;
  /** Runs whose invocation is under way at once, over all workflows. Default 256. */
  concurrency?: number;
  /** How often the next due run is read from the store (wake-ups between processes), ms. */
  pollIntervalMs: number;
  /** On stop, how long invocations under way may finish before they are aborted, ms. */
  shutdownGraceMs: number;
  logger: EngineLogger;
  faults?: FaultInjector;
  /** The destination guard of `POST /v1/fetch`, for the calls of `step.fetch`. */
  guard?: UrlCheck;
  /** Whether this process may act (its liveness fence is open). */
  mayAct: () => boolean;
  /** Calls were created due at `runAt` (children of `step.fetch`): the call pump should look. */
  onCallsCreated: (runAt: number) => void;
}

/**
 * How an invocation launched here ended, for the code that launched it (`reserve().launch`: a
 * durable endpoint answering its request): the run `ended` (committed: its record as it ended),
 * `parked` (committed: sleeping or waiting, due at `runAt` when time alone wakes it), or
 * `not-run` (its lease was lost, the engine stopped, the store failed: another invocation, here
 * or in another process, goes on with it).
 */
export type FlightEnd =
  { type: "ended"; run: RunRecord } | { type: "parked"; runAt?: number } | { type: "not-run" };

const NOT_RUN: FlightEnd = { type: "not-run" };

interface Flight {
  ref: RunRef;
  workflow: string;
  controller: AbortController;
  done: Promise<FlightEnd>;
  /** Where its commits go: the store, or (a run driven inline) its write-behind journal. */
  writes: RunWrites;
  ahead?: WriteBehind;
  /** A run driven inline: retries it may wait for here, and until when (epoch ms). */
  inline?: InlineOptions;
}

/** How long a run driven inline (`launchInline`) may keep its request waiting. */
export interface InlineOptions {
  /** Step retries waited for here before the run is handed to the engine. Default 0. */
  retries?: number;
  /** No retry due after this time (epoch ms) is waited for here. Default: none. */
  until?: number;
}

/**
 * A run driven inline with write-behind checkpoints (`RunReservation.launchInline`): how its
 * invocation ended, as soon as that is known, and its writes.
 */
export interface InlineFlight {
  /**
   * How the invocation ended: `ended` as soon as its function returned (its steps and end may
   * still be on their way to the store: `done`), `parked` once the park committed (a handoff is
   * durable), or `not-run`.
   */
  end: Promise<FlightEnd>;
  /** Resolves once everything the flight handed over has been written (or failed to be). */
  done: Promise<unknown>;
  /** Writes what is held now; resolves true once committed (the run is in the store). */
  flush(): Promise<boolean>;
  /** Whether the run is in the store: its creation has committed. */
  created(): boolean;
}

/** A slot reserved by `RunExecutor.reserve` for a run this process is about to create claimed. */
export interface RunReservation {
  workerId: WorkerId;
  leaseExpiresAt: number;
  /** Runs the created run here at once; resolves with how its invocation ended. */
  launch(run: RunRecord): Promise<FlightEnd>;
  /**
   * Runs a run here at once with write-behind checkpoints (`write-behind.ts`): `start.run`, not
   * written yet (its creation is held with its first writes), or `start.created`, a run just
   * created claimed with this slot's claim. The invocation does not wait on its commits.
   */
  launchInline(
    start: { run: NewRun } | { created: RunRecord },
    options?: InlineOptions,
  ): InlineFlight;
  /** Gives the slot back (the run was not created, or was found). */
  release(): void;
}

/** Registered workflow: its definition and options. */
interface Registered {
  definition: WorkflowDefinition<unknown, unknown>;
  options: WorkflowOptions;
}

const LEASE_LOST = "lease lost";
/** How far the clocks of processes sending events may disagree with this one's, ms. */
const EVENT_CLOCK_MARGIN_MS = 5_000;
const STOPPING = "engine stopping";

/** The reason an invocation's signal carries (told apart by its message); never thrown. */
function abortReason(message: string): Error {
  // eslint-disable-next-line no-restricted-syntax -- an abort reason, never thrown: only its message is read
  return new Error(message);
}

/** Thrown by the commit hook when the run's lease no longer holds: nothing more is run. */
class LeaseLostError extends SteadfastError<"lease_lost"> {
  constructor(uid: RunUid) {
    super("lease_lost", `Run ${uid}: its lease is no longer held by this process.`);
    this.name = "LeaseLostError";
  }
}

/**
 * Runs the runs of registered workflows (see the file's comment).
 *
 * @example
 * const executor = new RunExecutor({ store, clock, random, workerId, leaseMs: 30_000, ... });
 * executor.register(checkout);
 * executor.start();
 */
export class RunExecutor {
  readonly events: Emitter<RunExecutorEvents>;
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #random: Random;
  readonly #logger: EngineLogger;
  readonly #options: RunExecutorOptions;
  readonly #concurrency: number;
  readonly #codec: ValueCodec = storedValueCodec;
  readonly #workflows = new Map<string, Registered>();
  readonly #flights = new Map<RunUid, Flight>();
  #reserved = 0;
  /** Reservations (`reserve`) by workflow, counted against its own limit. */
  readonly #reservedBy = new Map<string, number>();
  #state: "idle" | "running" | "stopping" | "stopped" = "idle";
  readonly #loop: ClaimLoop;
  /**
   * Whether due runs may be waiting for a slot: false once a pump found none due (for every
   * workflow), true again when work is notified due or a timer fires. An invocation that ends
   * looks for due runs only then, so a process whose runs are all started here (created
   * claimed) does not ask the store after every run.
   */
  #backlog = true;
  readonly #loops = new AbortController();
  readonly #background: Promise<void>[] = [];

  constructor(options: RunExecutorOptions) {
    this.#options = options;
    this.#store = options.store;
    this.#clock = options.clock;
    this.#random = options.random;
    this.#logger = options.logger;
    this.#concurrency = options.concurrency ?? 256;
    const logger = this.#logger;
    this.#loop = new ClaimLoop({
      clock: options.clock,
      active: () => this.#state === "running",
      pass: () => this.#pump(),
      onError: (error) =>
        logger.error({ err: error }, "claiming due runs failed; trying again in 1 s"),
    });
    this.events = new Emitter<RunExecutorEvents>({
      onListenerError: (error, event) =>
        logger.error({ err: error, event }, "a run event listener threw; the engine went on"),
    });
  }

  /** Names of the workflows this process runs. */
  get workflows(): string[] {
    return [...this.#workflows.keys()];
  }

  /** Runs whose invocation is under way here. */
  get inFlight(): number {
    return this.#flights.size;
  }

  /**
   * Makes this process run `definition`'s runs. A name registered again with another function
   * is refused (two functions under one name would replay each other's runs).
   */
  register(definition: WorkflowDefinition<unknown, unknown>, options: WorkflowOptions = {}): void {
    const known = this.#workflows.get(definition.name);
    if (known !== undefined && known.definition.fn !== definition.fn) {
      throw new SteadfastError(
        "invalid_state",
        `A workflow named "${definition.name}" is registered already, with another function: give each workflow its own name.`,
      );
    }
    if (
      options.concurrency !== undefined &&
      (!Number.isInteger(options.concurrency) || options.concurrency < 1)
    ) {
      throw new SteadfastError(
        "invalid_state",
        `Workflow "${definition.name}": concurrency must be an integer >= 1, got ${String(options.concurrency)}.`,
      );
    }
    this.#workflows.set(definition.name, { definition, options });
    this.notify(this.#clock.now());
  }

  /** The registered definition of `name`, if this process runs it. */
  definition(name: string): WorkflowDefinition<unknown, unknown> | undefined {
    return this.#workflows.get(name)?.definition;
  }

  /** Starts claiming runs. */
  start(): void {
    if (this.#state !== "idle") return;
    this.#state = "running";
    this.#background.push(this.#every(this.#options.pollIntervalMs, () => this.#catchUp()));
    const renewEveryMs = Math.max(10, Math.floor(this.#options.leaseMs / 3));
    this.#background.push(this.#every(renewEveryMs, () => this.#renewLeases()));
    this.#wake();
  }

  /** Work for runs was committed, due at `runAt`: claim it when due. */
  notify(runAt: number): void {
    if (this.#state !== "running") return;
    if (runAt <= this.#clock.now()) this.#backlog = true;
    this.#loop.notify(runAt);
  }

  /**
   * A claim for a run about to be created by this process (`createRun` with a claim), so it starts
   * without a claim round trip; undefined when no slot is free or the workflow is not run here.
   * Call `launch` with the created run (its promise says how the invocation ended: a durable
   * endpoint answers its request by it), or `release`.
   */
  reserve(workflow: string): RunReservation | undefined {
    if (this.#state !== "running" || !this.#options.mayAct()) return undefined;
    if (!this.#workflows.has(workflow) || this.#free(workflow) <= 0) return undefined;
    this.#reserved++;
    this.#reservedBy.set(workflow, (this.#reservedBy.get(workflow) ?? 0) + 1);
    let settled = false;
    const settle = (): boolean => {
      if (settled) return false;
      settled = true;
      this.#reserved--;
      const left = (this.#reservedBy.get(workflow) ?? 1) - 1;
      if (left > 0) this.#reservedBy.set(workflow, left);
      else this.#reservedBy.delete(workflow);
      return true;
    };
    const leaseExpiresAt = this.#clock.now() + this.#options.leaseMs;
    return {
      workerId: this.#options.workerId,
      leaseExpiresAt,
      launch: async (run) => {
        if (!settle()) return NOT_RUN;
        const claim: RunClaim = { run, checkpoints: [], leaseToken: 1, leaseExpiresAt };
        if (this.#state === "running" && this.#options.mayAct()) return this.#launch(claim);
        await this.#releaseRefs([{ uid: run.uid, leaseToken: 1 }]);
        return NOT_RUN;
      },
      launchInline: (start, options = {}) => {
        const run = "run" in start ? claimedRunRecord(start.run) : start.created;
        const claim: RunClaim = { run, checkpoints: [], leaseToken: 1, leaseExpiresAt };
        const ref: RunRef = { uid: run.uid, leaseToken: 1 };
        const ahead = new WriteBehind({
          store: this.#store,
          ...("run" in start
            ? {
                create: {
                  run: start.run,
                  claim: { workerId: this.#options.workerId, leaseExpiresAt },
                },
              }
            : {}),
          ref,
          onFailure: (failure) => this.#aheadFailed(run, ref, failure),
        });
        const inline = (end: Promise<FlightEnd>, done: Promise<unknown>): InlineFlight => ({
          end,
          done,
          flush: () => ahead.flush(),
          created: () => ahead.created,
        });
        if (!settle()) return inline(Promise.resolve(NOT_RUN), Promise.resolve());
        if (this.#state !== "running" || !this.#options.mayAct()) {
          const given = "run" in start ? Promise.resolve() : this.#releaseRefs([ref]);
          return inline(Promise.resolve(NOT_RUN), given);
        }
        const flight = this.#launchFlight(claim, ahead, options);
        return inline(flight.end, flight.done);
      },
      release: () => {
        if (settle()) this.#wake();
      },
    };
  }

  /** Aborts every invocation under way (the process may have been found dead): they commit nothing more. */
  fence(): void {
    for (const flight of this.#flights.values()) flight.controller.abort(abortReason(LEASE_LOST));
  }

  /**
   * Stops: claims nothing more, lets invocations under way finish for up to `shutdownGraceMs`,
   * then aborts the others and gives their runs back (due at once, for another process).
   */
  async stop(): Promise<void> {
    if (this.#state === "stopping" || this.#state === "stopped") return;
    this.#state = "stopping";
    this.#loop.disarm();
    await this.#loop.running;
    if (this.#flights.size > 0) {
      const grace = new AbortController();
      await Promise.race([
        this.#flightsEnded(),
        this.#clock.sleep(this.#options.shutdownGraceMs, grace.signal).catch(() => {}),
      ]);
      grace.abort();
      for (const flight of this.#flights.values()) flight.controller.abort(abortReason(STOPPING));
      // An aborted invocation stops at its next step call; one whose function never gets there
      // (a step function that never settles) is not waited for: its run is given back, and its
      // late commits are refused (the run is no longer running under its token).
      const bound = new AbortController();
      await Promise.race([
        this.#flightsEnded(),
        this.#clock
          .sleep(Math.min(this.#options.shutdownGraceMs, 1_000), bound.signal)
          .catch(() => {}),
      ]);
      bound.abort();
      const stuck = [...this.#flights.values()].map((flight) => flight.ref);
      if (stuck.length > 0) {
        this.#logger.warn(
          { runs: stuck.length },
          "runs whose function did not stop when asked are given back; they run again elsewhere",
        );
        await this.#releaseRefs(stuck);
        this.#flights.clear();
      }
    }
    this.#loops.abort();
    await Promise.all(this.#background);
    this.#state = "stopped";
  }

  async #flightsEnded(): Promise<void> {
    while (this.#flights.size > 0)
      await Promise.all([...this.#flights.values()].map((f) => f.done));
  }

  #wake(): void {
    this.#loop.wake();
  }

  /** Slots free for `workflow` (its own limit and the executor's). */
  #free(workflow: string): number {
    const global = this.#concurrency - this.#flights.size - this.#reserved;
    const limit = this.#workflows.get(workflow)?.options.concurrency;
    if (limit === undefined) return global;
    let running = this.#reservedBy.get(workflow) ?? 0;
    for (const flight of this.#flights.values()) if (flight.workflow === workflow) running++;
    return Math.min(global, limit - running);
  }

  /** The claims to make now: the workflows without a limit of their own together, the others each. */
  #claimGroups(): { workflows: string[]; limit: number }[] {
    const global = this.#concurrency - this.#flights.size - this.#reserved;
    if (global <= 0) return [];
    const open: string[] = [];
    const groups: { workflows: string[]; limit: number }[] = [];
    for (const [name, registered] of this.#workflows) {
      if (registered.options.concurrency === undefined) open.push(name);
      else {
        const free = this.#free(name);
        if (free > 0) groups.push({ workflows: [name], limit: free });
      }
    }
    if (open.length > 0) groups.unshift({ workflows: open, limit: global });
    return groups;
  }

  async #pump(): Promise<void> {
    // A pass may find due runs it cannot all claim (slots full): look again when a slot frees,
    // unless it finds none due below.
    this.#backlog = true;
    let claimedAny = false;
    for (;;) {
      this.#loop.again = false;
      while (this.#state === "running" && this.#options.mayAct()) {
        let full = false;
        for (const group of this.#claimGroups()) {
          const limit = Math.min(
            group.limit,
            this.#concurrency - this.#flights.size - this.#reserved,
          );
          if (limit <= 0) break;
          const claims = await this.#store.claimDueRuns({
            now: this.#clock.now(),
            limit,
            leaseMs: this.#options.leaseMs,
            workerId: this.#options.workerId,
            workflows: group.workflows,
          });
          if (this.#state !== "running" || !this.#options.mayAct()) {
            await this.#releaseRefs(
              claims.map((c) => ({ uid: c.run.uid, leaseToken: c.leaseToken })),
            );
            return;
          }
          // Each invocation goes on on its own; its end is reported through `events`.
          for (const claim of claims) void this.#launch(claim);
          if (claims.length > 0) claimedAny = true;
          if (claims.length === limit) full = true;
        }
        if (!full) break;
      }
      if (!this.#loop.again || this.#state !== "running") break;
    }
    if (this.#state !== "running" || !this.#options.mayAct()) return;
    const open = [...this.#workflows.keys()].filter((name) => this.#free(name) > 0);
    if (open.length === 0) return;
    const next = await this.#store.nextRunWakeAt(open);
    const now = this.#clock.now();
    // Nothing due for any workflow (none was full): no need to look when an invocation ends.
    if (
      (next === undefined || next > now) &&
      !this.#loop.again &&
      open.length === this.#workflows.size
    ) {
      this.#backlog = false;
    }
    if (next === undefined) return;
    // Due but not claimed: another process holds it this instant (or a slot just filled); look
    // again shortly rather than at once, so a run held elsewhere does not make this loop spin.
    if (next <= now) this.#arm(claimedAny ? now : now + 25);
    else this.#arm(next);
  }

  /** Wakes at `at`: time may have made runs due then. */
  #arm(at: number): void {
    this.#loop.arm(at, () => {
      this.#backlog = true;
    });
  }

  #launch(claim: RunClaim): Promise<FlightEnd> {
    return this.#launchFlight(claim).done;
  }

  /**
   * Starts an invocation of `claim` here. `end`: how it ended; `done`: the same, once its writes
   * are all made (later than `end` only for a write-behind flight, `ahead`).
   */
  #launchFlight(
    claim: RunClaim,
    ahead?: WriteBehind,
    inline?: InlineOptions,
  ): { end: Promise<FlightEnd>; done: Promise<FlightEnd> } {
    const uid = claim.run.uid;
    const previous = this.#flights.get(uid);
    // Claimed again here while an older invocation still runs (its lease was ended): fence it out.
    previous?.controller.abort(abortReason(LEASE_LOST));
    const controller = new AbortController();
    const flight: Flight = {
      ref: { uid, leaseToken: claim.leaseToken },
      workflow: claim.run.workflow,
      controller,
      done: Promise.resolve(NOT_RUN),
      writes: ahead ?? this.#store,
      ...(ahead === undefined ? {} : { ahead }),
      ...(inline === undefined ? {} : { inline }),
    };
    this.#flights.set(uid, flight);
    const end = this.#execute(claim, flight).catch((error: unknown) => {
      this.#logger.error(
        { err: error, runId: claim.run.id, workflow: claim.run.workflow },
        "a run's invocation failed inside the engine; it runs again when its lease expires",
      );
      return NOT_RUN;
    });
    // A write-behind flight holds its slot (and its lease is renewed) until its writes are made.
    const written =
      ahead === undefined
        ? end
        : end.then(async (ended) => {
            if ((await ahead.flush()) && ended.type === "ended") this.#tellEnded(ended.run);
            return ended;
          });
    flight.done = written.finally(() => {
      if (this.#flights.get(uid) === flight) this.#flights.delete(uid);
      if (this.#backlog) this.#wake();
    });
    return { end, done: flight.done };
  }

  #tellEnded(run: RunRecord): void {
    if (this.events.has("run:ended")) this.events.emit("run:ended", { run });
  }

  /** A write-behind flight's write failed or was refused: its invocation stops. */
  #aheadFailed(run: RunRecord, ref: RunRef, failure: WriteBehindFailure): void {
    const flight = this.#flights.get(run.uid);
    if (flight?.ref.leaseToken === ref.leaseToken) flight.controller.abort(abortReason(LEASE_LOST));
    if (failure.type === "fenced") {
      this.#lost(ref);
      return;
    }
    this.#logger.warn(
      { err: failure.error, runId: run.id, workflow: run.workflow },
      "a run's checkpoints could not be written behind it; the run stops here and is taken up again when its lease expires, if its creation was written",
    );
  }

  async #execute(claim: RunClaim, flight: Flight): Promise<FlightEnd> {
    const { run } = claim;
    const ref = flight.ref;
    const registered = this.#workflows.get(run.workflow);
    if (registered === undefined) {
      await this.#releaseRefs([ref]);
      return NOT_RUN;
    }
    let checkpoints: Checkpoint[] = claim.checkpoints;
    const now = this.#clock.now();
    if (claim.takenOver === true && run.crashesInARow >= MAX_CRASHES_IN_A_ROW) {
      // Its invocations ended with their process (or hung past their lease) that many times in a
      // row without committing a step: run again, it would most likely do the same.
      return await this.#end(
        flight,
        run,
        {
          status: "failed",
          reason: "error",
          error: {
            name: "CrashLoopError",
            code: "crash_loop",
            message: `The run was taken over ${run.crashesInARow} times in a row without committing a step (its process died or hung each time); it was failed rather than run again. Fix the cause and retry it.`,
            terminal: true,
          },
        },
        { checkpoints: [], attempts: [] },
      );
    }
    const resolved = await resolveWaits(this.#store, run, checkpoints, this.#codec, now);
    if (resolved.length > 0) {
      if (!(await flight.writes.commitSteps(ref, { checkpoints: resolved, attempts: [] }, now))) {
        this.#lost(ref);
        return NOT_RUN;
      }
      const byId = new Map(checkpoints.map((c) => [c.stepId, c]));
      for (const checkpoint of resolved) byId.set(checkpoint.stepId, checkpoint);
      checkpoints = [...byId.values()];
    }
    let input: unknown;
    try {
      input = this.#codec.decode(run.input);
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
      if (prepared.resolvedNow || (await this.#existingChildren(run, prepared.batch, at))) {
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
        fn: registered.definition.fn,
        input,
        runId: run.id,
        checkpoints: before,
        codec: this.#codec,
        clock: this.#clock,
        random: this.#random,
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
        this.#lost(ref);
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
        return await this.#end(
          flight,
          run,
          { status: "succeeded", output: outcome.encodedOutput },
          rest,
        );
      case "failed":
        return await this.#end(
          flight,
          run,
          {
            status: "failed",
            error: outcome.error,
            reason: "error",
            ...(outcome.compensation.outcomes.length === 0
              ? {}
              : { compensation: outcome.compensation }),
          },
          rest,
        );
      case "diverged":
        return await this.#end(
          flight,
          run,
          { status: "failed", error: recordError(outcome.error), reason: "diverged" },
          rest,
        );
      case "parked": {
        await this.#options.faults?.hit("before-step-commit");
        const now = this.#clock.now();
        const prepared = withChildren(run, rest, now, this.#childOptions());
        const park = runPark(outcome.waits, outcome.phase);
        if (
          wokenBefore ||
          prepared.resolvedNow ||
          (await this.#existingChildren(run, prepared.batch, now))
        ) {
          park.runAt = now;
        } else if (park.events !== undefined) {
          await this.#checkEvents(run, before, outcome.waits, park, now);
        }
        if (!(await flight.writes.parkRun(ref, park, prepared.batch, now))) {
          this.#lost(ref);
          return NOT_RUN;
        }
        this.#childrenCreated(prepared.batch, now);
        // The store may have made it due at once (woken while it ran, an event it had not seen):
        // look for due runs when this invocation's slot is free.
        this.#backlog = true;
        this.events.emit("run:parked", { uid: run.uid, park });
        if (park.runAt !== undefined) this.notify(park.runAt);
        await this.#options.faults?.hit("after-step-commit");
        return park.runAt === undefined
          ? { type: "parked" }
          : { type: "parked", runAt: park.runAt };
      }
      case "cancelled": {
        const reason: unknown = flight.controller.signal.reason;
        if (reason instanceof Error && reason.message === STOPPING) await this.#releaseRefs([ref]);
        return NOT_RUN;
      }
      case "interrupted":
        if (outcome.error instanceof LeaseLostError) this.#lost(ref);
        else {
          this.#logger.warn(
            { err: outcome.error, runId: run.id },
            "a step could not be committed; the run is taken up again when its lease expires",
          );
        }
        return NOT_RUN;
    }
  }

  /**
   * The events the run's new waits are for: read them now, before the park. One deliverable
   * already: the park is due at once. None: the park carries what was read (`eventsSeen`), and
   * the store makes it due at once if an event of those names it did not list was recorded since
   * (in the park's transaction, so an event sent between this read and the park is not lost, and
   * a crash after the park loses nothing either).
   */
  async #checkEvents(
    run: RunRecord,
    before: readonly Checkpoint[],
    waits: readonly RunWait[],
    park: RunPark,
    now: number,
  ): Promise<void> {
    const waiting: Checkpoint[] = [];
    for (const wait of waits) {
      if (wait.type !== "event") continue;
      const { stepId, ...eventWait } = wait;
      waiting.push({
        status: "waiting",
        stepId,
        kind: "waitForEvent",
        startedAt: now,
        attempts: 0,
        wait: eventWait,
      });
    }
    // Events recorded (by the senders' clocks) before `since` were all read here; those after it
    // that this read listed are named. The margin covers the clocks of a fleet disagreeing.
    // Events from before the run was created are never its (and are not read): not from then.
    const since = Math.max(now - EVENT_CLOCK_MARGIN_MS, run.createdAt);
    const ids: string[] = [];
    const delivered = before.filter((c) => c.status === "completed" && c.eventId !== undefined);
    const found = await resolveWaits(
      this.#store,
      run,
      [...delivered, ...waiting],
      this.#codec,
      now,
      (event) => {
        if (event.receivedAt >= since) ids.push(event.id);
      },
    );
    if (found.length > 0) park.runAt = now;
    else park.eventsSeen = { since, ids };
  }

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
      this.#lost(ref);
      return NOT_RUN;
    }
    await this.#options.faults?.hit("after-step-commit");
    // Its parent, woken by the same commit, may be a run of this process.
    if (run.parent !== undefined) this.notify(now);
    const ended = endedRun(run, end, now);
    // A write-behind flight tells its end once it is written (`#launchFlight`): until then
    // the run is still this process's, and a reader that finds it running waits for the event.
    if (flight.ahead === undefined) this.#tellEnded(ended);
    return { type: "ended", run: ended };
  }

  /** Whether this process is running an invocation of run `uid` now. */
  isRunning(uid: RunUid): boolean {
    return this.#flights.has(uid);
  }

  /**
   * The child runs of `batch` that exist already (the store leaves them as they are): a step
   * invoked again after its run was retried finds the child it started before. A failed child
   * of this run that can be retried is retried (the step starts again from the child's failed
   * step); one that has ended otherwise, or a run under that id this step did not start, can
   * wake nobody: true, so the run runs again now and the step gets its end (or refusal).
   */
  async #existingChildren(run: RunRecord, batch: StepBatch, now: number): Promise<boolean> {
    let again = false;
    for (const child of batch.runs ?? []) {
      const existing = (await this.#store.getRun(run.tenantId, child.id))?.run;
      if (existing === undefined || existing.uid === child.uid) continue;
      if (!isOwnChild(existing, run.uid, child.inputFingerprint)) {
        again = true;
        continue;
      }
      if (existing.status === "failed") {
        const retried = await this.#store.retryRun(run.tenantId, existing.id, now);
        if (retried.type === "ok") {
          this.notify(now);
          continue;
        }
      }
      if (isFinalRunStatus(existing.status)) again = true;
    }
    return again;
  }

  #childOptions(): { random: Random; guard?: UrlCheck } {
    return this.#options.guard === undefined
      ? { random: this.#random }
      : { random: this.#random, guard: this.#options.guard };
  }

  #childrenCreated(batch: StepBatch, at: number): void {
    if (batch.calls !== undefined && batch.calls.length > 0) this.#options.onCallsCreated(at);
    if (batch.runs !== undefined && batch.runs.length > 0) this.notify(at);
  }

  #lost(ref: RunRef): void {
    this.events.emit("run:lease-lost", { uid: ref.uid });
  }

  async #releaseRefs(refs: readonly RunRef[]): Promise<void> {
    if (refs.length === 0) return;
    await this.#store.releaseRuns(refs, this.#clock.now()).catch((error: unknown) => {
      this.#logger.warn(
        { err: error, runs: refs.length },
        "could not give back runs this process will not run; they are taken over when their leases end",
      );
    });
  }

  async #catchUp(): Promise<void> {
    if (this.#workflows.size === 0 || !this.#store.isReady()) return;
    const next = await this.#store.nextRunWakeAt(this.workflows);
    if (next !== undefined) this.notify(next);
  }

  async #renewLeases(): Promise<void> {
    if (this.#flights.size === 0 || !this.#options.mayAct()) return;
    const now = this.#clock.now();
    const held = [...this.#flights.values()].filter((f) => f.ahead?.renewable ?? true);
    if (held.length === 0) return;
    const lost = await this.#store.renewRunLeases(
      held.map((f) => f.ref),
      now + this.#options.leaseMs,
      now,
    );
    for (const ref of lost) {
      const flight = this.#flights.get(ref.uid);
      if (flight?.ref.leaseToken === ref.leaseToken)
        flight.controller.abort(abortReason(LEASE_LOST));
      this.#lost(ref);
    }
  }

  #every(intervalMs: number, task: () => Promise<void>): Promise<void> {
    return repeatEvery(this.#clock, this.#loops.signal, intervalMs, task, (error) => {
      this.#logger.warn({ err: error }, "run maintenance task failed; it runs again next interval");
    });
  }
}

/**
 * When a parked invocation's run may be retried inline: when every wait is a step's retry
 * backoff, the earliest; otherwise undefined (a sleep, an event or a child is the engine's).
 */
function inlineRetryAt(waits: readonly RunWait[]): number | undefined {
  if (waits.length === 0 || waits.some((wait) => wait.type !== "retry")) return undefined;
  return Math.min(...waits.map((wait) => (wait.type === "retry" ? wait.until : 0)));
}

/**
 * The record of `run` as `finishRun(end)` at `now` left it, without reading it back (what
 * `run:ended` carries): its end, and no live state.
 */
export function endedRun(run: RunRecord, end: RunEnd, now: number): RunRecord {
  const { runAt: _runAt, waitCode: _waitCode, ...rest } = run;
  const ended: RunRecord = {
    ...rest,
    status: end.status,
    crashesInARow: 0,
    updatedAt: now,
    endedAt: now,
  };
  if (end.status === "succeeded") ended.output = end.output;
  if (end.status === "failed") {
    ended.error = end.error;
    ended.failReason = end.reason;
    if (end.compensation !== undefined) ended.compensation = end.compensation;
  }
  return ended;
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
