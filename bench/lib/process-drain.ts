// Drain throughput with the workers in N separate processes (issue 4): the contract each system
// implements, a timed drain of a queue filled beforehand, and a churn that pushes many calls
// through the tables first. Shared by Steadfast, pg-boss and graphile-worker.
import { performance } from "node:perf_hooks";
import { epochMs, waitUntil } from "./clock.ts";
import {
  childPidsMatching,
  cpuSince,
  cpuSnapshot,
  type CpuUsage,
  type PidLister,
} from "./cpu-usage.ts";
import { chunk } from "./load.ts";
import { makeJobs, type BenchJob } from "./peer.ts";
import type { PostgresBackends } from "./postgres-backends.ts";
import type { Upstream } from "./upstream.ts";
import { forkWorkers, type WorkerProcessSpec } from "./worker-processes.ts";

/** Jobs per enqueue call while filling a queue (not timed). */
const ENQUEUE_BATCH = 1_000;
/** Share of a drain's deliveries left out of its steady rate: the workers' warm-up. */
const WARM_UP_SHARE = 0.2;

/** The upstream of bench/lib/upstream-process.ts: `resetAsync` waits until both sides cleared. */
export type ProcessUpstream = Upstream & { resetAsync(): Promise<void> };

/** Options of `DrainTarget.open`. */
export interface DrainOpenOptions {
  upstreamUrl: string;
  /** Worker processes that will run at once on this session's tables. */
  processes: number;
  /** PostgreSQL connections one worker process may hold, to stay under `max_connections`. */
  maxConnectionsPerProcess: number;
}

/** A system whose workers run in separate processes against one PostgreSQL schema. */
export interface DrainTarget {
  /** Short name printed in tables, e.g. `pg-boss`. */
  name: string;
  /** The settings used, one line, printed with the figures. */
  settings: string;
  /** Creates a fresh schema (migrated, empty) and the producer that fills it. */
  open(options: DrainOpenOptions): Promise<DrainSession>;
}

/** One fresh schema of a `DrainTarget`. */
export interface DrainSession {
  /** The database holding the session's schema (its backends' CPU is the `postgres` figure). */
  database: string;
  /** Enqueues jobs through the system's bulk API, committed before this resolves. */
  enqueue(jobs: readonly BenchJob[]): Promise<void>;
  /** `VACUUM ANALYZE` on every table of the schema. */
  vacuumAnalyze(): Promise<void>;
  /** How to start one worker process on this schema. */
  worker: WorkerProcessSpec;
  /** Closes the producer and drops the schema. */
  close(): Promise<void>;
}

/** One timed drain. */
export interface DrainResult {
  /** Calls drained. */
  calls: number;
  /** Calls over the time from `go` to the last delivery's arrival at the upstream. */
  callsPerSecond: number;
  /**
   * The rate once warm (JIT, pools, first claims): the last 80% of deliveries over the time
   * from the arrival that ends the first 20% to the last arrival. The queue still holds most
   * of its calls when that window opens.
   */
  steadyCallsPerSecond: number;
  /** From `go` to the last delivery's arrival at the upstream, s. */
  seconds: number;
  /** Cores used from `go` until the last delivery was seen: workers, postgres, upstream, producer. */
  cpu: CpuUsage;
}

/** Options of `measureProcessDrain`. */
export interface ProcessDrainOptions {
  /** Calls queued before the workers start. */
  total: number;
  processes: number;
  /** `VACUUM ANALYZE` the tables once they are full, before the workers start. */
  vacuum: boolean;
  /** Printed in errors and worker output. */
  label: string;
  /** Finds the PostgreSQL processes whose CPU counts as `postgres`. */
  backends: PostgresBackends;
}

/**
 * Fills the queue with `total` calls (not timed), optionally `VACUUM ANALYZE`s it, forks the
 * workers and waits until each has booted and connected, then sets them all going and times until
 * the upstream has seen every call (a duplicate delivery does not count twice). The time ends at
 * the last arrival, stamped by the upstream, so the polling here does not add to it.
 */
export async function measureProcessDrain(
  session: DrainSession,
  upstream: ProcessUpstream,
  options: ProcessDrainOptions,
): Promise<DrainResult> {
  const jobs = stamped(makeJobs(options.total));
  for (const batch of chunk(jobs, ENQUEUE_BATCH)) await session.enqueue(batch);
  if (options.vacuum) await session.vacuumAnalyze();
  await upstream.resetAsync();
  const workers = await forkWorkers(session.worker, options.processes, options.label);
  try {
    const start = await cpuSnapshot(
      cpuGroups(workers.pids, () => options.backends.pidsFor(session.database)),
    );
    const startedAt = workers.go();
    const arrivals = await waitForDeliveries(upstream, jobs, options.label);
    const cpu = await cpuSince(start);
    const last = arrivals.at(-1)!;
    const seconds = (last - startedAt) / 1000;
    const warm = Math.floor(arrivals.length * WARM_UP_SHARE);
    const steadySeconds = (last - (warm > 0 ? arrivals[warm - 1]! : startedAt)) / 1000;
    return {
      calls: options.total,
      callsPerSecond: options.total / seconds,
      steadyCallsPerSecond: (options.total - warm) / steadySeconds,
      seconds,
      cpu,
    };
  } finally {
    await workers.stop();
  }
}

/** Options of `churnThrough`. */
export interface ChurnOptions {
  /** Calls pushed through the tables. */
  total: number;
  /** Most calls queued and not yet delivered; the producer waits above it. */
  backlog: number;
  label: string;
}

/**
 * Pushes `total` calls through the session's tables with one worker process running and the
 * producer enqueuing in batches, never more than `backlog` ahead of the deliveries: what a day of
 * traffic leaves behind (dead rows, finished rows, stale statistics). Nothing is vacuumed here.
 * Resolves to the calls per second delivered over the churn, producer running alongside.
 */
export async function churnThrough(
  session: DrainSession,
  upstream: ProcessUpstream,
  options: ChurnOptions,
): Promise<number> {
  await upstream.resetAsync();
  const workers = await forkWorkers(session.worker, 1, options.label);
  try {
    const started = performance.now();
    workers.go();
    const all: BenchJob[] = [];
    while (all.length < options.total) {
      const batch = stamped(makeJobs(Math.min(ENQUEUE_BATCH, options.total - all.length)));
      await session.enqueue(batch);
      all.push(...batch);
      while (all.length - upstream.arrivals.size > options.backlog) await sleep(20);
    }
    await waitForDeliveries(upstream, all, options.label);
    return options.total / ((performance.now() - started) / 1000);
  } finally {
    await workers.stop();
  }
}

/** The process groups whose CPU a drain reports. */
function cpuGroups(workerPids: readonly number[], postgres: PidLister): Map<string, PidLister> {
  const upstream = childPidsMatching("upstream-child");
  return new Map<string, PidLister>([
    ["workers", () => workerPids],
    ["postgres", postgres],
    ["upstream", () => upstream],
    ["producer", () => [process.pid]],
  ]);
}

/**
 * Resolves to the arrival times of `jobs` (this process's epoch ms, ascending) once the upstream
 * has seen every one of them. Checks the count first (cheap) and the ids only once it is reached;
 * the timeout grows with the number of jobs (at least 2 minutes, 2 ms per job).
 */
async function waitForDeliveries(
  upstream: Upstream,
  jobs: readonly BenchJob[],
  label: string,
): Promise<number[]> {
  const allArrived = (): boolean =>
    upstream.arrivals.size >= jobs.length && jobs.every((job) => upstream.arrivals.has(job.id));
  await waitUntil(
    allArrived,
    () => `${label} delivered ${upstream.arrivals.size} of ${jobs.length}`,
    { intervalMs: 20, timeoutMs: Math.max(120_000, jobs.length * 2) },
  );
  return jobs.map((job) => upstream.arrivals.get(job.id)!).sort((a, b) => a - b);
}

function stamped(jobs: BenchJob[]): BenchJob[] {
  const now = epochMs();
  return jobs.map((job) => ({ ...job, enqueuedAt: now }));
}

async function sleep(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}
