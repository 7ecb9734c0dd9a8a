/**
 * The engine's part of durable workflows: claims the due runs of the workflows this process has
 * registered and runs each one's invocation here (a flight, `run-flight.ts`), its lease renewed
 * while it runs. The flight driver (`flight-driver.ts`) runs the invocation with a commit hook
 * that commits every step before it returns (group-committed by the store, fenced by the run's
 * lease token), and moves the run as the invocation's outcome says: ended (succeeded, failed,
 * diverged), or parked until its time or a wake-up (an event, a child's end).
 *
 * A run is claimed through the same queue table as calls and holds a lease renewed while its
 * invocation runs; a process whose lease ended (it was found dead, the run was cancelled) cannot
 * commit a step: its commit is refused, the invocation is interrupted and nothing more runs. Only
 * runs of registered workflows are claimed, so processes running different code can share one
 * database (a rolling deploy). A run this process creates itself (a durable endpoint's) starts
 * here without a claim round trip, in a slot reserved for it (`reserve`), its writes possibly held
 * behind it (`write-behind.ts`).
 *
 * The children of steps (`step.fetch`'s call, `step.invoke`'s run) are created in the commit that
 * records their wait; the call is run by the engine's call pump like any call, and its end (or
 * the child run's) wakes the parent in the transaction that ends it.
 */
import type { EngineLogger } from "../engine.ts";
import { ClaimLoop, repeatEvery } from "../claim-loop.ts";
import { SteadfastError } from "../../core/errors.ts";
import type { RunUid } from "../../core/ids.ts";
import type { Clock } from "../../core/ports.ts";
import type { RunClaim, RunRecord, RunRef } from "../../core/run-log.ts";
import type { Store } from "../../core/store.ts";
import { Emitter } from "../../resilience/events.ts";
import { FlightDriver } from "./flight-driver.ts";
import type {
  FlightEnd,
  InlineOptions,
  RunExecutorEvents,
  RunExecutorOptions,
  RunReservation,
  WorkflowOptions,
} from "./run-executor-types.ts";
import { abortReason, LEASE_LOST, NOT_RUN, STOPPING, type Flight } from "./run-flight.ts";
import { runReservation } from "./run-reservation.ts";
import { RunSlots } from "./run-slots.ts";
import { storedValueCodec } from "./stored-value-codec.ts";
import type { WorkflowDefinition } from "./workflow-definition.ts";
import type { WriteBehind, WriteBehindFailure } from "./write-behind.ts";

export type {
  FlightEnd,
  InlineFlight,
  InlineOptions,
  RunExecutorEvents,
  RunExecutorOptions,
  RunReservation,
  WorkflowOptions,
} from "./run-executor-types.ts";

/** Registered workflow: its definition and options. */
interface Registered {
  definition: WorkflowDefinition<unknown, unknown>;
  options: WorkflowOptions;
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
  readonly #logger: EngineLogger;
  readonly #options: RunExecutorOptions;
  readonly #slots: RunSlots;
  readonly #driver: FlightDriver;
  readonly #workflows = new Map<string, Registered>();
  readonly #flights = new Map<RunUid, Flight>();
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
    this.#logger = options.logger;
    this.#slots = new RunSlots({
      concurrency: options.concurrency ?? 256,
      flights: this.#flights,
      limitOf: (workflow) => this.#workflows.get(workflow)?.options.concurrency,
    });
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
    this.#driver = new FlightDriver({
      ...options,
      codec: storedValueCodec,
      definition: (workflow) => this.definition(workflow),
      notify: (runAt) => this.notify(runAt),
      onParked: (uid, park) => {
        // The store may have made it due at once (woken while it ran, an event it had not
        // seen): look for due runs when this invocation's slot is free.
        this.#backlog = true;
        this.events.emit("run:parked", { uid, park });
      },
      onEnded: (run) => this.#tellEnded(run),
      onLeaseLost: (ref) => this.#lost(ref),
      releaseRefs: (refs) => this.#releaseRefs(refs),
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
    if (!this.#workflows.has(workflow) || this.#slots.free(workflow) <= 0) return undefined;
    return runReservation({
      store: this.#store,
      workerId: this.#options.workerId,
      leaseExpiresAt: this.#clock.now() + this.#options.leaseMs,
      settle: this.#slots.reserve(workflow),
      mayLaunch: () => this.#state === "running" && this.#options.mayAct(),
      launch: (claim) => this.#launch(claim),
      launchInline: (claim, ahead, options) => this.#launchFlight(claim, ahead, options),
      onAheadFailed: (run, ref, failure) => this.#aheadFailed(run, ref, failure),
      releaseRefs: (refs) => this.#releaseRefs(refs),
      onReleased: () => this.#wake(),
    });
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

  async #pump(): Promise<void> {
    // A pass may find due runs it cannot all claim (slots full): look again when a slot frees,
    // unless it finds none due below.
    this.#backlog = true;
    let claimedAny = false;
    for (;;) {
      this.#loop.again = false;
      while (this.#state === "running" && this.#options.mayAct()) {
        let full = false;
        for (const group of this.#slots.claimGroups(this.#workflows.keys())) {
          const limit = Math.min(group.limit, this.#slots.open);
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
    const open = [...this.#workflows.keys()].filter((name) => this.#slots.free(name) > 0);
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
    const end = this.#driver.drive(claim, flight).catch((error: unknown) => {
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

  /** Whether this process is running an invocation of run `uid` now. */
  isRunning(uid: RunUid): boolean {
    return this.#flights.has(uid);
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
