// One pg-boss worker process for bench/drain-postgres.ts: connects to the session's schema as a
// worker-only instance (no maintenance, no schedules, no migrations: the producer does those) and
// runs the benchmark's work() loops on the parent's `go`. Settings come in BENCH_PG_BOSS_WORKER
// (JSON of `PgBossWorkerConfig`).
import PgBoss from "pg-boss";
import { exitWith, serveGatedWorker } from "../lib/gated-worker.ts";
import { workPgBoss, type PgBossWorkerShape } from "./pg-boss.ts";

/** What the parent passes to this child. */
export interface PgBossWorkerConfig {
  connectionString: string;
  schema: string;
  upstreamUrl: string;
  shape: PgBossWorkerShape;
  /** pg pool size of this process. */
  max: number;
}

try {
  const config = JSON.parse(process.env.BENCH_PG_BOSS_WORKER ?? "") as PgBossWorkerConfig;
  const boss = new PgBoss({
    connectionString: config.connectionString,
    schema: config.schema,
    max: config.max,
    supervise: false,
    schedule: false,
    migrate: false,
  });
  boss.on("error", (error) => console.error("pg-boss error:", error));
  await boss.start();
  serveGatedWorker({
    start: () => workPgBoss(boss, config.shape, config.upstreamUrl),
    stop: () => boss.stop({ graceful: true, wait: true, timeout: 10_000 }),
  });
} catch (error) {
  exitWith(error);
}
