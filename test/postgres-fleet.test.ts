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
/** The rate limit of the limited destination, per second, and how many calls go there. */
const RATE = 40;
const LIMITED = 200;
const WINDOW_MS = 2_000;
/** The concurrency limit of the other test's destination, and how many calls go there. */
const MAX_CONCURRENCY = 4;
const CONCURRENCY_LIMITED = 200;
let processes: ServerProcess[] = [];
let upstreams: FlakyUpstream[] = [];
let schema: string | undefined;

afterEach(async () => {
  for (const p of processes) await p.kill9();
  processes = [];
  for (const u of upstreams) await u.close();
  upstreams = [];
  if (schema !== undefined) await dropSchema(schema);
  schema = undefined;
});

/**
 * An API process on a fresh schema, `limits` set on `destination` before three worker processes
 * start (they read the limits at start), then the workers.
 */
async function startFleet(
  destination: string,
  limits: { rateLimitPerSecond?: number; maxConcurrency?: number },
): Promise<{ client: ReturnType<typeof apiClient>; workers: ServerProcess[] }> {
  schema = testSchemaName();
  const env = {
    STEADFAST_DB: `${TEST_DATABASE_URL}?schema=${schema}`,
    STEADFAST_API_KEYS: `fleet:${KEY}`,
    STEADFAST_OPERATOR_TENANTS: "fleet",
    STEADFAST_ALLOW_PRIVATE_NETWORKS: "true",
    STEADFAST_LEASE_MS: "2000",
    STEADFAST_CONCURRENCY: "32",
  };
  const api = await startServerProcess(env);
  processes.push(api);
  const client = apiClient(api.url, KEY);
  const set = await client.call(
    "PUT",
    `/v1/destinations/${encodeURIComponent(destination)}`,
    limits,
  );
  expect(set.status).toBe(200);
  const workers = await Promise.all([1, 2, 3].map(() => startWorkerProcess(env)));
  processes.push(...workers);
  return { client, workers };
}

describe("scale-out on PostgreSQL (process level)", () => {
  it("one API process and three workers finish every call after one worker is killed, never running a call twice at once, and keep to a destination's rate limit together", async () => {
    const server = await startFlakyUpstream(() => ({ status: 200, delayMs: 5 }));
    const limited = await startFlakyUpstream(() => ({ status: 200 }));
    upstreams.push(server, limited);
    const seen = server.requests;
    const { client, workers } = await startFleet(limited.url, { rateLimitPerSecond: RATE });

    // The rate-limited calls first, all at once (the fleet could send them in about a second
    // were each process keeping the limit alone), then the rest.
    const total = 5_000 + LIMITED;
    const ids: string[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (next < total) {
          const i = next++;
          const url = i < LIMITED ? `${limited.url}/l/${i}` : `${server.url}/job/${i}`;
          const res = await client.call(
            "POST",
            "/v1/fetch",
            { url },
            { "idempotency-key": `job-${i}` },
          );
          expect(res.status).toBe(202);
          ids.push(String(res.body?.id));
        }
      }),
    );
    await server.waitForRequests(5_000 / 4);
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

    const all = [...seen, ...limited.requests];
    const keys = new Set(all.map((r) => r.headers["idempotency-key"]));
    expect(keys.size).toBe(total);
    expect(overlappingRequests(all, "idempotency-key")).toEqual([]);

    // The fleet, not each process, kept to the limit: a token bucket of RATE/s holding one
    // second's worth sends at most RATE * (window + 1 s) in any window, and the limited calls
    // took at least (LIMITED - RATE) / RATE seconds. Four processes each keeping the limit alone
    // would have sent about four times as fast.
    const arrivals = limited.requests.map((r) => r.receivedAt).sort((a, b) => a - b);
    expect(arrivals).toHaveLength(LIMITED);
    let busiest = 0;
    for (let i = 0; i < arrivals.length; i++) {
      let j = i;
      while (j < arrivals.length && arrivals[j]! < arrivals[i]! + WINDOW_MS) j++;
      busiest = Math.max(busiest, j - i);
    }
    const spanMs = arrivals.at(-1)! - arrivals[0]!;
    console.log(
      `fleet rate limit ${RATE}/s: ${LIMITED} calls over ${Math.round(spanMs)} ms, at most ${busiest} in any ${WINDOW_MS} ms`,
    );
    // 10% over that for what no schedule controls: network jitter between send and arrival, and
    // a slot each process reserved that went out a little late.
    expect(busiest).toBeLessThanOrEqual(RATE * (WINDOW_MS / 1_000 + 1) * 1.1);
    expect(spanMs).toBeGreaterThanOrEqual(((LIMITED - RATE) / RATE) * 1_000 * 0.95);
  }, 150_000);

  it("an API process and three workers keep a destination's maxConcurrency together, not each alone", async () => {
    const upstream = await startFlakyUpstream(() => ({ status: 200, delayMs: 20 }));
    upstreams.push(upstream);
    const { client } = await startFleet(upstream.url, { maxConcurrency: MAX_CONCURRENCY });
    // Submitted 16 at a time, so that every engine has more calls for the destination than the
    // limit: each keeping it alone would send up to four times as many at once.
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < CONCURRENCY_LIMITED) {
          const i = next++;
          const res = await client.call("POST", "/v1/fetch", { url: `${upstream.url}/c/${i}` });
          expect(res.status).toBe(202);
        }
      }),
    );
    await until(async () => {
      const res = await client.call("GET", "/v1/calls?status=succeeded&limit=500");
      return (res.body?.calls as unknown[]).length === CONCURRENCY_LIMITED;
    }, 60_000);
    await client.close();

    // The most requests the upstream was handling at once, from its own arrival and answer times.
    const edges = upstream.requests.flatMap((r) => [
      [r.receivedAt, 1] as const,
      [r.finishedAt ?? Number.POSITIVE_INFINITY, -1] as const,
    ]);
    edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    let now = 0;
    let most = 0;
    for (const [, step] of edges) most = Math.max(most, (now += step));
    const times = upstream.requests.map((r) => r.receivedAt);
    const spanMs = Math.max(...times) - Math.min(...times);
    console.log(
      `fleet maxConcurrency ${MAX_CONCURRENCY}: at most ${most} requests at the upstream at once from four engines (each would allow ${MAX_CONCURRENCY} alone); ${CONCURRENCY_LIMITED} calls of 20 ms over ${Math.round(spanMs)} ms`,
    );
    expect(upstream.requests).toHaveLength(CONCURRENCY_LIMITED);
    expect(most).toBeLessThanOrEqual(MAX_CONCURRENCY);
    expect(most).toBeGreaterThanOrEqual(2);
  }, 90_000);
});
