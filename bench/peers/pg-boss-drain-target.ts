// pg-boss as a DrainTarget (bench/lib/process-drain.ts): jobs inserted by a producer instance into
// a fresh schema, worked by pg-boss instances in separate processes.
import PgBoss from "pg-boss";
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import type { DrainTarget } from "../lib/process-drain.ts";
import { dropSchema, ensureDatabase, vacuumAnalyzeSchema } from "../lib/postgres.ts";
import type { PgBossWorkerConfig } from "./pg-boss-worker-child.ts";
import {
  PG_BOSS_DATABASE,
  PG_BOSS_QUEUE,
  PG_BOSS_SHAPE,
  poolSize,
  type PgBossWorkerShape,
} from "./pg-boss.ts";

/**
 * pg-boss (v10) with the issue-2 benchmark's competent worker shape in every process (one `work()`
 * loop, `batchSize: 50` handled concurrently, `notifyWorker()` on a full batch, polling at the
 * 0.5 s minimum). The producer instance creates and migrates the schema, creates the queue, runs
 * pg-boss's maintenance and inserts with `insert()`; worker instances run with `supervise`,
 * `schedule` and `migrate` off, as a deployment with a separate producer would.
 */
export function pgBossDrainTarget(
  shape: PgBossWorkerShape = PG_BOSS_SHAPE,
  name = "pg-boss",
): DrainTarget {
  return {
    name,
    settings: `per process: ${shape.workers} work() loop x batchSize ${shape.batchSize} (${shape.workers * shape.batchSize} in flight)${shape.refetchWhenFull ? ", notifyWorker() on a full batch" : ""}, pollingIntervalSeconds 0.5 (minimum), pool ${poolSize(shape)}, supervise/schedule/migrate off (the producer's instance supervises); insert() for batches`,
    async open({ upstreamUrl, maxConnectionsPerProcess }) {
      const connectionString = await ensureDatabase(PG_BOSS_DATABASE);
      const schema = `pgboss_${randomUUID().slice(0, 8)}`;
      const producer = new PgBoss({ connectionString, schema, max: 4 });
      producer.on("error", (error) => console.error("pg-boss error:", error));
      await producer.start();
      await producer.createQueue(PG_BOSS_QUEUE);
      const config: PgBossWorkerConfig = {
        connectionString,
        schema,
        upstreamUrl,
        shape,
        max: Math.min(poolSize(shape), maxConnectionsPerProcess),
      };
      return {
        database: PG_BOSS_DATABASE,
        async enqueue(jobs) {
          await producer.insert(jobs.map((data) => ({ name: PG_BOSS_QUEUE, data })));
        },
        vacuumAnalyze: () => vacuumAnalyzeSchema(connectionString, schema),
        worker: {
          modulePath: join(import.meta.dirname, "pg-boss-worker-child.ts"),
          env: { BENCH_PG_BOSS_WORKER: JSON.stringify(config) },
          gated: true,
        },
        async close() {
          await producer.stop({ graceful: true, wait: true, timeout: 10_000 });
          await dropSchema(connectionString, schema);
        },
      };
    },
  };
}
