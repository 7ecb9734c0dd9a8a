// Micro-benchmark of SqliteStore on a temp file: createCall throughput with 1,000 concurrent
// promises, and claim + commitAttempt cycles, with synchronous FULL and NORMAL.
// Prints figures only; never fails on time. Run: node bench/store-sqlite.ts [calls] [runs]
// CPU time per operation is printed too: it stays meaningful on a busy machine, where wall-clock
// rates mostly measure the neighbours.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import type { CallSpec } from "../src/core/call.ts";
import { newCallId, tenantId, type WorkerId } from "../src/core/ids.ts";
import type { NewCall } from "../src/core/store.ts";
import { SqliteStore } from "../src/store/sqlite/sqlite-store.ts";
import { SeededRandom } from "../src/testing/seeded-random.ts";

const TOTAL = Number(process.argv[2] ?? 100_000);
const RUNS = Number(process.argv[3] ?? 3);
const CONCURRENCY = 1_000;
const CLAIM_BATCH = 512;
const T0 = 1_700_000_000_000;
const tenant = tenantId("bench");
const workerId = "bench-worker" as WorkerId;

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

function makeCalls(count: number): NewCall[] {
  const random = new SeededRandom(7);
  return Array.from({ length: count }, (_, i) => {
    const createdAt = T0 + Math.floor(i / 100);
    const id = newCallId(createdAt, random);
    return {
      id,
      tenantId: tenant,
      kind: "call",
      spec,
      idempotencyKey: `key-${i}`,
      forwardedKey: id,
      runAt: createdAt,
      createdAt,
    };
  });
}

async function benchCreates(store: SqliteStore, calls: NewCall[]): Promise<number> {
  let created = 0;
  for (let i = 0; i < calls.length; i += CONCURRENCY) {
    const wave = calls.slice(i, i + CONCURRENCY).map((call) => store.createCall(call));
    created += (await Promise.all(wave)).filter((r) => r.created).length;
  }
  return created;
}

async function benchClaimCommit(store: SqliteStore, count: number): Promise<number> {
  const now = T0 + 10_000_000;
  let done = 0;
  while (done < count) {
    const claims = await store.claimDue({ now, limit: CLAIM_BATCH, leaseMs: 30_000, workerId });
    if (claims.length === 0) break;
    const results = await Promise.all(
      claims.map((claim) =>
        store.commitAttempt({
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
              bodyEncoding: "utf8",
              bodyTruncated: false,
              bodyBytes: 11,
            },
            idempotencyExpiresAt: now + 86_400_000,
          },
        }),
      ),
    );
    done += results.filter(Boolean).length;
  }
  return done;
}

interface Run {
  creates: Rate;
  cycles: Rate;
}

/** Operations per wall-clock second, and CPU time (user + system) per operation in µs. */
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

async function runOnce(synchronous: "FULL" | "NORMAL"): Promise<Run> {
  const dir = mkdtempSync(join(tmpdir(), "steadfast-bench-"));
  try {
    const store = SqliteStore.open({ path: join(dir, "bench.db"), synchronous });
    await store.migrate();
    const calls = makeCalls(TOTAL);
    const creates = await timed(TOTAL, () => benchCreates(store, calls));
    const cycles = await timed(TOTAL, () => benchClaimCommit(store, TOTAL));
    await store.close();
    return { creates, cycles };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function describe(rates: Rate[]): string {
  const sorted = [...rates].sort((a, b) => a.perSecond - b.perSecond);
  const median = sorted[sorted.length >> 1]!;
  const best = sorted.at(-1)!;
  const fmt = (n: number) => Math.round(n).toLocaleString("en").padStart(7);
  return `median ${fmt(median.perSecond)}/s, best ${fmt(best.perSecond)}/s, ${median.cpuMicros.toFixed(1)} µs CPU each`;
}

console.log(
  `SqliteStore on a temp file: ${TOTAL.toLocaleString("en")} calls per run, ${RUNS} runs per mode; ` +
    `creates with ${CONCURRENCY} concurrent promises; claims of ${CLAIM_BATCH} then their commits.`,
);
for (const synchronous of ["FULL", "NORMAL"] as const) {
  const runs: Run[] = [];
  for (let i = 0; i < RUNS; i++) runs.push(await runOnce(synchronous));
  console.log(`synchronous=${synchronous}`);
  console.log(`  createCall    ${describe(runs.map((r) => r.creates))}`);
  console.log(`  claim+commit  ${describe(runs.map((r) => r.cycles))}`);
}
