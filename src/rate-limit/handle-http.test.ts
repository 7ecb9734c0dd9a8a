// `handle` end to end (issue 13): a real node:http server on 127.0.0.1, port 0, whose every
// request goes through a rate limit (on a FakeClock) to a handler that counts its runs, on the
// SQLite store; the concurrency test runs on each store.
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { toWebRequest, writeResponse } from "../exchange/node-exchange.ts";
import { FakeClock } from "../testing/fake-clock.ts";
import { createRateLimit, type RateLimit } from "./create-rate-limit.ts";
import type { RateLimitEvent, RateLimitOptions } from "./rate-limit-options.ts";
import {
  memoryTestStore,
  postgresTestStore,
  redisTestStore,
  sqliteTestStore,
  type RateLimitTestStore,
} from "./stores/test-rate-limit-stores.test-support.ts";

interface Harness {
  url: string;
  rateLimit: RateLimit;
  clock: FakeClock;
  events: RateLimitEvent[];
  /** How many requests the handler ran. */
  runs(): number;
  get(headers?: Record<string, string>): Promise<Response>;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function harness(
  options: Partial<RateLimitOptions> = {},
  makeStore: () => Promise<RateLimitTestStore> = sqliteTestStore,
): Promise<Harness> {
  const buckets = await makeStore();
  cleanups.push(buckets.cleanup);
  const clock = new FakeClock();
  const events: RateLimitEvent[] = [];
  const rateLimit = await createRateLimit({
    store: buckets.store,
    key: (req) => req.headers.get("authorization") ?? undefined,
    limit: 10,
    window: "1m",
    clock,
    purgeIntervalMs: 0,
    onEvent: (event) => events.push(event),
    ...options,
  });
  cleanups.push(() => rateLimit.close());
  let runs = 0;
  const handler = (request: Request): Promise<Response> => {
    runs++;
    return Promise.resolve(
      Response.json(
        { run: runs, path: new URL(request.url).pathname },
        { headers: { "x-handler": "yes" } },
      ),
    );
  };
  const server: Server = createServer((incoming, outgoing) => {
    void (async () => {
      const request = await toWebRequest(incoming);
      if (request instanceof Response) throw new Error("malformed request");
      await writeResponse(await rateLimit.handle(request, handler), outgoing);
    })().catch(() => outgoing.destroy());
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  cleanups.push(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    rateLimit,
    clock,
    events,
    runs: () => runs,
    get: (headers = { authorization: "Bearer alice" }) => fetch(`${url}/orders`, { headers }),
  };
}

const fields = (response: Response): [string | null, string | null, string | null] => [
  response.headers.get("ratelimit-policy"),
  response.headers.get("ratelimit"),
  response.headers.get("retry-after"),
];

describe("createRateLimit's handle over node:http", () => {
  it("sends RateLimit-Policy and RateLimit on allowed answers, the handler's own kept", async () => {
    const h = await harness();
    const first = await h.get();
    expect(first.status).toBe(200);
    expect(first.headers.get("x-handler")).toBe("yes");
    expect(fields(first)).toEqual(['"default";q=10;w=60', '"default";r=9;t=6', null]);
    const second = await h.get();
    expect(fields(second)).toEqual(['"default";q=10;w=60', '"default";r=8;t=6', null]);
    expect(await second.json()).toEqual({ run: 2, path: "/orders" });
  });

  it("answers 429 problem+json naming the limit and when to come back, without running the handler", async () => {
    const h = await harness();
    for (let i = 0; i < 10; i++) expect((await h.get()).status).toBe(200);
    await h.clock.advance(1_500);
    const refused = await h.get();
    expect(refused.status).toBe(429);
    expect(refused.headers.get("content-type")).toBe("application/problem+json");
    // 6 s per request (10 a minute), 1.5 s of it gone: back in 4.5 s, rounded up.
    expect(fields(refused)).toEqual(['"default";q=10;w=60', '"default";r=0;t=5', "5"]);
    expect(await refused.json()).toEqual({
      type: "https://steadfast.dev/problems/rate_limited",
      title: "Too many requests",
      status: 429,
      detail:
        "Too many requests: the limit is 10 requests per 60 seconds (up to 10 at once); retry in 5 seconds.",
      code: "rate_limited",
      "violated-policies": ["default"],
    });
    expect(h.runs()).toBe(10);
  });

  it("lets a refused client in again once Retry-After has passed, one request per increment", async () => {
    const h = await harness();
    for (let i = 0; i < 11; i++) await h.get();
    const retryAfter = Number((await h.get()).headers.get("retry-after"));
    await h.clock.advance(retryAfter * 1_000);
    const statuses = [(await h.get()).status, (await h.get()).status];
    expect(statuses).toEqual([200, 429]);
  });

  it("keeps clients apart, and lets requests without a key through untouched", async () => {
    const h = await harness({ limit: 2 });
    const statuses = async (headers: Record<string, string>): Promise<number[]> => {
      const out: number[] = [];
      for (let i = 0; i < 3; i++) out.push((await h.get(headers)).status);
      return out;
    };
    expect(await statuses({ authorization: "Bearer alice" })).toEqual([200, 200, 429]);
    expect(await statuses({ authorization: "Bearer bob" })).toEqual([200, 200, 429]);
    const anonymous = await h.get({});
    expect(anonymous.status).toBe(200);
    expect(fields(anonymous)).toEqual([null, null, null]);
  });

  it("uses the problem type and help link of docsUrl", async () => {
    const h = await harness({ limit: 1, docsUrl: "https://api.example.com/docs/limits" });
    await h.get();
    const refused = await h.get();
    expect(refused.headers.get("link")).toBe('<https://api.example.com/docs/limits>; rel="help"');
    expect(((await refused.json()) as { type: string }).type).toBe(
      "https://api.example.com/docs/limits#rate_limited",
    );
  });

  it("lets requests through when the store fails (whenStoreFails: allow), reporting it", async () => {
    const buckets = await sqliteTestStore();
    cleanups.push(buckets.cleanup);
    const h = await harness({ store: buckets.store });
    await buckets.store.close(); // the store is the caller's: closing it fails every step
    const answer = await h.get();
    expect(answer.status).toBe(200);
    expect(fields(answer)).toEqual([null, null, null]);
    expect(h.events.map((e) => e.type)).toEqual(["rate-limit:store-failed"]);
    expect(h.runs()).toBe(1);
  });

  it("answers 503 store_unavailable with Retry-After when the store fails (whenStoreFails: refuse)", async () => {
    const buckets = await sqliteTestStore();
    cleanups.push(buckets.cleanup);
    const h = await harness({ store: buckets.store, whenStoreFails: "refuse" });
    await buckets.store.close();
    const answer = await h.get();
    expect(answer.status).toBe(503);
    expect(answer.headers.get("retry-after")).toBe("1");
    expect(((await answer.json()) as { code: string }).code).toBe("store_unavailable");
    expect(h.runs()).toBe(0);
  });

  describe.each([
    ["memory", memoryTestStore],
    ["SQLite", sqliteTestStore],
    ["PostgreSQL", postgresTestStore],
    ["Redis", redisTestStore],
  ])("on %s", (_name, makeStore) => {
    it("lets exactly 10 of 100 concurrent requests through, the other 90 get 429", async () => {
      const h = await harness({}, makeStore);
      const answers = await Promise.all(Array.from({ length: 100 }, () => h.get()));
      const statuses = answers.map((a) => a.status);
      expect(statuses.filter((s) => s === 200)).toHaveLength(10);
      expect(statuses.filter((s) => s === 429)).toHaveLength(90);
      expect(h.runs()).toBe(10);
      for (const answer of answers) await answer.body?.cancel();
    });
  });
});
