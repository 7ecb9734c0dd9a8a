/**
 * Worker liveness (issue 10, item 10): a dead process's claims are taken over within seconds,
 * not when their leases expire, and the lease of a live process is never shortened.
 *
 * Each engine registers its process in the store and heartbeats every `heartbeatIntervalMs`;
 * after each heartbeat it looks at the other live workers and finds one dead when
 *   - it ran on this host (same host name and pid scope) and its process is gone: no process has
 *     its pid (ESRCH), or this process has its pid and is not it (a restarted container's pid 1).
 *     This is what resumes a restarted process's calls at once;
 *   - or its heartbeat has not changed for `workerTimeoutMs` of this engine's clock, over several
 *     looks. Successive values are compared, never clocks of two machines, so clock skew between
 *     hosts cannot make a live process look dead.
 * A dead worker is stopped with `Store.stopWorkers`, conditional on the heartbeat seen (one that
 * beat meanwhile is left alone): its claims end at once and `claimDue` takes its calls over,
 * fenced by their lease tokens as before. A worker found dead by mistake (a long pause) loses
 * only the claims taken meanwhile, and registers again at its next heartbeat.
 */
import { InvalidOptionError } from "../core/errors.ts";
import type { WorkerId } from "../core/ids.ts";
import type { Clock } from "../core/ports.ts";
import type { Store, WorkerRecord } from "../core/store.ts";
import type { ProcessProbe } from "./process-probe.ts";

/** The logger shape liveness needs (the engine's). */
interface LivenessLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

/** Options of `WorkerLiveness`. */
export interface WorkerLivenessOptions {
  store: Store;
  clock: Clock;
  workerId: WorkerId;
  probe: ProcessProbe;
  /** How often this worker heartbeats and looks at the others, ms. */
  heartbeatIntervalMs: number;
  /** How long another worker's heartbeat may stay unchanged before it is found dead, ms. */
  workerTimeoutMs: number;
  logger: LivenessLogger;
  /** Claims of dead workers were ended at `now`: their calls are due. */
  onClaimsEnded(now: number): void;
}

/** Stopped workers' rows are kept this long, for diagnostics, then deleted at a registration. */
const STOPPED_RETENTION_MS = 86_400_000;

/** One engine's registration, heartbeat and judgement of the others. See the file comment. */
export class WorkerLiveness {
  readonly #options: WorkerLivenessOptions;
  /** The last heartbeat seen of each other worker, since when, and over how many looks. */
  readonly #seen = new Map<WorkerId, { heartbeatAt: number; since: number; looks: number }>();
  readonly #minLooks: number;

  constructor(options: WorkerLivenessOptions) {
    if (!(options.workerTimeoutMs > options.heartbeatIntervalMs)) {
      throw new InvalidOptionError(
        `workerTimeoutMs (${options.workerTimeoutMs}) must be longer than heartbeatIntervalMs ` +
          `(${options.heartbeatIntervalMs}): a live worker would be found dead between two heartbeats.`,
      );
    }
    this.#options = options;
    // A worker is found dead by heartbeat only after this many looks, so a pause of this
    // engine (or a fake clock's jump) is not mistaken for the silence of the other.
    this.#minLooks = Math.max(
      1,
      Math.floor(options.workerTimeoutMs / options.heartbeatIntervalMs) - 1,
    );
  }

  /** Registers this worker, then looks for dead ones at once (a restart resumes their calls). */
  async start(): Promise<void> {
    await this.#register();
    await this.#look();
  }

  /** Heartbeats (registering again if another process stopped it), then looks at the others. */
  async beat(): Promise<void> {
    const { store, clock, workerId, logger } = this.#options;
    if (!(await store.heartbeatWorker(workerId, clock.now()))) {
      logger.warn(
        { workerId },
        "this worker was found dead by another process (its heartbeats stopped for a while); " +
          "registering again: calls taken over meanwhile are lost to this process, not run twice at once",
      );
      await this.#register();
    }
    await this.#look();
  }

  /** Marks this worker stopped (a graceful stop), ending any claim it still holds. */
  async stop(): Promise<void> {
    const { store, clock, workerId } = this.#options;
    await store.stopWorkers([{ id: workerId }], clock.now());
  }

  async #register(): Promise<void> {
    const { store, clock, workerId, probe } = this.#options;
    const now = clock.now();
    await store.registerWorker({ id: workerId, ...probe.self }, now, now - STOPPED_RETENTION_MS);
  }

  async #look(): Promise<void> {
    const { store, clock, workerId, logger } = this.#options;
    const workers = await store.listWorkers();
    const now = clock.now();
    const dead: { worker: WorkerRecord; why: string }[] = [];
    const present = new Set<WorkerId>();
    for (const worker of workers) {
      if (worker.id === workerId) continue;
      present.add(worker.id);
      const why = this.#deathOf(worker, now);
      if (why !== undefined) dead.push({ worker, why });
    }
    for (const id of this.#seen.keys()) if (!present.has(id)) this.#seen.delete(id);
    if (dead.length === 0) return;
    const { stopped, claimsEnded } = await store.stopWorkers(
      dead.map(({ worker }) => ({ id: worker.id, heartbeatAt: worker.heartbeatAt })),
      now,
    );
    for (const { worker, why } of dead) {
      if (!stopped.includes(worker.id)) continue;
      this.#seen.delete(worker.id);
      logger.warn(
        { workerId: worker.id, host: worker.host, pid: worker.pid },
        `worker ${worker.id} is dead (${why}); its calls are taken over now`,
      );
    }
    if (claimsEnded > 0) {
      logger.info({ claimsEnded }, "claims of dead workers ended; taking their calls over");
      this.#options.onClaimsEnded(now);
    }
  }

  /** Why `worker` is dead, or undefined while it may be alive. */
  #deathOf(worker: WorkerRecord, now: number): string | undefined {
    const { probe, workerTimeoutMs } = this.#options;
    const self = probe.self;
    if (worker.host === self.host && worker.pidScope === self.pidScope) {
      if (worker.pid !== self.pid) {
        if (!probe.isAlive(worker.pid)) return `process ${worker.pid} on ${worker.host} is gone`;
      } else if (worker.startedAt !== self.startedAt) {
        return `its pid ${worker.pid} on ${worker.host} is this process's now`;
      }
    }
    const seen = this.#seen.get(worker.id);
    if (seen === undefined || seen.heartbeatAt !== worker.heartbeatAt) {
      this.#seen.set(worker.id, { heartbeatAt: worker.heartbeatAt, since: now, looks: 0 });
      return undefined;
    }
    seen.looks++;
    const silentMs = now - seen.since;
    if (silentMs >= workerTimeoutMs && seen.looks >= this.#minLooks)
      return `no heartbeat for ${silentMs} ms`;
    return undefined;
  }
}
