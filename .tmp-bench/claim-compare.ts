import { ClaimWrites as NewClaims } from "../src/store/postgres/claim-writes.ts";
import { ClaimWrites as OldClaims } from "/tmp/resume-base/src/store/postgres/claim-writes.ts";
import { PostgresConnection } from "../src/store/postgres/postgres-connection.ts";
import { PostgresStore } from "../src/store/postgres/postgres-store.ts";
import { schemaNames } from "../src/store/postgres/schema-names.ts";
import { makeCalls } from "../bench/lib/store-bench.ts";
import type { WorkerId } from "../src/core/ids.ts";

const url = "postgres://postgres@127.0.0.1:5432/test";
const schema = `claim_cmp_${process.pid}`;
const store = await PostgresStore.connect({ connectionString: url, schema });
await store.migrate();
const conn = () => new PostgresConnection({ connectionString: url, poolSize: 2, applicationName: "cmp", connectTimeoutMs: 5000, healthCheckIntervalMs: 1000, queryTimeoutMs: 30000 });
const oldC = conn(); const newC = conn();
const names = schemaNames(schema);
const impls = { old: new OldClaims(oldC, names), new: new NewClaims(newC, names) };
const N = 25_600;
const results: Record<string, number[]> = { old: [], new: [] };
let seed = 1;
for (let round = 0; round < 4; round++) {
  for (const which of (round % 2 === 0 ? ["old", "new"] : ["new", "old"]) as ("old" | "new")[]) {
    const calls = makeCalls(N, seed++);
    for (let i = 0; i < N; i += 2000) await store.createCalls(calls.slice(i, i + 2000));
    const now = 1_700_000_000_000 + 10_000_000;
    const t = performance.now();
    let claimed = 0;
    for (;;) {
      const got = await impls[which].claimDue({ now, limit: 256, leaseMs: 30_000_000, workerId: "w" as WorkerId });
      claimed += got.length;
      if (got.length === 0) break;
    }
    const ms = performance.now() - t;
    results[which].push(claimed / (ms / 1000));
  }
}
console.log(Object.fromEntries(Object.entries(results).map(([k, v]) => [k, v.map((x) => Math.round(x))])));
await oldC.close(); await newC.close(); await store.close();
const { dropSchema } = await import("../src/store/postgres/test-database.test-support.ts");
await dropSchema(schema);
