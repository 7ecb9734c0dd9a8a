// pg-boss (v10) on the local PostgreSQL, producer and worker in this process.
import PgBoss from "pg-boss";
import { randomUUID } from "node:crypto";
import { deliver, type BenchJob, type Peer, type PeerSession } from "../lib/peer.ts";
import { dropSchema, ensureDatabase, vacuumAnalyzeSchema } from "../lib/postgres.ts";

/** The database every pg-boss session makes its schema in. */
export const PG_BOSS_DATABASE = "bench_pgboss";
/** The queue every benchmark job goes to. */
export const PG_BOSS_QUEUE = "call";
/** pg-boss refuses anything below 0.5 s (its MIN_POLLING_INTERVAL_MS); the default is 2 s. */
const MIN_POLLING_INTERVAL_SECONDS = 0.5;

/** How the pg-boss worker is shaped: `workers` work() loops each fetching `batchSize` jobs. */
export interface PgBossWorkerShape {
  /** Number of `work()` calls (v10 has no localConcurrency; each call is one polling loop). */
  workers: number;
  /** Jobs each loop fetches per poll; the handler runs them all at once. */
  batchSize: number;
  /**
   * When a loop's batch comes back full, call `notifyWorker(id)` so it fetches again at once
   * instead of sleeping out the polling interval (a backlog is likely).
   */
  refetchWhenFull: boolean;
}

/**
 * pg-boss with the given worker shape; `workers * batchSize` is the number of jobs in flight at
 * most. Polling at the 0.5 s minimum; a fresh schema per session (created and migrated by
 * `start()`, then `VACUUM ANALYZE`d), dropped on close; `insert()` for batches.
 */
export function pgBossPeer(shape: PgBossWorkerShape, name = "pg-boss"): Peer {
  return {
    name,
    settings: `${shape.workers} work() loop(s) x batchSize ${shape.batchSize} (${shape.workers * shape.batchSize} in flight max)${shape.refetchWhenFull ? ", notifyWorker() on a full batch" : ""}, pollingIntervalSeconds 0.5 (minimum), pool max ${poolSize(shape)}; fresh schema, VACUUM ANALYZEd; insert() for batches`,
    open: (options) => openPgBoss(shape, options),
  };
}

/** The shape of `pgBoss`: one `work()` loop, batches of 50, `notifyWorker()` on a full batch. */
export const PG_BOSS_SHAPE: PgBossWorkerShape = {
  workers: 1,
  batchSize: 50,
  refetchWhenFull: true,
};

/**
 * pg-boss as a competent user runs it for this work: one `work()` loop with `batchSize: 50`
 * handled concurrently (v10's way to run 50 jobs at once) and polling at the 0.5 s minimum. The
 * loop sleeps out the rest of the polling interval even after a full batch, which caps it at
 * 50 / 0.5 s = 100 jobs/s (measured: 101/s draining); calling the documented
 * `notifyWorker(id)` when a batch comes back full skips that sleep while a backlog lasts. v10 has
 * no LISTEN/NOTIFY wake-up, so a job enqueued into an idle queue waits for the next poll.
 */
export const pgBoss: Peer = pgBossPeer(PG_BOSS_SHAPE);

/**
 * Starts `shape.workers` `work()` loops on `boss` polling at the 0.5 s minimum, each delivering
 * its batch to `upstreamUrl` concurrently. Resolves once every loop is registered.
 */
export async function workPgBoss(
  boss: PgBoss,
  shape: PgBossWorkerShape,
  upstreamUrl: string,
): Promise<void> {
  const options = {
    batchSize: shape.batchSize,
    pollingIntervalSeconds: MIN_POLLING_INTERVAL_SECONDS,
  };
  for (let index = 0; index < shape.workers; index++) {
    // work() resolves to the loop's id before its first fetch can return any job.
    const loop: { id?: string } = {};
    loop.id = await boss.work<BenchJob>(PG_BOSS_QUEUE, options, async (jobs) => {
      if (shape.refetchWhenFull && loop.id && jobs.length === shape.batchSize) {
        boss.notifyWorker(loop.id);
      }
      await Promise.all(jobs.map((job) => deliver(upstreamUrl, job.data)));
    });
  }
}

/** The pool size a pg-boss instance with `shape` gets: 10 (pg's default) or one per loop + 2. */
export function poolSize(shape: PgBossWorkerShape): number {
  // Each loop holds at most one connection at a time (fetch, then complete); 10 is pg's default.
  return Math.max(10, shape.workers + 2);
}

async function openPgBoss(
  shape: PgBossWorkerShape,
  { upstreamUrl }: { upstreamUrl: string },
): Promise<PeerSession> {
  const connectionString = await ensureDatabase(PG_BOSS_DATABASE);
  const schema = `pgboss_${randomUUID().slice(0, 8)}`;
  const boss = new PgBoss({ connectionString, schema, max: poolSize(shape) });
  boss.on("error", (error) => console.error("pg-boss error:", error));
  await boss.start();
  await boss.createQueue(PG_BOSS_QUEUE);
  await vacuumAnalyzeSchema(connectionString, schema);
  return {
    addBatch: async (jobs) => {
      await boss.insert(jobs.map((data) => ({ name: PG_BOSS_QUEUE, data })));
    },
    add: async (job) => {
      await boss.send(PG_BOSS_QUEUE, job);
    },
    startWorker: () => workPgBoss(boss, shape, upstreamUrl),
    close: async () => {
      await boss.stop({ graceful: true, wait: true, timeout: 10_000 });
      await dropSchema(connectionString, schema);
    },
  };
}
