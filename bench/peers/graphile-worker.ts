// graphile-worker on the local PostgreSQL, producer and worker in this process.
import {
  Logger,
  makeWorkerUtils,
  run,
  runMigrations,
  type Runner,
  type WorkerUtils,
} from "graphile-worker";
import { randomUUID } from "node:crypto";
import { deliver, type BenchJob, type Peer, type PeerSession } from "../lib/peer.ts";
import { dropSchema, ensureDatabase, vacuumAnalyzeSchema } from "../lib/postgres.ts";

const DATABASE = "bench_graphile";
const CONCURRENCY = 50;
const TASK = "call";
const quiet = new Logger(() => () => {});

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

async function openGraphileWorker(
  batching: GraphileBatching | undefined,
  { upstreamUrl }: { upstreamUrl: string },
): Promise<PeerSession> {
  const connectionString = await ensureDatabase(DATABASE);
  const schema = `gw_${randomUUID().slice(0, 8)}`;
  const shared = { connectionString, schema, logger: quiet };
  await runMigrations(shared);
  await vacuumAnalyzeSchema(connectionString, schema);
  const utils: WorkerUtils = await makeWorkerUtils(shared);
  let runner: Runner | undefined;
  return {
    addBatch: async (jobs) => {
      await utils.addJobs(jobs.map((payload) => ({ identifier: TASK, payload })));
    },
    add: async (job) => {
      await utils.addJob(TASK, job);
    },
    startWorker: async () => {
      runner = await run({
        ...shared,
        concurrency: CONCURRENCY,
        maxPoolSize: CONCURRENCY + 2,
        noHandleSignals: true,
        ...(batching && {
          preset: {
            worker: {
              localQueue: { size: batching.localQueueSize },
              completeJobBatchDelay: batching.completeJobBatchDelayMs,
              failJobBatchDelay: batching.completeJobBatchDelayMs,
            },
          },
        }),
        taskList: { [TASK]: (payload) => deliver(upstreamUrl, payload as BenchJob) },
      });
    },
    close: async () => {
      await runner?.stop();
      await utils.release();
      await dropSchema(connectionString, schema);
    },
  };
}
