/**
 * The public types of the run executor (`run-executor.ts`): a registered workflow's options, the
 * executor's options and events, and what the code that starts a run here (a durable endpoint)
 * gets back: a reserved slot, and how the invocation it launched ended.
 */
import type { EngineLogger } from "../engine.ts";
import type { FaultInjector } from "../fault-points.ts";
import type { UrlCheck } from "../calls-service.ts";
import type { RunUid, WorkerId } from "../../core/ids.ts";
import type { Clock, Random } from "../../core/ports.ts";
import type { NewRun, RunPark, RunRecord } from "../../core/run-log.ts";
import type { Store } from "../../core/store.ts";

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

/** How long a run driven inline (`launchInline`) may keep its request waiting. */
export interface InlineOptions {
  /** Step retries waited for here before the run is handed to the engine. Default 0. */
  retries?: number;
  /** No retry due after this time (epoch ms) is waited for here. Default: none. */
  until?: number;
  /**
   * The run's input as its encoded form decodes, when the caller has it at hand (it just encoded
   * it): this flight's invocations (the first, and its inline retries) take it instead of decoding
   * the stored text again, so they must not change it (a durable endpoint copies it into a fresh
   * `Request` each time).
   */
  input?: { value: unknown };
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
