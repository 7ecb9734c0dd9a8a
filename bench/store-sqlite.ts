// Micro-benchmark of SqliteStore on a temp file: createCall throughput with 1,000 concurrent
// promises, and claim + commitAttempt cycles, with synchronous FULL and NORMAL.
// Prints figures only; never fails on time. Run: node bench/store-sqlite.ts [calls] [runs]
// CPU time per operation is printed too: it stays meaningful on a busy machine, where wall-clock
// rates mostly measure the neighbours.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SqliteStore } from "../src/store/sqlite/sqlite-store.ts";
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

interface Run {
  creates: Rate;
  cycles: Rate;
}

async function runOnce(synchronous: "FULL" | "NORMAL"): Promise<Run> {
  const dir = mkdtempSync(join(tmpdir(), "steadfast-bench-"));
  try {
    const store = SqliteStore.open({ path: join(dir, "bench.db"), synchronous });
    await store.migrate();
    const calls = makeCalls(TOTAL, 7);
    const creates = await timed(TOTAL, () => benchCreates(store, calls));
    const cycles = await timed(TOTAL, () => benchDrain(store, 1));
    await store.close();
    return { creates, cycles };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

console.log(
  `SqliteStore on a temp file: ${TOTAL.toLocaleString("en")} calls per run, ${RUNS} runs per mode; ` +
    `creates with ${CONCURRENCY} concurrent promises; claims of ${CLAIM_BATCH} then their commits.`,
);
for (const synchronous of ["FULL", "NORMAL"] as const) {
  const runs: Run[] = [];
  for (let i = 0; i < RUNS; i++) runs.push(await runOnce(synchronous));
  console.log(`synchronous=${synchronous}`);
  console.log(`  createCall    ${describeRates(runs.map((r) => r.creates))}`);
  console.log(`  claim+commit  ${describeRates(runs.map((r) => r.cycles))}`);
}
