// What the store micro-benchmarks share, written against the `Store` port so SQLite and
// PostgreSQL are measured by the same code: the calls created, the create waves, the claim +
// commit loops, and CPU-aware timing.
import { performance } from "node:perf_hooks";
import type { CallSpec } from "../../src/core/call.ts";
import { newCallId, tenantId, type WorkerId } from "../../src/core/ids.ts";
import type { NewCall, Store } from "../../src/core/store.ts";
import { commitOf, succeeded } from "../../src/store/contract/fixtures.ts";
import { SeededRandom } from "../../src/testing/seeded-random.ts";

/** `createCall` promises in flight at once. */
export const CONCURRENCY = 1_000;
/** Calls claimed per `claimDue`. */
export const CLAIM_BATCH = 512;
const T0 = 1_700_000_000_000;
const tenant = tenantId("bench");

/** A realistic call: a JSON POST with an Authorization header. */
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

/** `count` calls with idempotency keys, 100 per millisecond, ids seeded by `seed`. */
export function makeCalls(count: number, seed: number): NewCall[] {
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

/** Creates `calls` in waves of `CONCURRENCY` concurrent promises. Returns how many were created. */
export async function benchCreates(store: Store, calls: readonly NewCall[]): Promise<number> {
  let created = 0;
  for (let i = 0; i < calls.length; i += CONCURRENCY) {
    const wave = calls.slice(i, i + CONCURRENCY).map((call) => store.createCall(call));
    created += (await Promise.all(wave)).filter((r) => r.created).length;
  }
  return created;
}

/**
 * `loops` claim loops at once, each: claim up to `CLAIM_BATCH`, commit them all as succeeded,
 * again, until nothing is due. Returns the calls committed.
 */
export async function benchDrain(store: Store, loops: number): Promise<number> {
  const now = T0 + 10_000_000;
  let done = 0;
  const loop = async (n: number): Promise<void> => {
    const workerId = `bench-${n}` as WorkerId;
    for (;;) {
      const claims = await store.claimDue({ now, limit: CLAIM_BATCH, leaseMs: 30_000, workerId });
      if (claims.length === 0) return;
      const results = await Promise.all(
        claims.map((claim) => store.commitAttempt(commitOf(claim, now, succeeded(now)))),
      );
      done += results.filter(Boolean).length;
    }
  };
  await Promise.all(Array.from({ length: loops }, (_, n) => loop(n)));
  return done;
}

/** Operations per wall-clock second, and this process's CPU time per operation in µs. */
export interface Rate {
  perSecond: number;
  cpuMicros: number;
}

/** Times `work`, which must report exactly `count` operations done. */
export async function timed(count: number, work: () => Promise<number>): Promise<Rate> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  const done = await work();
  const seconds = (performance.now() - started) / 1_000;
  const used = process.cpuUsage(cpu);
  if (done !== count) throw new Error(`Expected ${count} operations, got ${done}.`);
  return { perSecond: done / seconds, cpuMicros: (used.user + used.system) / done };
}

/** `median N/s, best N/s, X µs CPU each` over runs. */
export function describeRates(rates: readonly Rate[]): string {
  const sorted = [...rates].sort((a, b) => a.perSecond - b.perSecond);
  const median = sorted[sorted.length >> 1]!;
  const best = sorted.at(-1)!;
  const fmt = (n: number) => Math.round(n).toLocaleString("en").padStart(7);
  return `median ${fmt(median.perSecond)}/s, best ${fmt(best.perSecond)}/s, ${median.cpuMicros.toFixed(1)} µs CPU each`;
}
