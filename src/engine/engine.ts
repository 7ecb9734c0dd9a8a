/**
 * The engine: claims due calls and runs their attempts with bounded concurrency.
 *
 * Scheduling, with no polling on the hot path:
 *   - `notify(runAt)` after a commit (a new call, a redrive) wakes the pump at once when the work
 *     is due, or re-arms the one timer when it is due sooner than the timer;
 *   - the pump claims as many due calls as there are free slots, in batches (group commit);
 *   - a finished attempt frees a slot and wakes the pump;
 *   - when nothing more is due, one timer sleeps until the store's `nextWakeAt` (the next retry,
 *     delayed call or lease expiry), so a dead process's calls are taken over when its lease ends;
 *   - work other processes commit is announced by `Store.subscribe` where the store can (on
 *     PostgreSQL), and `nextWakeAt` is read again every heartbeat interval on every store.
 * Leases are renewed every `leaseMs / 3` for calls in flight; a call whose lease is lost (cancelled
 * or taken over) has its request aborted and writes nothing (fencing).
 *
 * Liveness (`WorkerLiveness`): the engine registers its process and heartbeats every second; a
 * process found dead (gone from this host, or silent for `workerTimeoutMs`) has its claims ended
 * at once, so its calls are taken over in seconds, not when their leases end. A takeover records
 * the attempt it cut off (`Store.claimDue`); a graceful stop records the attempts it aborts, and
 * the fence those it aborts after their request may have been sent (not as crashes).
 * The engine fences itself: it claims, and sends (right before `transport.send`, and when a call
 * leaves a destination's queue), only while its last acknowledged heartbeat is recent enough that
 * no other process can have found it dead; when it is not, every flight is aborted, queued calls
 * are shed without a write, and the engine registers again before it claims anything more.
 *
 * Before each attempt, the call's destination decides (`DestinationGate`): send now, or hold the
 * call until a time without an attempt (`Store.deferCall`): breaker open, paused by `Retry-After`,
 * a rate or concurrency limit, or the retry budget spent.
 */
import type { AttemptRecord, CallRecord, WaitingFor } from "../core/call.ts";
import type { CallId, WorkerId } from "../core/ids.ts";
import type { Clock, Random } from "../core/ports.ts";
import { randomBytes } from "node:crypto";
import type { Claim, ClaimRef, Store } from "../core/store.ts";
import type { OutgoingRequest, SendResult, Transport } from "../core/transport.ts";
import { Emitter } from "../resilience/events.ts";
import { buildCallbackRequest } from "./callback-request.ts";
import {
  DestinationGate,
  type Admission,
  type DestinationEvents,
} from "./destinations/destination-gate.ts";
import type { DestinationSettings } from "./destinations/destination-settings.ts";
import type { FaultInjector } from "./fault-points.ts";
import type { UrlCheck } from "./calls-service.ts";
import { RunExecutor } from "./workflows/run-executor.ts";
import { ClaimLoop, repeatEvery } from "./claim-loop.ts";
import { currentProcessProbe, type ProcessProbe } from "./process-probe.ts";
import { fencedAttempt, stoppedAttempt, type Interruption } from "../core/interruption.ts";
import {
  recordInterrupted,
  runAttempt,
  type AttemptContext,
  type ExchangeCutOff,
} from "./run-attempt.ts";
import { WorkerLiveness } from "./worker-liveness.ts";
import {
  DEFAULT_RETENTION_MS,
  purgeEnded,
  retentionCutoff,
  type PurgeCounts,
  type PurgedKind,
} from "./retention.ts";

/** The logger shape the engine needs (pino's). */
export interface EngineLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** Events the engine emits, named noun:verb (the destination events of `DestinationGate` included). */
export interface EngineEvents extends Record<string, unknown>, DestinationEvents {
  "attempt:recorded": { call: CallRecord; attempt: AttemptRecord };
  "call:retry-scheduled": { call: CallRecord; attempt: AttemptRecord; runAt: number };
  /** The call's destination held it until `runAt`, without an attempt. */
  "call:held": { call: CallRecord; waitingFor: WaitingFor; runAt: number };
  "call:ended": { call: CallRecord };
  "lease:lost": { callId: CallId };
  /** Retention deleted `count` rows of `kind` (one batch, committed). */
  "retention:purged": { kind: PurgedKind; count: number };
  /** A retention pass ended: what it deleted, that ended before `endedBefore` (epoch ms). */
  "retention:passed": PurgeCounts & { endedBefore: number };
}

/** Options of `Engine`. */
export interface EngineOptions {
  store: Store;
  transport: Transport;
  /**
   * Time. Give it `monotonicNow` (as `SystemClock` and `FakeClock` do): worker liveness measures
   * its durations with it; a clock without it is read with `now()`, which a wall-clock step moves.
   */
  clock: Clock;
  random: Random;
  /**
   * This engine's identity in the store: its claims, heartbeat and concurrency permits are held
   * under it, and stopping it (found dead, or a graceful stop) ends every claim under it. Two
   * live engines must never share one. Default a unique id: this process's pid and 64 bits from
   * the operating system's CSPRNG (not the injected `random`, which tests seed alike).
   */
  workerId?: string;
  /** Attempts in flight at once. Default 256. */
  concurrency?: number;
  /** How long a claim is held without renewal, ms. Default 30,000. */
  leaseMs?: number;
  /** Response body bytes kept per attempt. Default 1 MiB. */
  maxResponseBytes?: number;
  /** How long an idempotency key is kept after its call ends, ms. Default 24 h. */
  idempotencyTtlMs?: number;
  /** On `stop`, how long in-flight attempts may finish before they are aborted and released, ms. Default 10,000. */
  shutdownGraceMs?: number;
  /** How often expired idempotency keys (and events past their retention) are purged, ms. Default 60,000. */
  purgeIntervalMs?: number;
  /**
   * How long events (`sendEvent`, `POST /v1/events`) are kept for the runs waiting for them, ms.
   * Default 7 days: a run receives a matching event sent up to that long before it waits.
   */
  eventRetentionMs?: number;
  /**
   * How long ended calls (with their attempts and callbacks) and ended runs (with their steps)
   * are kept before they are deleted, ms; 0 keeps them for ever. Default 7 days. A call is kept
   * at least until its idempotency key expires (`idempotencyTtlMs`) and while its callback is
   * delivered; see engine/retention.ts. Purged every `purgeIntervalMs`.
   */
  retentionMs?: number;
  /** Most calls (or runs) one retention batch deletes. Default 500. */
  purgeBatchSize?: number;
  /** The pause between two retention batches, ms. Default 100. */
  purgePauseMs?: number;
  faults?: FaultInjector;
  logger?: EngineLogger;
  /** Per-destination protection: breaker, pauses, retry budget, share of concurrency. */
  destinations?: Partial<DestinationSettings>;
  /**
   * How often this engine's process heartbeats in the store, and looks for dead ones, ms.
   * Default 1,000: one small write, off the hot path.
   */
  heartbeatIntervalMs?: number;
  /**
   * How long another process's heartbeat may stay unchanged before its claims are taken over,
   * ms. Default 5,000. A process gone from this host is found at once. At least three
   * `heartbeatIntervalMs`: this engine stops sending once its last acknowledged heartbeat is
   * `workerTimeoutMs - heartbeatIntervalMs` old, before any other process may find it dead.
   * Both are measured on `clock.monotonicNow()` (when the clock offers it), so a step of the
   * wall clock neither shortens nor lengthens them.
   */
  workerTimeoutMs?: number;
  /** This process, and how to tell whether another one runs. Default the real process's. */
  processProbe?: ProcessProbe;
  /**
   * The destination guard of `POST /v1/fetch`, applied to the calls of workflows' `step.fetch`
   * (the transport applies it again when it connects). Default none.
   */
  guard?: UrlCheck;
  /** Workflow runs whose invocation is under way at once. Default `concurrency`. */
  runConcurrency?: number;
}

/** How a wait for the end of a call ended (`Engine.waitForEnd`). */
export type EndWait = "ended" | "timeout" | "stopped" | "aborted";

/**
 * One of the engine's slots, reserved for a call about to be created already claimed
 * (`Store.createClaimedCall`). Exactly one of `run` and `release` must be called.
 */
export interface ReservedSlot {
  readonly workerId: WorkerId;
  readonly leaseExpiresAt: number;
  /**
   * Runs the call created under this slot's claim (lease token 1); gives the claim back instead
   * when the engine is stopping or its fence closed since the slot was reserved.
   */
  run(call: CallRecord): void;
  /** Gives the slot back: the call was not created (its key was held, or the write failed). */
  release(): void;
}

interface InFlight {
  ref: ClaimRef;
  controller: AbortController;
  done: Promise<void>;
  /** Its exchange with the upstream has ended; its attempt is being committed. */
  exchanged: boolean;
}

const noopLogger: EngineLogger = { info() {}, warn() {}, error() {} };

/**
 * Executes durable calls from a `Store`. Any number of engines may share one store: claims and
 * leases keep them from running a call twice at once, fencing keeps a stale one from committing.
 *
 * @example
 * const engine = new Engine({ store, transport, clock: new SystemClock(), random: new CryptoRandom() });
 * engine.start();
 * // ... later
 * await engine.stop();
 */
export class Engine {
  /**
   * The engine's events. A listener that throws does not stop the engine or the other listeners;
   * its error is logged (`an engine event listener threw`).
   */
  readonly events: Emitter<EngineEvents>;
  /** The per-destination protection every attempt passes (and its state, for the API). */
  readonly destinations: DestinationGate;
  /** Durable workflows: the runs of the workflows registered in this process. */
  readonly runs: RunExecutor;
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #logger: EngineLogger;
  readonly #workerId: WorkerId;
  readonly #concurrency: number;
  readonly #leaseMs: number;
  readonly #shutdownGraceMs: number;
  readonly #purgeIntervalMs: number;
  readonly #eventRetentionMs: number;
  readonly #retention: { retentionMs: number; batchSize?: number; pauseMs?: number };
  readonly #ctx: AttemptContext;
  /** The flight of each call this engine runs (its current claim). */
  readonly #inFlight = new Map<CallId, InFlight>();
  /**
   * Flights whose call this engine claimed again (its lease was ended meanwhile): aborted, and
   * counted until they end.
   */
  readonly #superseded = new Set<InFlight>();
  readonly #waiters = new Map<CallId, Set<(why: EndWait) => void>>();
  #state: "idle" | "running" | "stopping" | "stopped" = "idle";
  /** The pump under way, if any (`stop` and the fence wait for the claims it brings back). */
  readonly #loop: ClaimLoop;
  /** Slots reserved for calls being created already claimed (see `reserveSlot`). */
  #reserved = 0;
  /**
   * How many times the fence has closed: a slot reserved before it closed is not run, because
   * its claim may have been ended meanwhile (and the call claimed again).
   */
  #fenceGeneration = 0;
  /** Calls of `#inFlight` whose exchange has ended and whose attempt is being committed. */
  #committing = 0;
  /** Most calls one pump claims; see `#adjustClaimWindow`. */
  #claimWindow: number;
  #loops = new AbortController();
  #unsubscribe: (() => void) | undefined;
  #background: Promise<void>[] = [];
  /** Claims being given back (`#release`). */
  readonly #releasing = new Set<Promise<void>>();
  readonly #liveness: WorkerLiveness;
  readonly #heartbeatIntervalMs: number;
  /** Settles when this worker is registered and has looked for dead ones (or failed to). */
  #registered: Promise<void> = Promise.resolve();
  /** The reason the attempts aborted by `stop` carry (told apart from a lost lease). */
  // eslint-disable-next-line no-restricted-syntax -- an abort reason, never thrown: only its message is quoted in the attempt
  readonly #stopping = new Error("engine stopping");
  /** The reason the attempts aborted by the fence carry: they write nothing. */
  // eslint-disable-next-line no-restricted-syntax -- an abort reason, never thrown: they write nothing
  readonly #fenced = new Error("this process may have been found dead: it sends nothing");
  /** Aborted when `stop` begins: what is retried while the store is away stops being retried. */
  readonly #halting = new AbortController();

  constructor(options: EngineOptions) {
    this.#store = options.store;
    this.#clock = options.clock;
    this.#logger = options.logger ?? noopLogger;
    const logger = this.#logger;
    this.events = new Emitter<EngineEvents>({
      onListenerError: (error, event) =>
        logger.error({ err: error, event }, "an engine event listener threw; the engine went on"),
    });
    this.#loop = new ClaimLoop({
      clock: options.clock,
      active: () => this.#state === "running",
      pass: () => this.#pump(),
      onError: (error) =>
        this.#logger.error({ err: error }, "claiming due calls failed; trying again in 1 s"),
    });
    this.#workerId = (options.workerId ??
      `worker_${process.pid}_${randomBytes(8).toString("hex")}`) as WorkerId;
    this.#concurrency = options.concurrency ?? 256;
    this.#claimWindow = this.#concurrency;
    this.#leaseMs = options.leaseMs ?? 30_000;
    this.#shutdownGraceMs = options.shutdownGraceMs ?? 10_000;
    this.#purgeIntervalMs = options.purgeIntervalMs ?? 60_000;
    this.#eventRetentionMs = options.eventRetentionMs ?? 7 * 86_400_000;
    this.#retention = {
      retentionMs: options.retentionMs ?? DEFAULT_RETENTION_MS,
      ...(options.purgeBatchSize === undefined ? {} : { batchSize: options.purgeBatchSize }),
      ...(options.purgePauseMs === undefined ? {} : { pauseMs: options.purgePauseMs }),
    };
    this.destinations = new DestinationGate({
      store: options.store,
      clock: options.clock,
      random: options.random,
      owner: this.#workerId,
      engineConcurrency: this.#concurrency,
      leaseMs: this.#leaseMs,
      events: this.events,
      logger: this.#logger,
      onWake: (runAt) => this.notify(runAt),
      ...(options.destinations === undefined ? {} : { settings: options.destinations }),
    });
    this.#heartbeatIntervalMs = options.heartbeatIntervalMs ?? 1_000;
    this.#liveness = new WorkerLiveness({
      store: options.store,
      clock: options.clock,
      workerId: this.#workerId,
      probe: options.processProbe ?? currentProcessProbe(),
      heartbeatIntervalMs: this.#heartbeatIntervalMs,
      workerTimeoutMs: options.workerTimeoutMs ?? 5_000,
      leaseMs: this.#leaseMs,
      logger: this.#logger,
      onClaimsEnded: (now) => {
        this.notify(now);
        this.runs.notify(now);
      },
      onFenced: () => this.#fence(),
      onAlive: () => {
        this.#wake();
        this.runs.notify(this.#clock.now());
      },
    });
    this.runs = new RunExecutor({
      store: options.store,
      clock: options.clock,
      random: options.random,
      workerId: this.#workerId,
      leaseMs: this.#leaseMs,
      concurrency: options.runConcurrency ?? this.#concurrency,
      pollIntervalMs: this.#heartbeatIntervalMs,
      shutdownGraceMs: this.#shutdownGraceMs,
      logger: this.#logger,
      mayAct: () => this.#mayLaunch(),
      onCallsCreated: (runAt) => this.notify(runAt),
      ...(options.faults === undefined ? {} : { faults: options.faults }),
      ...(options.guard === undefined ? {} : { guard: options.guard }),
    });
    const transport = options.transport;
    const signingSecrets = new Map<string, Promise<string>>();
    this.#ctx = {
      store: options.store,
      // Nothing leaves unless the fence is open at that very moment (see `WorkerLiveness`).
      transport: {
        send: (request, sendOptions) => {
          if (this.#liveness.mayAct()) return transport.send(request, sendOptions);
          this.#abortFlights(this.#fenced);
          return Promise.resolve(notSent(this.#clock.now()));
        },
        close: () => transport.close(),
      },
      clock: options.clock,
      random: options.random,
      maxResponseBytes: options.maxResponseBytes ?? 1_048_576,
      commitRetryMs: this.#leaseMs,
      idempotencyTtlMs: options.idempotencyTtlMs ?? 86_400_000,
      ...(options.faults === undefined ? {} : { faults: options.faults }),
      callbackRequest: (call, now): Promise<OutgoingRequest | undefined> =>
        buildCallbackRequest(
          { store: options.store, random: options.random, signingSecrets },
          call,
          now,
        ),
    };
  }

  /** Attempts currently in flight. */
  get inFlight(): number {
    return this.#flightCount();
  }

  /**
   * Whether this engine may claim and send now: it is running, registered, and its last
   * acknowledged heartbeat is recent enough that no other process can have found it dead (see
   * `WorkerLiveness`). False before its first registration is acknowledged.
   */
  get canSend(): boolean {
    return this.#mayLaunch();
  }

  /** This engine's worker id, as written on its claims. */
  get workerId(): WorkerId {
    return this.#workerId;
  }

  /**
   * Starts claiming work. Registers this process first and looks for dead ones, so that the calls
   * of a process that died on this host (the one this process restarts) are taken over at once;
   * those of a process silent elsewhere, after `workerTimeoutMs`; any other expired lease's, when due.
   */
  start(): void {
    if (this.#state !== "idle") return;
    this.#state = "running";
    this.#registered = this.#liveness.start();
    this.#unsubscribe = this.#store.subscribe((runAt) => {
      this.notify(runAt);
      this.runs.notify(runAt);
    });
    // Wake-ups from other processes are a store's best effort (none on SQLite, and PostgreSQL's
    // listener can go deaf until its next check): the next wake-up is also read every heartbeat
    // interval, so calls another process made due (claims of a dead worker it ended, new calls,
    // a graceful stop's releases) are claimed here too within that time, whatever the store.
    this.#background.push(this.#every(this.#heartbeatIntervalMs, () => this.#catchUp()));
    const renewEveryMs = Math.max(10, Math.floor(this.#leaseMs / 3));
    this.#background.push(this.#every(renewEveryMs, () => this.#renewLeases()));
    this.#background.push(this.#every(renewEveryMs, () => this.destinations.renewPermits()));
    this.#background.push(this.#every(this.#purgeIntervalMs, () => this.#purge()));
    this.#background.push(
      this.#every(this.destinations.settings.refreshIntervalMs, () => this.destinations.refresh()),
    );
    this.runs.start();
    this.#wake();
  }

  /**
   * Reserves a slot for a call about to be created already claimed by this engine, so it starts
   * without a claim round trip (`Store.createClaimedCall`). `undefined` when the engine is not
   * running (never started, as in an API-only process, or stopping) or every slot is taken.
   */
  reserveSlot(): ReservedSlot | undefined {
    if (this.#state !== "running" || !this.#liveness.mayAct()) return undefined;
    if (this.#freeSlots() <= 0) return undefined;
    this.#reserved++;
    const generation = this.#fenceGeneration;
    let settled = false;
    const settle = (): boolean => {
      if (settled) return false;
      settled = true;
      this.#reserved--;
      return true;
    };
    const leaseExpiresAt = this.#clock.now() + this.#leaseMs;
    return {
      workerId: this.#workerId,
      leaseExpiresAt,
      run: (call) => {
        if (!settle()) return;
        const claim: Claim = { call, leaseToken: 1, leaseExpiresAt };
        // Stopping, or fenced meanwhile (even if registered again since: registering again
        // ends this worker's claims, maybe this one, and its call may run elsewhere or here
        // under a newer claim): the claim is given back if it still is this one.
        if (this.#mayLaunch() && generation === this.#fenceGeneration) this.#launch(claim);
        else void this.#release([claim]);
      },
      release: () => {
        if (settle()) this.#wake();
      },
    };
  }

  /**
   * Tells the engine that work was committed, due at `runAt` (epoch ms): wakes it at once when due,
   * else makes sure the timer fires by then.
   */
  notify(runAt: number): void {
    this.#loop.notify(runAt);
  }

  /**
   * Resolves `"ended"` when this engine commits the end of call `id`, `"timeout"` after
   * `timeoutMs`, `"stopped"` at once when the engine is stopping (nothing more will end here), or
   * `"aborted"` at once when `signal` aborts (the waiter and its timer are removed).
   */
  waitForEnd(id: CallId, timeoutMs: number, signal?: AbortSignal): Promise<EndWait> {
    if (this.#state === "stopping" || this.#state === "stopped") return Promise.resolve("stopped");
    if (signal?.aborted === true) return Promise.resolve("aborted");
    return new Promise((resolve) => {
      const controller = new AbortController();
      const onAbort = (): void => done("aborted");
      let set = this.#waiters.get(id);
      if (set === undefined) {
        set = new Set();
        this.#waiters.set(id, set);
      }
      const waiters = set;
      const done = (why: EndWait): void => {
        waiters.delete(done);
        if (waiters.size === 0) this.#waiters.delete(id);
        signal?.removeEventListener("abort", onAbort);
        controller.abort();
        resolve(why);
      };
      waiters.add(done);
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#clock.sleep(timeoutMs, controller.signal).then(
        () => done("timeout"),
        () => {},
      );
    });
  }

  /**
   * Stops gracefully: claims nothing more (a claim under way is given back when it returns),
   * lets attempts in flight finish for up to `shutdownGraceMs`, then aborts the rest and gives
   * their claims back (they run again, with the same forwarded idempotency key, on the next
   * engine). Resolves once no attempt of this engine runs any more.
   */
  async stop(): Promise<void> {
    if (this.#state === "stopped" || this.#state === "stopping") return;
    this.#state = "stopping";
    this.#halting.abort();
    this.#unsubscribe?.();
    await this.#registered;
    // Calls waiting in memory for a destination's slot go back to the store, due at once.
    this.destinations.shedQueued();
    for (const [, waiters] of this.#waiters) for (const done of [...waiters]) done("stopped");
    this.#loop.disarm();
    // A pump in the middle of a claim: the claims it brings back are released, not launched.
    await this.#loop.running;
    // Runs first: an invocation under way may still create calls (its steps' children), which
    // are committed queued and run by whichever engine claims them.
    await this.runs.stop();
    if (this.#flightCount() > 0) {
      const grace = new AbortController();
      await Promise.race([
        this.#flightsEnded(),
        this.#clock.sleep(this.#shutdownGraceMs, grace.signal).catch(() => {}),
      ]);
      grace.abort();
      this.#abortFlights(this.#stopping);
      await this.#flightsEnded();
    }
    await this.destinations.idle();
    await Promise.all([...this.#releasing]);
    this.#loops.abort();
    // Nothing more is sent from here: this process's share of fleet-wide concurrency limits is
    // free for the others at once rather than when its lease ends (a failure is logged there;
    // those permits lapse).
    await this.destinations.returnPermits();
    await Promise.all(this.#background);
    // Stops heartbeating, then marks the worker stopped: nobody waits for this process's
    // heartbeat, and a claim it still holds (one whose release failed) is taken over at once.
    await this.#liveness.stop().catch((error: unknown) => {
      this.#logger.warn(
        { err: error },
        "could not mark this worker stopped; others find it dead when its heartbeat is late",
      );
    });
    for (const [, waiters] of this.#waiters) for (const done of [...waiters]) done("stopped");
    this.#state = "stopped";
  }

  #wake(): void {
    this.#loop.wake();
  }

  /** Whether a claim may run now: the engine is running and its fence open. */
  #mayLaunch(): boolean {
    return this.#state === "running" && this.#liveness.mayAct();
  }

  /**
   * Gives claims back (due at once); a failure is logged, and their leases end in time. `stop`
   * waits for it before the store may be closed.
   */
  #release(claims: readonly Claim[]): Promise<void> {
    if (claims.length === 0) return Promise.resolve();
    const refs = claims.map((c) => ({ callId: c.call.id, leaseToken: c.leaseToken }));
    const released = this.#store.releaseClaims(refs, this.#clock.now()).catch((error: unknown) => {
      this.#logger.warn(
        { err: error, calls: refs.length },
        "could not give back claims this engine will not run; they are taken over when their leases end",
      );
    });
    this.#releasing.add(released);
    void released.finally(() => this.#releasing.delete(released));
    return released;
  }

  async #pump(): Promise<void> {
    // Saved breakers, pauses and limits first: a restart must not send what they hold.
    await this.destinations.load();
    // Registered, and dead processes looked for: the claims the first look ended are claimed now.
    await this.#registered;
    for (;;) {
      this.#loop.again = false;
      while (this.#mayLaunch()) {
        const free = this.#freeSlots();
        if (free <= 0) break;
        const limit = Math.min(free, Math.ceil(this.#claimWindow));
        const claims = await this.#store.claimDue({
          now: this.#clock.now(),
          limit,
          leaseMs: this.#leaseMs,
          workerId: this.#workerId,
        });
        // Stopped or fenced while claiming: these calls go back, due at once.
        if (!this.#mayLaunch()) {
          await this.#release(claims);
          break;
        }
        // Slots reserved meanwhile (`reserveSlot`: calls created already claimed, which must not
        // wait for a claim to return) took some of those this claim was for: the calls that no
        // longer fit go back, due at once (issue 10, item 10, review: concurrency was exceeded).
        const fit = Math.max(0, this.#freeSlots());
        for (const claim of claims.slice(0, fit)) this.#launch(claim);
        if (claims.length > fit) {
          await this.#release(claims.slice(fit));
          break;
        }
        // Narrowed by the window: claim again when attempts end, not at once.
        if (claims.length < limit || limit < free) break;
      }
      if (!this.#loop.again || this.#state !== "running") break;
    }
    // No free slot (reserved ones included): an exchange or attempt that ends, or a settled
    // reservation, wakes the pump again. Looking for due work now would only find it, and pump again at once.
    // Fenced: registering again wakes it.
    if (!this.#mayLaunch() || this.#freeSlots() <= 0) return;
    const next = await this.#store.nextWakeAt();
    if (next === undefined) return;
    if (next <= this.#clock.now()) this.#loop.again = true;
    else this.#loop.arm(next);
  }

  /**
   * Calls this engine may claim now. `concurrency` bounds exchanges with upstreams in flight; a
   * call whose exchange has ended no longer takes a slot while its attempt is committed, so the
   * store's commit latency does not cap throughput at concurrency / (exchange + commit). Calls
   * being committed are bounded too (as many again), so a slow store stops the claiming.
   */
  #freeSlots(): number {
    const flights = this.#flightCount();
    const exchanging = flights - this.#committing + this.#reserved;
    const held = flights + this.#reserved;
    return Math.min(this.#concurrency - exchanging, 2 * this.#concurrency - held);
  }

  #launch(claim: Claim): void {
    const controller = new AbortController();
    const ref: ClaimRef = { callId: claim.call.id, leaseToken: claim.leaseToken };
    const flight: InFlight = { ref, controller, done: Promise.resolve(), exchanged: false };
    const previous = this.#inFlight.get(claim.call.id);
    if (previous !== undefined) {
      // Its lease was ended and the call claimed again, here: the older attempt is fenced out.
      // eslint-disable-next-line no-restricted-syntax -- an abort reason, never thrown: only its message is quoted
      previous.controller.abort(new Error("lease lost"));
      this.#superseded.add(previous);
      this.events.emit("lease:lost", { callId: claim.call.id });
    }
    this.#inFlight.set(claim.call.id, flight);
    const onExchanged = (): void => {
      flight.exchanged = true;
      this.#committing++;
      this.#wake();
    };
    flight.done = this.#execute(claim, controller.signal, onExchanged)
      .catch((error: unknown) => {
        this.#logger.error(
          { err: error, callId: claim.call.id },
          "attempt failed inside the engine; the call is retried when its lease expires",
        );
      })
      .finally(() => {
        if (this.#inFlight.get(claim.call.id) === flight) this.#inFlight.delete(claim.call.id);
        else this.#superseded.delete(flight);
        if (flight.exchanged) this.#committing--;
        this.#wake();
      });
  }

  async #execute(claim: Claim, signal: AbortSignal, onExchanged: () => void): Promise<void> {
    const gate = this.destinations;
    const admission = await gate.admit(claim.call, this.#clock.now(), {
      signal,
      ...(claim.heldFor === undefined ? {} : { heldFor: claim.heldFor }),
      ...(claim.takenOver === true ? { takenOver: true } : {}),
    });
    this.#adjustClaimWindow(admission);
    // Fenced while it waited for its destination (or now): the call is no longer surely ours.
    // It leaves without a send; its claim is given back if it still is ours (nothing was sent).
    if (signal.reason === this.#fenced || !this.#liveness.mayAct()) {
      this.#abortFlights(this.#fenced);
      if (admission.type === "proceed") gate.release(admission.ticket);
      await this.#release([claim]);
      return;
    }
    if (admission.type === "hold") {
      await this.#hold(claim, admission.until, admission.waitingFor);
      return;
    }
    const { ticket } = admission;
    let result: Awaited<ReturnType<typeof runAttempt>>;
    try {
      // The destination's slot is freed when the exchange ends, not after the attempt is
      // committed: its concurrency limit counts requests at the destination, and holding the
      // slot through our own write would cap its throughput at limit / (exchange + commit).
      result = await runAttempt(this.#ctx, claim, signal, (sent, now, limits) => {
        gate.observe(ticket, sent, now, limits);
        gate.release(ticket);
        onExchanged();
      });
    } finally {
      gate.release(ticket);
    }
    if (result.type === "aborted") {
      if (signal.reason === this.#stopping)
        await this.#giveBack(claim, result.cutOff, stoppedAttempt(this.#shutdownGraceMs));
      // Fenced: a request that may have gone out is recorded interrupted here, by the process
      // that knows whether it was sent, and not as a crash (a database blip, a VM pause); if
      // the claim is no longer ours, nothing is written and the takeover records it. One that
      // surely did not go out is given back.
      else if (signal.reason === this.#fenced)
        await this.#giveBack(
          claim,
          result.cutOff?.sent === true ? result.cutOff : undefined,
          fencedAttempt(),
        );
      return;
    }
    if (result.type === "fenced") {
      this.events.emit("lease:lost", { callId: claim.call.id });
      return;
    }
    const { call, attempt, transition } = result;
    this.events.emit("attempt:recorded", { call, attempt });
    if (transition.status === "waiting") {
      this.events.emit("call:retry-scheduled", { call, attempt, runAt: transition.runAt });
      this.notify(transition.runAt);
    } else {
      this.events.emit("call:ended", { call });
      // A step.fetch's call: its end woke its run in the same commit.
      if (call.parentRun !== undefined) this.runs.notify(this.#clock.now());
      const waiters = this.#waiters.get(call.id);
      if (waiters !== undefined) for (const done of [...waiters]) done("ended");
    }
    if (result.followUp !== undefined) this.notify(result.followUp.runAt);
  }

  /**
   * AIMD on how many calls one pump claims (like TCP's congestion window): a call admitted with
   * room to spare grows it by one, a call held because its destination's concurrency is full
   * halves it. When all due
   * work is for one saturated destination, the engine then claims about as many calls as slots
   * free up, instead of claiming hundreds only to give them back (two writes each); work for
   * other destinations is admitted and opens the window again.
   */
  #adjustClaimWindow(admission: Admission): void {
    if (admission.type === "proceed") {
      // Only an admission that left the destination room says more could have gone ahead.
      if (admission.atLimit !== true)
        this.#claimWindow = Math.min(this.#concurrency, this.#claimWindow + 1);
    } else if (admission.waitingFor.reason === "concurrency_limited") {
      this.#claimWindow = Math.max(1, this.#claimWindow / 2);
    }
  }

  /**
   * Gives back a claim whose attempt this engine aborted (a stop, or its fence): recorded as
   * `interruption` when its exchange had begun (`recordInterrupted`), released otherwise; due
   * again at once either way, and written only if the claim still is this one. While the store
   * is unreachable the record is tried again until the engine stops (a fence's usual cause is a
   * database blip; unrecorded, its claim would be ended and the takeover count a crash).
   */
  async #giveBack(
    claim: Claim,
    cutOff: ExchangeCutOff | undefined,
    interruption: Interruption,
  ): Promise<void> {
    if (cutOff === undefined) {
      await this.#release([claim]);
      return;
    }
    const recorded = await recordInterrupted(
      this.#ctx,
      claim,
      cutOff,
      interruption,
      this.#halting.signal,
    );
    if (recorded !== undefined) this.events.emit("attempt:recorded", recorded);
  }

  /** Holds a claimed call until `runAt` without an attempt, as its destination decided. */
  async #hold(claim: Claim, runAt: number, waitingFor: WaitingFor): Promise<void> {
    const ref: ClaimRef = { callId: claim.call.id, leaseToken: claim.leaseToken };
    const now = this.#clock.now();
    if (!(await this.#store.deferCall(ref, runAt, waitingFor, now))) {
      this.events.emit("lease:lost", { callId: claim.call.id });
      return;
    }
    const call: CallRecord = {
      ...claim.call,
      status: "waiting",
      runAt,
      waitReason: waitingFor.message,
      waitCode: waitingFor.reason,
      updatedAt: now,
    };
    if (waitingFor.destination !== undefined) call.waitDestination = waitingFor.destination;
    this.events.emit("call:held", { call, waitingFor, runAt });
    this.notify(runAt);
  }

  /**
   * The fence closed (`WorkerLiveness`): aborts every exchange now (an answer in hand is still
   * committed), and no slot reserved before runs its call; resolves once the pump under way and
   * every flight have ended.
   */
  async #fence(): Promise<void> {
    this.#fenceGeneration++;
    this.#abortFlights(this.#fenced);
    this.runs.fence();
    await this.#loop.running;
    await this.#flightsEnded();
  }

  /**
   * Aborts every flight (an aborted one keeps its first reason). The fence spares those whose
   * exchange has ended: nothing more of theirs is sent, and their commit, conditional on the
   * lease token, writes nothing if the call was taken over; aborted, an answer in hand would be
   * dropped (while the store is away, a fence's usual cause) and the request sent again.
   */
  #abortFlights(reason: Error): void {
    for (const flight of this.#allFlights())
      if (reason !== this.#fenced || !flight.exchanged) flight.controller.abort(reason);
  }

  #allFlights(): InFlight[] {
    return [...this.#inFlight.values(), ...this.#superseded];
  }

  #flightCount(): number {
    return this.#inFlight.size + this.#superseded.size;
  }

  /** Resolves once no flight is left, including any launched meanwhile. */
  async #flightsEnded(): Promise<void> {
    while (this.#flightCount() > 0) await Promise.all(this.#allFlights().map((f) => f.done));
  }

  /** Claims what another process made due (stores without cross-process wake-ups). */
  async #catchUp(): Promise<void> {
    // A store known unreachable would only fail the read (the PostgreSQL listener catches up
    // by itself once it reconnects).
    if (!this.#store.isReady()) return;
    const next = await this.#store.nextWakeAt();
    if (next !== undefined) this.notify(next);
  }

  async #renewLeases(): Promise<void> {
    // Fenced, its flights are aborted: their claims are ended, not renewed.
    if (this.#inFlight.size === 0 || !this.#liveness.mayAct()) return;
    const now = this.#clock.now();
    const lost = await this.#store.renewLeases(
      [...this.#inFlight.values()].map((f) => f.ref),
      now + this.#leaseMs,
      now,
    );
    for (const ref of lost) {
      const flight = this.#inFlight.get(ref.callId);
      if (flight?.ref.leaseToken === ref.leaseToken)
        // eslint-disable-next-line no-restricted-syntax -- an abort reason, never thrown: only its message is quoted
        flight.controller.abort(new Error("lease lost"));
      this.events.emit("lease:lost", { callId: ref.callId });
    }
  }

  async #purge(): Promise<void> {
    const now = this.#clock.now();
    const purged = await this.#store.purgeExpiredIdempotencyKeys(now);
    if (purged > 0) this.#logger.info({ purged }, "released expired idempotency keys");
    // In slices, so one purge never holds the database for long.
    const events = await this.#store.purgeEventsBefore(now - this.#eventRetentionMs, 10_000);
    if (events > 0) {
      this.events.emit("retention:purged", { kind: "event", count: events });
      this.#logger.info({ purged: events }, "deleted events past their retention");
    }
    const { retentionMs, batchSize, pauseMs } = this.#retention;
    if (retentionMs <= 0) return;
    const endedBefore = retentionCutoff(now, retentionMs, this.#ctx.idempotencyTtlMs);
    const ended = await purgeEnded({
      store: this.#store,
      clock: this.#clock,
      endedBefore,
      now,
      signal: this.#halting.signal,
      ...(batchSize === undefined ? {} : { batchSize }),
      ...(pauseMs === undefined ? {} : { pauseMs }),
      onBatch: (kind, count) => this.events.emit("retention:purged", { kind, count }),
    });
    this.events.emit("retention:passed", { ...ended, endedBefore });
    if (ended.calls + ended.runs > 0)
      this.#logger.info(
        { ...ended, endedBefore: new Date(endedBefore).toISOString() },
        "deleted ended calls and runs past their retention",
      );
  }

  #every(intervalMs: number, task: () => Promise<void>): Promise<void> {
    return repeatEvery(this.#clock, this.#loops.signal, intervalMs, task, (error) => {
      this.#logger.warn(
        { err: error },
        "engine maintenance task failed; it runs again next interval",
      );
    });
  }
}

/** What the transport is never asked to send while the fence is closed (nothing left). */
function notSent(now: number): SendResult {
  return {
    type: "error",
    code: "aborted",
    message: "not sent: this process may have been found dead by another one (see WorkerLiveness)",
    sent: false,
    timings: { startedAt: now, durationMs: 0 },
  };
}
