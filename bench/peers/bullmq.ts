// BullMQ on the local Redis, producer and worker in this process (BullMQ's usual deployment puts
// them in separate processes; one process keeps the comparison with an in-process engine fair and
// leaves the second core to Redis).
import { Queue, Worker } from "bullmq";
import { Redis } from "ioredis";
import { randomUUID } from "node:crypto";
import { deliver, type BenchJob, type Peer, type PeerSession } from "../lib/peer.ts";
import { REDIS_URL } from "../lib/redis.ts";

const CONCURRENCY = 50;

/**
 * BullMQ as a competent user runs it: one ioredis connection per Queue and per Worker with
 * `maxRetriesPerRequest: null`, `removeOnComplete`/`removeOnFail` so Redis does not keep every
 * finished job, a Worker with concurrency 50, and a fresh queue name per session that is
 * obliterated on close.
 */
export const bullmq: Peer = {
  name: "bullmq",
  settings:
    "Worker concurrency 50; removeOnComplete/removeOnFail true; own ioredis connection per Queue and Worker (maxRetriesPerRequest null); addBulk for batches",
  open: openBullmq,
};

async function openBullmq({ upstreamUrl }: { upstreamUrl: string }): Promise<PeerSession> {
  const name = `bench-${randomUUID()}`;
  const connect = (): Redis => new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const queueConnection = connect();
  const queue = new Queue<BenchJob>(name, {
    connection: queueConnection,
    defaultJobOptions: { removeOnComplete: true, removeOnFail: true },
  });
  await queue.waitUntilReady();
  let worker: Worker<BenchJob> | undefined;
  let workerConnection: Redis | undefined;
  return {
    addBatch: async (jobs) => {
      await queue.addBulk(jobs.map((data) => ({ name: "call", data })));
    },
    add: async (job) => {
      await queue.add("call", job);
    },
    startWorker: async () => {
      workerConnection = connect();
      worker = new Worker<BenchJob>(name, (job) => deliver(upstreamUrl, job.data), {
        connection: workerConnection,
        concurrency: CONCURRENCY,
      });
      worker.on("failed", (job, error) => console.error(`bullmq job ${job?.id} failed:`, error));
      await worker.waitUntilReady();
    },
    close: async () => {
      await worker?.close();
      await queue.obliterate({ force: true });
      await queue.close();
      queueConnection.disconnect();
      workerConnection?.disconnect();
    },
  };
}
