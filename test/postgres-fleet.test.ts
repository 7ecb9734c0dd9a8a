import { afterEach, describe, expect, it } from "vitest";
import {
  dropSchema,
  TEST_DATABASE_URL,
  testSchemaName,
} from "../src/store/postgres/test-database.test-support.ts";
import {
  overlappingRequests,
  startFlakyUpstream,
  type FlakyUpstream,
} from "../src/testing/flaky-upstream.ts";
import {
  apiClient,
  startServerProcess,
  startWorkerProcess,
  until,
  type ServerProcess,
} from "./process-harness.ts";

const KEY = "fleet-test-key-0123456789";
let processes: ServerProcess[] = [];
let upstream: FlakyUpstream | undefined;
let schema: string | undefined;

afterEach(async () => {
  for (const p of processes) await p.kill9();
  processes = [];
  await upstream?.close();
  upstream = undefined;
  if (schema !== undefined) await dropSchema(schema);
  schema = undefined;
});

describe("scale-out on PostgreSQL (process level)", () => {
  it("one API process and three workers finish every call after one worker is killed, never running a call twice at once", async () => {
    schema = testSchemaName();
    upstream = await startFlakyUpstream(() => ({ status: 200, delayMs: 5 }));
    const server = upstream;
    const seen = server.requests;
    const env = {
      STEADFAST_DB: `${TEST_DATABASE_URL}?schema=${schema}`,
      STEADFAST_API_KEYS: `fleet:${KEY}`,
      STEADFAST_ALLOW_PRIVATE_NETWORKS: "true",
      STEADFAST_LEASE_MS: "2000",
      STEADFAST_CONCURRENCY: "32",
    };
    const api = await startServerProcess(env);
    processes.push(api);
    const workers = await Promise.all([1, 2, 3].map(() => startWorkerProcess(env)));
    processes.push(...workers);

    const client = apiClient(api.url, KEY);
    const total = 2_000;
    const ids: string[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (next < total) {
          const i = next++;
          const res = await client.call(
            "POST",
            "/v1/fetch",
            { url: `${server.url}/job/${i}` },
            { "idempotency-key": `job-${i}` },
          );
          expect(res.status).toBe(202);
          ids.push(String(res.body?.id));
        }
      }),
    );
    await server.waitForRequests(total / 4);
    await workers[0]!.kill9();

    await until(
      async () => {
        const res = await client.call("GET", "/v1/calls?status=succeeded&limit=500");
        let count = (res.body?.calls as unknown[]).length;
        let cursor = res.body?.nextCursor as string | undefined;
        while (cursor !== undefined) {
          const page = await client.call(
            "GET",
            `/v1/calls?status=succeeded&limit=500&cursor=${cursor}`,
          );
          count += (page.body?.calls as unknown[]).length;
          cursor = page.body?.nextCursor as string | undefined;
        }
        return count === total;
      },
      90_000,
      250,
    );
    await client.close();

    const keys = new Set(seen.map((r) => r.headers["idempotency-key"]));
    expect(keys.size).toBe(total);
    expect(overlappingRequests(seen, "idempotency-key")).toEqual([]);
  }, 150_000);
});
