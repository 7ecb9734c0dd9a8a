// Runs every measurement of the issue-2 benchmark against the peers and the no-queue ceilings,
// returning table rows. The CLI is run-peers.ts; bench/calls.ts adds Steadfast's rows beside them.
import { bareFetchLoop, bareUndiciLoop } from "../lib/bare-loop.ts";
import { measureDrain, measureEnqueue, measureLatency, type Peer } from "../lib/peer.ts";
import type { Row } from "../lib/stats.ts";
import type { Upstream } from "../lib/upstream.ts";
import { bullmq } from "./bullmq.ts";
import { graphileWorker, graphileWorkerBatched } from "./graphile-worker.ts";
import { pgBoss } from "./pg-boss.ts";

/**
 * The peers of issue 2, in the order they are run; graphile-worker twice, with its defaults and
 * with the opt-in batching of its performance guide (the faster of the two is the bar to beat).
 */
export const peers: readonly Peer[] = [bullmq, graphileWorker, graphileWorkerBatched, pgBoss];

/** Metric names shared with the Steadfast side so rows line up in one table. */
export const METRICS = {
  enqueueBatch: "enqueue, bulk API",
  enqueueOne: "enqueue, one at a time (64 in flight)",
  drain: "drain queued calls",
  p50: "latency p50 @ offered rate",
  p99: "latency p99 @ offered rate",
  acceptedP50: "latency p50 from accepted",
  acceptedP99: "latency p99 from accepted",
} as const;

/** Sizes of one benchmark run. */
export interface BenchSizes {
  /** Jobs per enqueue measurement (issue: 20,000). */
  enqueueTotal: number;
  /** Jobs queued before the drain (issue: 10,000). */
  drainTotal: number;
  /** Offered rate for the latency measurement, jobs/s (issue: 200). */
  latencyRatePerSecond: number;
  /** Duration of the latency measurement, seconds (issue: 10). */
  latencySeconds: number;
  /** Requests per bare-loop measurement. */
  bareTotal: number;
}

/** The sizes. */
export const FULL_SIZES: BenchSizes = {
  enqueueTotal: 20_000,
  drainTotal: 10_000,
  latencyRatePerSecond: 200,
  latencySeconds: 10,
  bareTotal: 20_000,
};

/** A smoke run's sizes (a few seconds per peer). */
export const QUICK_SIZES: BenchSizes = {
  enqueueTotal: 2_000,
  drainTotal: 1_000,
  latencyRatePerSecond: 200,
  latencySeconds: 2,
  bareTotal: 2_000,
};

/**
 * The no-queue ceilings on `upstream`: a bare undici `request()` loop with 64 in flight (the
 * issue's 80% reference for drain) and a bare global `fetch()` loop with 50 in flight (what the
 * peers' workers do per job). Rows use the drain metric so they sit beside the drain figures.
 */
export async function measureCeilings(upstream: Upstream, sizes: BenchSizes): Promise<Row[]> {
  await bareUndiciLoop(upstream.url, { total: Math.min(2_000, sizes.bareTotal) });
  const undici = await bareUndiciLoop(upstream.url, { total: sizes.bareTotal });
  const fetchRate = await bareFetchLoop(upstream.url, { total: sizes.bareTotal });
  return [
    row("bare undici request() x64", METRICS.drain, undici, "req/s", "no queue: the ceiling"),
    row("bare fetch() x50", METRICS.drain, fetchRate, "req/s", "no queue, global fetch"),
  ];
}

/** Every measurement for one peer, as rows (enqueue, drain, latency). */
export async function measurePeer(
  peer: Peer,
  upstream: Upstream,
  sizes: BenchSizes,
): Promise<Row[]> {
  // A first, smaller pass of each measurement is discarded: code paths compiled by the JIT,
  // connections and prepared statements are what a running service has, not a cold start.
  await measureEnqueue(peer, { total: warmUpSize(sizes.enqueueTotal) });
  const enqueue = await measureEnqueue(peer, { total: sizes.enqueueTotal });
  await measureDrain(peer, upstream, { total: warmUpSize(sizes.drainTotal) });
  const drain = await measureDrain(peer, upstream, { total: sizes.drainTotal });
  const latency = await measureLatency(peer, upstream, {
    ratePerSecond: sizes.latencyRatePerSecond,
    seconds: sizes.latencySeconds,
  });
  return [
    row(peer.name, METRICS.enqueueBatch, enqueue.batchPerSecond, "jobs/s"),
    row(peer.name, METRICS.enqueueOne, enqueue.oneByOnePerSecond, "jobs/s"),
    row(peer.name, METRICS.drain, drain, "calls/s"),
    row(peer.name, METRICS.p50, latency.fromEnqueue.p50Ms, "ms"),
    row(peer.name, METRICS.p99, latency.fromEnqueue.p99Ms, "ms"),
    row(peer.name, METRICS.acceptedP50, latency.fromAccepted.p50Ms, "ms"),
    row(peer.name, METRICS.acceptedP99, latency.fromAccepted.p99Ms, "ms"),
  ];
}

/** The size of a discarded warm-up pass: a fifth of the measured one, at least 200. */
function warmUpSize(total: number): number {
  return Math.max(200, Math.round(total / 5));
}

function row(name: string, metric: string, value: number, unit: string, note?: string): Row {
  return note === undefined ? { name, metric, value, unit } : { name, metric, value, unit, note };
}
