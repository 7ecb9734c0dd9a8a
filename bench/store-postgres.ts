// Micro-benchmark of PostgresStore, one process: createCall throughput with 1,000 concurrent
// promises, then draining those calls with claim + commitAttempt cycles (each drained call is
// part of a claim and one commit, as the engine does it), with one and with several claim loops
// running at once.
// Prints figures only; never fails on time.
// Run: node bench/store-postgres.ts [calls] [runs]   (BENCH_PG_URL: server URL, no database)
import { performance } from "node:perf_hooks";
import type { CallSpec } from "../src/core/call.ts";
import { newCallId, tenantId, type WorkerId } from "../src/core/ids.ts";
import type { AttemptCommit, Claim, NewCall } from "../src/core/store.ts";
import { PostgresStore } from "../src/store/postgres/postgres-store.ts";
import { SeededRandom } from "../src/testing/seeded-random.ts";
import { dropSchema, ensureDatabase, PG_SERVER_URL } from "./lib/postgres.ts";

const TOTAL = Number(process.argv[2] ?? 100_000);
const RUNS = Number(process.argv[3] ?? 3);
const CONCURRENCY = 1_000;
const CLAIM_BATCH = 512;
const LOOP_COUNTS = [1, 4];
const POOL_SIZE = Number(process.env.BENCH_PG_POOL ?? 10);
const T0 = 1_700_000_000_000;
const tenant = tenantId("bench");

const spec: CallSpec = {
  request: {
    url: "https://api.example.com/v1/orders",
    method: "POST",
    headers: { "content-type": "application/json", authorization: "Bearer sk_test_123" },
    body: JSON.stringify({ orderId: 12345, items: [{ sku: "A-1", quantity: 2 }], note: "bench" }),
  },
  retry: { maxAttempts: 5, backoff: "exponential", initialDelayMs: 1_000, maxDelayMs: 60_000 },
  timeout: { connectMs: 10_000, readMs: 30_000, totalMs: 60_000 },
};

function makeCalls(count: number, seed: number): NewCall[] {
  const random = new SeededRandom(seed);
  return Array.from({ length: count }, (_, i) => {
    const createdAt = T0 + Math.floor(i / 100);
    const id = newCallId(createdAt, random);
    return {
      id,
      tenantId: tenant,
      kind: "call",
      spec,
      idempotencyKey: `key-${seed}-${i}`,
      forwardedKey: id,
      runAt: createdAt,
      createdAt,
    };
  });
}

async function benchCreates(store: PostgresStore, calls: NewCall[]): Promise<number> {
  let created = 0;
  for (let i = 0; i < calls.length; i += CONCURRENCY) {
    const wave = calls.slice(i, i + CONCURRENCY).map((call) => store.createCall(call));
    created += (await Promise.all(wave)).filter((r) => r.created).length;
  }
  return created;
}

function success(claim: Claim, now: number): AttemptCommit {
  return {
    callId: claim.call.id,
    leaseToken: claim.leaseToken,
    now,
    attempt: {
      callId: claim.call.id,
      number: claim.call.attempts + 1,
      startedAt: now - 40,
      durationMs: 40,
      connectMs: 5,
      firstByteMs: 35,
      outcome: { type: "response", status: 200 },
      sent: true,
      decision: { type: "succeed" },
    },
    transition: {
      status: "succeeded",
      response: {
        status: 200,
        headers: { "content-type": "application/json" },
        body: '{"ok":true}',
        bodyBytes: 11,
        bodyEncoding: "utf8",
        bodyTruncated: false,
      },
      idempotencyExpiresAt: now + 86_400_000,
    },
  };
}

// `loops` claim loops at once, each: claim up to CLAIM_BATCH, commit them all, again, until the
// store has nothing due. Returns the calls committed.
async function benchDrain(store: PostgresStore, loops: number): Promise<number> {
  const now = T0 + 10_000_000;
  let done = 0;
  const loop = async (n: number) => {
    const workerId = `bench-${n}` as WorkerId;
    for (;;) {
      const claims = await store.claimDue({ now, limit: CLAIM_BATCH, leaseMs: 30_000, workerId });
      if (claims.length === 0) return;
      const results = await Promise.all(
        claims.map((claim) => store.commitAttempt(success(claim, now))),
      );
      done += results.filter(Boolean).length;
    }
  };
  await Promise.all(Array.from({ length: loops }, (_, n) => loop(n)));
  return done;
}

/** Operations per wall-clock second, and this process's CPU time per operation in µs. */
interface Rate {
  perSecond: number;
  cpuMicros: number;
}

async function timed(count: number, work: () => Promise<number>): Promise<Rate> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  const done = await work();
  const seconds = (performance.now() - started) / 1_000;
  const used = process.cpuUsage(cpu);
  if (done !== count) throw new Error(`Expected ${count} operations, got ${done}.`);
  return { perSecond: done / seconds, cpuMicros: (used.user + used.system) / done };
}

interface Run {
  creates: Rate;
  drains: Rate[];
}

async function runOnce(url: string, run: number): Promise<Run> {
  const schema = `steadfast_bench_${process.pid}_${run}`;
  await dropSchema(url, schema);
  const store = await PostgresStore.connect({ connectionString: url, schema, poolSize: POOL_SIZE });
  try {
    await store.migrate();
    let creates: Rate | undefined;
    const drains: Rate[] = [];
    for (const [i, loops] of LOOP_COUNTS.entries()) {
      const calls = makeCalls(TOTAL, run * 100 + i);
      const rate = await timed(TOTAL, () => benchCreates(store, calls));
      creates ??= rate;
      drains.push(await timed(TOTAL, () => benchDrain(store, loops)));
    }
    return { creates: creates!, drains };
  } finally {
    await store.close();
    await dropSchema(url, schema);
  }
}

function describe(rates: Rate[]): string {
  const sorted = [...rates].sort((a, b) => a.perSecond - b.perSecond);
  const median = sorted[sorted.length >> 1]!;
  const best = sorted.at(-1)!;
  const fmt = (n: number) => Math.round(n).toLocaleString("en").padStart(7);
  return `median ${fmt(median.perSecond)}/s, best ${fmt(best.perSecond)}/s, ${median.cpuMicros.toFixed(1)} µs CPU each`;
}

const url = await ensureDatabase("bench_steadfast");
console.log(
  `PostgresStore on ${PG_SERVER_URL.replace(/\/\/[^@]*@/, "//")}/bench_steadfast, pool ${POOL_SIZE}: ` +
    `${TOTAL.toLocaleString("en")} calls per measurement, ${RUNS} runs; creates with ` +
    `${CONCURRENCY} concurrent promises; drains claim ${CLAIM_BATCH} then commit them, per loop.`,
);
const runs: Run[] = [];
for (let i = 0; i < RUNS; i++) runs.push(await runOnce(url, i));
console.log(`  createCall              ${describe(runs.map((r) => r.creates))}`);
for (const [i, loops] of LOOP_COUNTS.entries()) {
  const label = `claim+commit, ${loops} loop${loops === 1 ? "" : "s"}`.padEnd(23);
  console.log(`  ${label} ${describe(runs.map((r) => r.drains[i]!))}`);
}
