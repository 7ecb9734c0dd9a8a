/**
 * How a worker finds others dead (see the file comment of worker-liveness.ts): by their PID
 * where both know the PID scope, else by a heartbeat unchanged for `workerTimeoutMs` of this
 * worker's monotonic clock (`Clock.monotonicNow`: a wall-clock step must not shorten the
 * silence) over several looks; and how it stops them (`Store.stopWorkers`, conditional on
 * the heartbeat it saw, so one that beat meanwhile is left alone).
 */
import type { WorkerId } from "../core/ids.ts";
import { monotonicNow, type Clock } from "../core/ports.ts";
import type { WorkerRecord, WorkerRegistry } from "../core/worker-registry.ts";
import type { ProcessProbe } from "./process-probe.ts";

/** Options of `WorkerJudge` (those of `WorkerLiveness` it needs). */
export interface WorkerJudgeOptions {
  store: WorkerRegistry;
  clock: Clock;
  /** The judging worker (never judged by itself). */
  workerId: WorkerId;
  probe: ProcessProbe;
  /** How often the judge looks, ms. */
  heartbeatIntervalMs: number;
  /** How long another worker's heartbeat may stay unchanged before it is found dead, ms. */
  workerTimeoutMs: number;
  /** The engine's lease, ms: where a stopped worker's claims are looked for. */
  leaseMs: number;
  logger: { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void };
  /** Claims of dead workers were ended at `now`: their calls are due. */
  onClaimsEnded(now: number): void;
}

/** Finds other workers dead and stops them. See the file comment. */
export class WorkerJudge {
  readonly #options: WorkerJudgeOptions;
  /**
   * The last heartbeat seen of each other worker, since when (monotonic), and over how many
   * looks.
   */
  readonly #seen = new Map<WorkerId, { heartbeatAt: number; since: number; looks: number }>();
  readonly #minLooks: number;
  #silentDueAt: number | undefined;

  constructor(options: WorkerJudgeOptions) {
    this.#options = options;
    // A worker is found dead by heartbeat only after this many looks, so a pause of this
    // engine (or a fake clock's jump) is not mistaken for the silence of the other.
    this.#minLooks = Math.max(
      1,
      Math.floor(options.workerTimeoutMs / options.heartbeatIntervalMs) - 1,
    );
  }

  /**
   * When the first silent worker's timeout comes due (the judge's clock's monotonic reading,
   * `monotonicNow`): looking then, rather than at the next interval after it, finds it dead on
   * time. Undefined when none.
   */
  get silentDueAt(): number | undefined {
    return this.#silentDueAt;
  }

  /** Looks at the registered workers once, and stops those found dead. */
  async look(): Promise<void> {
    const { store, clock, workerId, logger, leaseMs } = this.#options;
    const workers = await store.listWorkers();
    const now = clock.now();
    const seenAt = monotonicNow(clock);
    const dead: { worker: WorkerRecord; why: string }[] = [];
    const present = new Set<WorkerId>();
    this.#silentDueAt = undefined;
    for (const worker of workers) {
      if (worker.id === workerId) continue;
      present.add(worker.id);
      const why = this.#deathOf(worker, seenAt);
      if (why !== undefined) dead.push({ worker, why });
    }
    for (const id of this.#seen.keys()) if (!present.has(id)) this.#seen.delete(id);
    if (dead.length === 0) return;
    const { stopped, claimsEnded } = await store.stopWorkers(
      dead.map(({ worker }) => ({ id: worker.id, heartbeatAt: worker.heartbeatAt })),
      now,
      leaseMs,
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

  /** Why `worker` is dead, or undefined while it may be alive; `now` is monotonic. */
  #deathOf(worker: WorkerRecord, now: number): string | undefined {
    const { probe, workerTimeoutMs } = this.#options;
    const self = probe.self;
    // A pid is evidence only within one known PID scope: an unknown scope on both sides says
    // nothing (two machines may share a host name).
    if (
      self.pidScope !== undefined &&
      worker.pidScope === self.pidScope &&
      worker.host === self.host &&
      !probe.isRunning(worker.pid, worker.startedAt)
    ) {
      return worker.pid === self.pid
        ? `its pid ${worker.pid} on ${worker.host} is this process's now`
        : `process ${worker.pid} on ${worker.host} is gone`;
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
    // Looked at again when its timeout comes due, not at the next interval after it.
    if (silentMs < workerTimeoutMs && seen.looks + 1 >= this.#minLooks) {
      const dueAt = seen.since + workerTimeoutMs;
      this.#silentDueAt = Math.min(this.#silentDueAt ?? dueAt, dueAt);
    }
    return undefined;
  }
}
