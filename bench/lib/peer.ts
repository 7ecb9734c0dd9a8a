// The contract each peer queue implements for the benchmark, and the three measurements run
// against any of them: enqueue throughput, drain throughput and accept-to-delivered latency.
import { randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";
import { epochMs, waitUntil } from "./clock.ts";
import { chunk, runClosedLoop, runOpenLoop } from "./load.ts";
import { summarizeLatency, type LatencySummary } from "./stats.ts";
import { BENCH_ID_HEADER, type Upstream } from "./upstream.ts";

/** The payload of every benchmark job: its id and when it was handed to the queue (epoch ms). */
export interface BenchJob {
  id: string;
  enqueuedAt: number;
}

/** One fresh, isolated instance of a peer queue (own queue name, schema or database). */
export interface PeerSession {
  /** Enqueues jobs through the peer's bulk API in one call. */
  addBatch(jobs: readonly BenchJob[]): Promise<void>;
  /** Enqueues one job through the peer's single-job API. */
  add(job: BenchJob): Promise<void>;
  /** Starts the peer's worker (concurrency 50) calling `deliver()` for every job. */
  startWorker(): Promise<void>;
  /** Stops the worker, closes every connection and drops the keys or schema it created. */
  close(): Promise<void>;
}

/** A peer queue under test. */
export interface Peer {
  /** Short name printed in tables, e.g. `bullmq`. */
  name: string;
  /** The settings used, one line, printed with the figures. */
  settings: string;
  /** Opens a fresh session whose worker will deliver to `upstreamUrl`. */
  open(options: { upstreamUrl: string }): Promise<PeerSession>;
}

/**
 * What a peer's worker does per job: a global `fetch()` GET to the upstream carrying the job id
 * in `x-bench-id`, body read, non-200 thrown (so the peer records a failure).
 */
export async function deliver(upstreamUrl: string, job: BenchJob): Promise<void> {
  const response = await fetch(upstreamUrl, { headers: { [BENCH_ID_HEADER]: job.id } });
  await response.text();
  if (response.status !== 200)
    throw new Error(`upstream answered ${response.status} for ${job.id}`);
}

/** Where enqueue-only sessions point their (never started) worker: the discard port. */
const NO_UPSTREAM = "http://127.0.0.1:9/";

/** Makes `total` jobs with ids unique to this measurement; `enqueuedAt` is set when enqueued. */
export function makeJobs(total: number): BenchJob[] {
  const tag = randomUUID().slice(0, 8);
  return Array.from({ length: total }, (_, index) => ({ id: `${tag}-${index}`, enqueuedAt: 0 }));
}

/** Options of `measureEnqueue`. */
export interface EnqueueOptions {
  /** Jobs to enqueue (default 20,000). */
  total?: number;
  /** Concurrent single-job enqueues (default 64). */
  inFlight?: number;
  /** Jobs per bulk call, sent one call after another (default 1,000). */
  batchSize?: number;
}

/** Enqueue throughput, jobs per second, through the bulk API and one job at a time. */
export interface EnqueueResult {
  batchPerSecond: number;
  oneByOnePerSecond: number;
}

/**
 * Enqueue throughput in this process with no worker running: `total` jobs through the bulk API in
 * sequential calls of `batchSize`, then (in a fresh session) `total` single-job enqueues with
 * `inFlight` awaited at once. Session setup is not timed.
 */
export async function measureEnqueue(
  peer: Peer,
  options: EnqueueOptions = {},
): Promise<EnqueueResult> {
  const total = options.total ?? 20_000;
  const batchPerSecond = await withSession(peer, NO_UPSTREAM, async (session) => {
    const batches = chunk(stamp(makeJobs(total)), options.batchSize ?? 1_000);
    const started = performance.now();
    for (const batch of batches) await session.addBatch(batch);
    return total / ((performance.now() - started) / 1000);
  });
  const oneByOnePerSecond = await withSession(peer, NO_UPSTREAM, async (session) => {
    const jobs = makeJobs(total);
    return await runClosedLoop(total, options.inFlight ?? 64, (index) =>
      session.add({ id: jobs[index]!.id, enqueuedAt: epochMs() }),
    );
  });
  return { batchPerSecond, oneByOnePerSecond };
}

/** Options of `measureDrain`. */
export interface DrainOptions {
  /** Jobs queued before the worker starts (default 10,000). */
  total?: number;
  /** Jobs per bulk call while filling the queue (default 1,000; not timed). */
  batchSize?: number;
}

/**
 * Drain throughput: fills the queue with `total` jobs (not timed), then starts the worker and
 * times until the upstream has seen all `total` job ids (a duplicate delivery does not count).
 * Resolves to deliveries per second.
 */
export async function measureDrain(
  peer: Peer,
  upstream: Upstream,
  options: DrainOptions = {},
): Promise<number> {
  const total = options.total ?? 10_000;
  return await withSession(peer, upstream.url, async (session) => {
    const jobs = stamp(makeJobs(total));
    for (const batch of chunk(jobs, options.batchSize ?? 1_000)) {
      await session.addBatch(batch);
    }
    upstream.reset();
    const started = performance.now();
    await session.startWorker();
    await waitForArrivals(upstream, jobs, peer.name);
    return total / ((performance.now() - started) / 1000);
  });
}

/** Options of `measureLatency`. */
export interface LatencyOptions {
  /** Offered rate, jobs per second (default 200). */
  ratePerSecond?: number;
  /** Measured duration in seconds (default 10), after a 1-second warm-up at the same rate. */
  seconds?: number;
}

/** Accept-to-delivered latency, measured two ways (milliseconds). */
export interface LatencyResult {
  /** From just before the enqueue call (the timestamp the job carries) to upstream arrival. */
  fromEnqueue: LatencySummary;
  /** From the enqueue call's resolution (the peer has committed) to upstream arrival. */
  fromAccepted: LatencySummary;
}

/**
 * Latency at a steady offered rate with the worker running: one job every `1000 / rate` ms, each
 * carrying its enqueue timestamp; the upstream records arrival per job id. A 1-second warm-up at the
 * same rate runs first and is discarded (connections, JIT, prepared statements).
 */
export async function measureLatency(
  peer: Peer,
  upstream: Upstream,
  options: LatencyOptions = {},
): Promise<LatencyResult> {
  const rate = options.ratePerSecond ?? 200;
  return await withSession(peer, upstream.url, async (session) => {
    await session.startWorker();
    await offerAtRate(peer.name, session, upstream, rate, rate);
    const total = Math.round(rate * (options.seconds ?? 10));
    return await offerAtRate(peer.name, session, upstream, rate, total);
  });
}

async function offerAtRate(
  peerName: string,
  session: PeerSession,
  upstream: Upstream,
  rate: number,
  total: number,
): Promise<LatencyResult> {
  upstream.reset();
  const jobs = makeJobs(total);
  const acceptedAt = new Map<string, number>();
  await runOpenLoop(total, rate, async (index) => {
    const job = { id: jobs[index]!.id, enqueuedAt: epochMs() };
    jobs[index] = job;
    await session.add(job);
    acceptedAt.set(job.id, epochMs());
  });
  await waitForArrivals(upstream, jobs, peerName);
  const arrival = (job: BenchJob): number => upstream.arrivals.get(job.id)!;
  return {
    fromEnqueue: summarizeLatency(jobs.map((job) => arrival(job) - job.enqueuedAt)),
    fromAccepted: summarizeLatency(jobs.map((job) => arrival(job) - acceptedAt.get(job.id)!)),
  };
}

/**
 * Resolves once the upstream has seen every job of `jobs`. Counts this measurement's own ids rather
 * than `arrivals.size`, so a late arrival from an earlier measurement cannot end the wait early.
 */
async function waitForArrivals(
  upstream: Upstream,
  jobs: readonly BenchJob[],
  peerName: string,
): Promise<void> {
  const arrived = (): number => {
    let count = 0;
    for (const job of jobs) if (upstream.arrivals.has(job.id)) count++;
    return count;
  };
  // The size check is O(1); the full count runs only once it could pass. Polling with the full
  // count (every 10 ms, a lookup per job) took a few percent of the CPU of the process it measures.
  await waitUntil(
    () => upstream.arrivals.size >= jobs.length && arrived() === jobs.length,
    () => `${peerName} delivered ${arrived()} of ${jobs.length}`,
  );
}

function stamp(jobs: BenchJob[]): BenchJob[] {
  const now = epochMs();
  return jobs.map((job) => ({ ...job, enqueuedAt: now }));
}

async function withSession<T>(
  peer: Peer,
  upstreamUrl: string,
  body: (session: PeerSession) => Promise<T>,
): Promise<T> {
  const session = await peer.open({ upstreamUrl });
  try {
    return await body(session);
  } finally {
    await session.close();
  }
}
