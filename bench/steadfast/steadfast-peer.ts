// Steadfast as a benchmark "peer": the in-process API (createSteadfast) on a temp SQLite file,
// measured by exactly the code that measures BullMQ, graphile-worker and pg-boss.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createSteadfast } from "../../src/steadfast.ts";
import type { BenchJob, Peer, PeerSession } from "../lib/peer.ts";
import { BENCH_ID_HEADER } from "../lib/upstream.ts";

/**
 * Steadfast with `concurrency` attempts in flight (its default is 256). `shareOfConcurrency` is
 * the share of the engine's slots one destination may use (default 0.5, so a hanging destination
 * cannot take them all); the benchmark's single destination is the case it costs most.
 */
export function steadfastPeer(
  concurrency: number,
  name = `steadfast c=${concurrency}`,
  shareOfConcurrency?: number,
): Peer {
  return {
    name,
    settings: `createSteadfast on SQLite (WAL, synchronous=FULL via async fsync, group commit), engine concurrency ${concurrency}, one destination may use ${shareOfConcurrency ?? 0.5} of it${shareOfConcurrency === undefined ? " (default)" : ""}; bulk = 1,000 concurrent fetch() calls sharing commits`,
    async open({ upstreamUrl }): Promise<PeerSession> {
      const dir = mkdtempSync(join(tmpdir(), "steadfast-bench-"));
      const sf = await createSteadfast({
        db: `sqlite:${join(dir, "steadfast.db")}`,
        allowPrivateNetworks: true,
        startEngine: false,
        concurrency,
        ...(shareOfConcurrency === undefined ? {} : { destinations: { shareOfConcurrency } }),
      });
      const submit = (job: BenchJob) =>
        sf.fetch({ url: upstreamUrl, headers: { [BENCH_ID_HEADER]: job.id } });
      return {
        async addBatch(jobs) {
          await Promise.all(jobs.map(submit));
        },
        async add(job) {
          await submit(job);
        },
        startWorker() {
          sf.engine.start();
          return Promise.resolve();
        },
        async close() {
          await sf.close();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  };
}
