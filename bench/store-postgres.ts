// Micro-benchmark of PostgresStore, one process: createCall throughput with 1,000 concurrent
// promises, then draining those calls with claim + commitAttempt cycles (each drained call is
// part of a claim and one commit, as the engine does it), with one and with several claim loops
// running at once.
// Prints figures only; never fails on time.
// Run: node bench/store-postgres.ts [calls] [runs]   (BENCH_PG_URL: server URL, no database)
import { PostgresStore } from "../src/store/postgres/postgres-store.ts";
import { dropSchema, ensureDatabase, PG_SERVER_URL } from "./lib/postgres.ts";
import {
  benchCreates,
  benchDrain,
  CLAIM_BATCH,
  CONCURRENCY,
  describeRates,
  makeCalls,
  timed,
  type Rate,
} from "./lib/store-bench.ts";

const TOTAL = Number(process.argv[2] ?? 100_000);
const RUNS = Number(process.argv[3] ?? 3);
const LOOP_COUNTS = [1, 4];
const POOL_SIZE = Number(process.env.BENCH_PG_POOL ?? 10);

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

const url = await ensureDatabase("bench_steadfast");
console.log(
  `PostgresStore on ${PG_SERVER_URL.replace(/\/\/[^@]*@/, "//")}/bench_steadfast, pool ${POOL_SIZE}: ` +
    `${TOTAL.toLocaleString("en")} calls per measurement, ${RUNS} runs; creates with ` +
    `${CONCURRENCY} concurrent promises; drains claim ${CLAIM_BATCH} then commit them, per loop.`,
);
const runs: Run[] = [];
for (let i = 0; i < RUNS; i++) runs.push(await runOnce(url, i));
console.log(`  createCall              ${describeRates(runs.map((r) => r.creates))}`);
for (const [i, loops] of LOOP_COUNTS.entries()) {
  const label = `claim+commit, ${loops} loop${loops === 1 ? "" : "s"}`.padEnd(23);
  console.log(`  ${label} ${describeRates(runs.map((r) => r.drains[i]!))}`);
}
