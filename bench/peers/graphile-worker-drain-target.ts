// graphile-worker as a DrainTarget (bench/lib/process-drain.ts): jobs added by a producer into a
// fresh schema, worked by graphile-worker runners in separate processes.
import { makeWorkerUtils, runMigrations } from "graphile-worker";
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import type { DrainTarget } from "../lib/process-drain.ts";
import { dropSchema, ensureDatabase, vacuumAnalyzeSchema } from "../lib/postgres.ts";
import type { GraphileWorkerConfig } from "./graphile-worker-child.ts";
import {
  GRAPHILE_CONCURRENCY,
  GRAPHILE_DATABASE,
  GRAPHILE_TASK,
  quietLogger,
  type GraphileBatching,
} from "./graphile-worker.ts";

/** The batching of graphile-worker's performance guide, as `graphileWorkerBatched` runs it. */
export const GUIDE_BATCHING: GraphileBatching = { localQueueSize: 51, completeJobBatchDelayMs: 0 };

/**
 * graphile-worker with, per process, `concurrency: 50`, LISTEN/NOTIFY on (the default) and the
 * performance guide's batching (`localQueue.size` 51, completions batched) unless `batching` is
 * `undefined`. Pool: `concurrency + 2` (its docs) capped so that every process fits under the
 * server's `max_connections`. The producer migrates the schema and adds jobs with `addJobs`.
 */
export function graphileWorkerDrainTarget(
  batching: GraphileBatching | undefined = GUIDE_BATCHING,
  name = "graphile-worker batched",
): DrainTarget {
  const batched = batching
    ? `localQueue.size ${batching.localQueueSize}, complete/failJobBatchDelay ${batching.completeJobBatchDelayMs} ms`
    : "no localQueue batching (the default)";
  return {
    name,
    settings: `per process: concurrency ${GRAPHILE_CONCURRENCY}, ${batched}, maxPoolSize ${GRAPHILE_CONCURRENCY + 2} (capped to fit max_connections), default pollInterval + LISTEN/NOTIFY; addJobs for batches`,
    async open({ upstreamUrl, maxConnectionsPerProcess }) {
      const connectionString = await ensureDatabase(GRAPHILE_DATABASE);
      const schema = `gw_${randomUUID().slice(0, 8)}`;
      const shared = { connectionString, schema, logger: quietLogger };
      await runMigrations(shared);
      const utils = await makeWorkerUtils({ ...shared, maxPoolSize: 4 });
      const config: GraphileWorkerConfig = {
        connectionString,
        schema,
        upstreamUrl,
        ...(batching && { batching }),
        maxPoolSize: Math.min(GRAPHILE_CONCURRENCY + 2, maxConnectionsPerProcess),
      };
      return {
        database: GRAPHILE_DATABASE,
        async enqueue(jobs) {
          await utils.addJobs(jobs.map((payload) => ({ identifier: GRAPHILE_TASK, payload })));
        },
        vacuumAnalyze: () => vacuumAnalyzeSchema(connectionString, schema),
        worker: {
          modulePath: join(import.meta.dirname, "graphile-worker-child.ts"),
          env: { BENCH_GRAPHILE_WORKER: JSON.stringify(config) },
          gated: true,
        },
        async close() {
          await utils.release();
          await dropSchema(connectionString, schema);
        },
      };
    },
  };
}
