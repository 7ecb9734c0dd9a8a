/**
 * The worker-registry role of the `Store` port: the engine processes sharing a store, their
 * heartbeats, and the end of those found dead (see `WorkerLiveness` and `WorkerJudge`).
 */
import type { WorkerId } from "./ids.ts";

/** An engine process as it registers itself (`Store.registerWorker`). */
export interface WorkerRegistration {
  id: WorkerId;
  /** The host name (`os.hostname()`). */
  host: string;
  /**
   * Where `pid` means something: the kernel boot and PID namespace (Linux), so that two
   * containers or two machines with one host name are not confused. Absent when unknown.
   */
  pidScope?: string;
  /** The operating system's process id. */
  pid: number;
  /** When the process started, epoch ms: tells a process from a later one with the same pid. */
  startedAt: number;
}

/** A registered engine process (`Store.listWorkers`). */
export interface WorkerRecord extends WorkerRegistration {
  /** Its last heartbeat, epoch ms of its own clock. */
  heartbeatAt: number;
  /** When it stopped or was found dead; absent while it is live. */
  stoppedAt?: number;
}

/** The engine processes sharing the store. */
export interface WorkerRegistry {
  /**
   * Registers (or re-registers) an engine process: its row is live (`stoppedAt` cleared) with
   * `heartbeatAt = now`. Rows of workers stopped before `forgetStoppedBefore` are deleted.
   */
  registerWorker(
    worker: WorkerRegistration,
    now: number,
    forgetStoppedBefore: number,
  ): Promise<void>;
  /**
   * Records that worker `id` is alive at `now` (`heartbeatAt = now`). False, writing nothing,
   * when it is not registered or was marked stopped (found dead by another process): the caller
   * registers again. Need not be durable.
   */
  heartbeatWorker(id: WorkerId, now: number): Promise<boolean>;
  /** The workers not marked stopped, ordered by id. */
  listWorkers(): Promise<WorkerRecord[]>;
  /**
   * Marks workers stopped and ends their claims at once, so that `claimDue` takes their calls
   * over now rather than when their leases expire: each running call a named worker holds whose
   * lease ends after `now`, and by `now + 2 * maxLeaseMs` (the longest lease the engines take,
   * ms: a bound on the search; a claim whose owner's clock ran further ahead ends with its
   * lease), gets `leaseExpiresAt = now`, and the worker's concurrency permits are dropped. A
   * worker is named with the `heartbeatAt` its judge saw: one that has beaten since (it was not
   * dead, only late) is left alone, so is one already stopped. A worker naming itself, with
   * `heartbeatAt` undefined (a graceful stop, or a fenced worker before it registers again), is
   * stopped unconditionally, and its claims are ended even when it was stopped already. Returns
   * the workers stopped by this call and how many claims were ended.
   */
  stopWorkers(
    workers: readonly { id: WorkerId; heartbeatAt?: number }[],
    now: number,
    maxLeaseMs: number,
  ): Promise<{ stopped: WorkerId[]; claimsEnded: number }>;
}
