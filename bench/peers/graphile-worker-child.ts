// One graphile-worker process for bench/drain-postgres.ts: opens its pool (connections warmed)
// before reporting ready, and runs the benchmark's runner on the parent's `go`. Settings come in
// BENCH_GRAPHILE_WORKER (JSON of `GraphileWorkerConfig`).
import { run, type Runner } from "graphile-worker";
import pg from "pg";
import { exitWith, serveGatedWorker } from "../lib/gated-worker.ts";
import { graphileRunOptions, type GraphileBatching } from "./graphile-worker.ts";

/** What the parent passes to this child. */
export interface GraphileWorkerConfig {
  connectionString: string;
  schema: string;
  upstreamUrl: string;
  batching?: GraphileBatching;
  /** Pool size of this process (graphile-worker's `maxPoolSize`). */
  maxPoolSize: number;
}

/** Connections opened before `go`, so the runner does not pay for them inside the timing. */
const WARM_CONNECTIONS = 4;

try {
  const config = JSON.parse(process.env.BENCH_GRAPHILE_WORKER ?? "") as GraphileWorkerConfig;
  const pgPool = new pg.Pool({
    connectionString: config.connectionString,
    max: config.maxPoolSize,
  });
  // A pool passed to graphile-worker must handle errors of idle clients itself (its docs).
  const onError = (error: Error): void => console.error("graphile-worker pool error:", error);
  pgPool.on("error", onError);
  pgPool.on("connect", (client) => client.on("error", onError));
  const warm = await Promise.all(
    Array.from({ length: Math.min(WARM_CONNECTIONS, config.maxPoolSize) }, () => pgPool.connect()),
  );
  for (const client of warm) client.release();
  let runner: Runner | undefined;
  serveGatedWorker({
    async start() {
      runner = await run({
        ...graphileRunOptions(config.batching, config.upstreamUrl),
        pgPool,
        schema: config.schema,
        maxPoolSize: config.maxPoolSize,
      });
    },
    async stop() {
      await runner?.stop();
      await pgPool.end();
    },
  });
} catch (error) {
  exitWith(error);
}
