// Steadfast's own API under a rate limit per tenant (issue 13): through the app over a real
// SQLite store (appHarness) with the quota on a fake clock, and through `startServer` over a
// real socket with the setting as `steadfast serve` passes it.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { createQuota, type Quota } from "../rate-limit/quota.ts";
import {
  dropSchema,
  TEST_DATABASE_URL,
  testSchemaName,
} from "../store/postgres/test-database.test-support.ts";
import { MemoryRateLimitStore } from "../rate-limit/stores/memory-rate-limit-store.ts";
import { FakeClock } from "../testing/fake-clock.ts";
import {
  appHarness,
  expectProblem,
  KEY_OTHER,
  type AppHarness,
} from "./app-harness.test-support.ts";
import { expectDocumented } from "./openapi-document.test-support.ts";
import { startServer, type RunningServer } from "./start-server.ts";
import { TENANT_POLICY_NAME, tenantRateLimitStore } from "./tenant-rate-limit.ts";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function limited(
  limit = 3,
): Promise<{ h: AppHarness; quota: Quota; clock: FakeClock; store: MemoryRateLimitStore }> {
  const clock = new FakeClock();
  const store = new MemoryRateLimitStore();
  const quota = await createQuota({
    store,
    limit,
    window: "1m",
    name: TENANT_POLICY_NAME,
    clock,
    purgeIntervalMs: 0,
  });
  const h = await appHarness({ rateLimit: quota });
  cleanups.push(async () => {
    await h.close();
    await quota.close();
    await store.close();
  });
  return { h, quota, clock, store };
}

const fields = (response: Response): (string | null)[] => [
  response.headers.get("ratelimit-policy"),
  response.headers.get("ratelimit"),
  response.headers.get("retry-after"),
];

describe("the API's rate limit per tenant", () => {
  it("is off by default: no limit, no fields", async () => {
    const h = await appHarness();
    cleanups.push(() => h.close());
    for (let i = 0; i < 5; i++) {
      const res = await h.request("/v1/calls");
      expect(res.status).toBe(200);
      expect(fields(res)).toEqual([null, null, null]);
    }
  });

  it("sends the fields on every /v1 answer, errors included, and answers 429 over the limit", async () => {
    const { h } = await limited();
    const ok = await h.request("/v1/calls");
    expect(ok.status).toBe(200);
    expect(fields(ok)).toEqual(['"tenant";q=3;w=60', '"tenant";r=2;t=20', null]);
    const missing = await h.request("/v1/calls/call_00000000000000000000000000");
    expect(missing.status).toBe(404);
    expect(fields(missing)).toEqual(['"tenant";q=3;w=60', '"tenant";r=1;t=20', null]);
    await h.request("/v1/calls");
    const refused = await h.request("/v1/calls");
    const problem = await expectProblem(refused, 429, "rate_limited");
    expect(problem.title).toBe("Too many requests");
    expect(problem.detail).toBe(
      "Too many requests: the limit is 3 requests per 60 seconds (up to 3 at once); retry in 20 seconds.",
    );
    expect((problem as { "violated-policies"?: string[] })["violated-policies"]).toEqual([
      "tenant",
    ]);
    expect(fields(refused)).toEqual(['"tenant";q=3;w=60', '"tenant";r=0;t=20', "20"]);
  });

  it("documents its 429 in the OpenAPI document", async () => {
    const { h } = await limited(1);
    await h.request("/v1/calls");
    await expectDocumented(await h.request("/v1/calls"), "/v1/calls", "get");
    const refused = await h.submit({ url: "https://api.example.com/" });
    expect(refused.status).toBe(429);
    await expectDocumented(refused, "/v1/fetch", "post");
  });

  it("counts each tenant apart, and never a request it cannot name a tenant for", async () => {
    const { h } = await limited(1);
    expect((await h.request("/v1/calls")).status).toBe(200);
    expect((await h.request("/v1/calls")).status).toBe(429);
    expect((await h.request("/v1/calls", { key: KEY_OTHER })).status).toBe(200);
    const anonymous = await h.request("/v1/calls", { key: null });
    expect(anonymous.status).toBe(401);
    expect(fields(anonymous)).toEqual([null, null, null]);
    const health = await h.app.request("/healthz");
    expect([health.status, health.headers.get("ratelimit")]).toEqual([200, null]);
  });

  it("refills over time: a refused tenant is served again after Retry-After", async () => {
    const { h, clock } = await limited(2);
    await h.request("/v1/calls");
    await h.request("/v1/calls");
    const refused = await h.request("/v1/calls");
    await clock.advance(Number(refused.headers.get("retry-after")) * 1_000);
    expect((await h.request("/v1/calls")).status).toBe(200);
    expect((await h.request("/v1/calls")).status).toBe(429);
  });

  it("lets requests through, without fields, while its store fails", async () => {
    const { h, store } = await limited(1);
    await store.close();
    for (let i = 0; i < 3; i++) {
      const res = await h.request("/v1/calls");
      expect(res.status).toBe(200);
      expect(fields(res)).toEqual([null, null, null]);
    }
  });

  it("keeps the tenants' buckets in the PostgreSQL database by default, else in memory", () => {
    const pg = "postgres://u:p@db:5432/steadfast?schema=s";
    expect(tenantRateLimitStore({ limit: 1, window: "1s" }, pg)).toBe(pg);
    expect(tenantRateLimitStore({ limit: 1, window: "1s" }, "sqlite:/x/steadfast.db")).toBe(
      "memory",
    );
    expect(tenantRateLimitStore({ limit: 1, window: "1s", store: "redis://r:6379" }, pg)).toBe(
      "redis://r:6379",
    );
  });
});

describe("startServer with a rate limit", () => {
  it("limits each tenant over a real socket, with the setting steadfast serve passes", async () => {
    const dir = mkdtempSync(join(tmpdir(), "steadfast-serve-rl-"));
    cleanups.push(() => Promise.resolve(rmSync(dir, { recursive: true, force: true })));
    const server = await startServer(
      {
        port: 0,
        host: "127.0.0.1",
        db: `sqlite:${join(dir, "steadfast.db")}`,
        dataDir: dir,
        allowPrivateNetworks: true,
        allowedCidrs: [],
        concurrency: 4,
        maxBodyBytes: 4_096,
        logLevel: "silent",
        shutdownGraceMs: 1_000,
        rateLimit: { limit: 2, window: "1h" },
      },
      { logger: pino({ level: "silent" }), print: () => undefined },
    );
    cleanups.push(() => server.close());
    const key = readFileSync(join(dir, "api-key"), "utf8").trim();
    const get = (): Promise<Response> =>
      fetch(`${server.url}/v1/calls`, { headers: { authorization: `Bearer ${key}` } });
    const answers = [await get(), await get(), await get()];
    expect(answers.map((a) => a.status)).toEqual([200, 200, 429]);
    expect(answers[0]!.headers.get("ratelimit-policy")).toBe('"tenant";q=2;w=3600');
    expect(answers[2]!.headers.get("retry-after")).toMatch(/^(1[0-9]{3}|[1-9][0-9]{0,2})$/);
    const problem = (await answers[2]!.json()) as { code: string; correlationId: string };
    expect(problem.code).toBe("rate_limited");
    expect(problem.correlationId).toBe(answers[2]!.headers.get("x-request-id"));
    for (const answer of answers.slice(0, 2)) await answer.text();
  });

  it("shares each tenant's quota between servers on one PostgreSQL database, by default", async () => {
    const schema = testSchemaName();
    cleanups.push(() => dropSchema(schema));
    const url = new URL(TEST_DATABASE_URL);
    url.searchParams.set("schema", schema);
    const key = "acme_key_0123456789abcdef";
    const start = async (): Promise<RunningServer> => {
      const server = await startServer(
        {
          port: 0,
          host: "127.0.0.1",
          db: url.toString(),
          dataDir: "/nonexistent/steadfast-data",
          apiKeys: `acme:${key}`,
          allowPrivateNetworks: false,
          allowedCidrs: [],
          concurrency: 4,
          maxBodyBytes: 65_536,
          logLevel: "silent",
          shutdownGraceMs: 1_000,
          startEngine: false,
          rateLimit: { limit: 3, window: "1h" },
        },
        { clock: new FakeClock(), logger: pino({ level: "silent" }), print: () => undefined },
      );
      cleanups.push(() => server.close());
      return server;
    };
    const a = await start();
    const b = await start();
    const statuses: number[] = [];
    for (const server of [a, b, a, b]) {
      const res = await fetch(`${server.url}/v1/calls`, {
        headers: { authorization: `Bearer ${key}` },
      });
      statuses.push(res.status);
      await res.text();
    }
    expect(statuses).toEqual([200, 200, 200, 429]);
  });
});
