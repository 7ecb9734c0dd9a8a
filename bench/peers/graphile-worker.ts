// graphile-worker on the local PostgreSQL, producer and worker in this process.
import {
  Logger,
  makeWorkerUtils,
  run,
  runMigrations,
  type Runner,
  type RunnerOptions,
  type WorkerUtils,
} from "graphile-worker";
import { randomUUID } from "node:crypto";
import { deliver, type BenchJob, type Peer, type PeerSession } from "../lib/peer.ts";
import { dropSchema, ensureDatabase, vacuumAnalyzeSchema } from "../lib/postgres.ts";

/** The database every graphile-worker session makes its schema in. */
export const GRAPHILE_DATABASE = "bench_graphile";
/** Jobs one graphile-worker runner runs at once. */
export const GRAPHILE_CONCURRENCY = 50;
/** The task every benchmark job names. */
export const GRAPHILE_TASK = "call";
/** A logger that prints nothing (graphile-worker logs every job at info). */
export const quietLogger = new Logger(() => () => {});

/** Opt-in batching of graphile-worker's performance guide (off by default in the library). */
export interface GraphileBatching {
  /** `localQueue.size`: jobs the pool locks and fetches per query (the guide: concurrency + 1). */
  localQueueSize: number;
  /** `completeJobBatchDelay` / `failJobBatchDelay` in ms: completions gathered into one query. */
  completeJobBatchDelayMs: number;
}

/**
 * graphile-worker with `concurrency: 50` and `maxPoolSize: 52` (its docs: `concurrentJobs + 2`),
 * default `pollInterval` with LISTEN/NOTIFY waking the worker (on by default), `addJobs` for
 * batches, and, when given, the opt-in `batching` of its performance guide. Each session gets a
 * fresh schema in the `bench_graphile` database, migrated and `VACUUM ANALYZE`d before use and
 * dropped on close.
 */
export function graphileWorkerPeer(batching?: GraphileBatching, name = "graphile-worker"): Peer {
  const batched = batching
    ? `localQueue.size ${batching.localQueueSize}, complete/failJobBatchDelay ${batching.completeJobBatchDelayMs} ms`
    : "no localQueue batching (the default)";
  return {
    name,
    settings: `concurrency 50, maxPoolSize 52, default pollInterval + LISTEN/NOTIFY, ${batched}; fresh schema, migrated and VACUUM ANALYZEd; addJobs for batches`,
    open: (options) => openGraphileWorker(batching, options),
  };
}

/** graphile-worker with the library's defaults beyond concurrency and pool size. */
export const graphileWorker: Peer = graphileWorkerPeer();

/**
 * graphile-worker with the batching its performance guide recommends for throughput:
 * `localQueue.size` 51 (concurrency + 1) and completions batched (`completeJobBatchDelay: 0`).
 * Drains two to three times faster than the default here, at some cost in tail latency.
 */
export const graphileWorkerBatched: Peer = graphileWorkerPeer(
  { localQueueSize: 51, completeJobBatchDelayMs: 0 },
  "graphile-worker batched",
);

/**
 * The `run()` options of a benchmark runner: concurrency 50, signals left to the caller, the
 * opt-in `batching` when given, and the one task delivering each job to `upstreamUrl`. The caller
 * adds the connection (`connectionString` or `pgPool`, `schema`) and `maxPoolSize`.
 */
export function graphileRunOptions(
  batching: GraphileBatching | undefined,
  upstreamUrl: string,
): RunnerOptions {
  return {
    concurrency: GRAPHILE_CONCURRENCY,
    noHandleSignals: true,
    logger: quietLogger,
    ...(batching && {
      preset: {
        worker: {
          localQueue: { size: batching.localQueueSize },
          completeJobBatchDelay: batching.completeJobBatchDelayMs,
          failJobBatchDelay: batching.completeJobBatchDelayMs,
        },
      },
    }),
    taskList: { [GRAPHILE_TASK]: (payload) => deliver(upstreamUrl, payload as BenchJob) },
  };
}

async function openGraphileWorker(
  batching: GraphileBatching | undefined,
  { upstreamUrl }: { upstreamUrl: string },
): Promise<PeerSession> {
  const connectionString = await ensureDatabase(GRAPHILE_DATABASE);
  const schema = `gw_${randomUUID().slice(0, 8)}`;
  const shared = { connectionString, schema, logger: quietLogger };
  await runMigrations(shared);
  await vacuumAnalyzeSchema(connectionString, schema);
  const utils: WorkerUtils = await makeWorkerUtils(shared);
  let runner: Runner | undefined;
  return {
    addBatch: async (jobs) => {
      await utils.addJobs(jobs.map((payload) => ({ identifier: GRAPHILE_TASK, payload })));
    },
    add: async (job) => {
      await utils.addJob(GRAPHILE_TASK, job);
    },
    startWorker: async () => {
      runner = await run({
        ...shared,
        ...graphileRunOptions(batching, upstreamUrl),
        maxPoolSize: GRAPHILE_CONCURRENCY + 2,
      });
    },
    close: async () => {
      await runner?.stop();
      await utils.release();
      await dropSchema(connectionString, schema);
    },
  };
}
