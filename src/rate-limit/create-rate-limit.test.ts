// createRateLimit and createQuota without HTTP (issue 13): the options and their checks, a store
// opened from a URL and closed with the limit, the background purge on a fake clock.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { isSteadfastError } from "../core/errors.ts";
import { FakeClock } from "../testing/fake-clock.ts";
import { createRateLimit } from "./create-rate-limit.ts";
import { createQuota } from "./quota.ts";
import type { RateLimitEvent, RateLimitOptions } from "./rate-limit-options.ts";
import { MemoryRateLimitStore } from "./stores/memory-rate-limit-store.ts";

const BASE: RateLimitOptions = { key: () => "k", limit: 10, window: "1s", purgeIntervalMs: 0 };
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function refusal(options: Partial<RateLimitOptions>): Promise<string> {
  const error: unknown = await createRateLimit({ ...BASE, ...options }).then(
    async (made) => {
      await made.close();
      return undefined;
    },
    (e: unknown) => e,
  );
  if (!isSteadfastError(error) || error.code !== "invalid_option")
    throw new Error(`expected invalid_option, got ${String(error)}`);
  return error.message;
}

describe("createRateLimit's options", () => {
  it.each([
    [{ key: undefined as unknown as RateLimitOptions["key"] }, /key is required/],
    [{ limit: 0 }, /limit must be a positive whole number, got 0/],
    [{ limit: 2.5 }, /limit must be a positive whole number, got 2.5/],
    [{ burst: 0 }, /burst must be a positive whole number/],
    [{ window: "1.5s" as const }, /window must be a whole number of seconds.*"1.5s"/],
    [{ window: 500 }, /window must be a whole number of seconds/],
    [{ window: "10" as unknown as RateLimitOptions["window"] }, /window needs a unit/],
    [{ name: "per user" }, /name must be 1 to 64 letters.*"per user"/],
    [{ whenStoreFails: "ignore" as "allow" }, /whenStoreFails must be "allow" or "refuse"/],
    [{ docsUrl: "/docs/limits" }, /docsUrl must be an absolute http\(s\) URL/],
    [{ purgeIntervalMs: -1 }, /purgeIntervalMs must be a whole number of 0 or more/],
    [
      { burst: 1_000_000_000, window: "1h" as const, limit: 1 },
      /takes more than 366 days to refill/,
    ],
    [{ store: "mysql://u:secret@db/x" }, /store mysql:\.\.\. is not a store URL/],
  ])("refuses %j", async (options, message) => {
    const text = await refusal(options);
    expect(text).toMatch(/^createRateLimit: /);
    expect(text).toMatch(message);
    expect(text).not.toContain("secret");
  });

  it("defaults to the memory store, a burst of the limit and the policy name default", async () => {
    const rateLimit = await createRateLimit({ key: () => "k", limit: 100, window: "1m" });
    expect(rateLimit.policy).toEqual({
      name: "default",
      limit: 100,
      windowSeconds: 60,
      burst: 100,
    });
    expect((await rateLimit.check("k")).headers).toEqual({
      "ratelimit-policy": '"default";q=100;w=60',
      ratelimit: '"default";r=99;t=1',
    });
    await rateLimit.close();
  });
});

describe("createRateLimit", () => {
  it("opens a store from its URL and closes it with close()", async () => {
    const dir = mkdtempSync(join(tmpdir(), "steadfast-rate-limit-"));
    dirs.push(dir);
    const rateLimit = await createRateLimit({ ...BASE, store: `sqlite:${dir}/nested/rl.db` });
    expect((await rateLimit.check("k")).allowed).toBe(true);
    await rateLimit.close();
    const error: unknown = await rateLimit.check("k").catch((e: unknown) => e);
    expect(isSteadfastError(error) && error.code).toBe("store_closed");
  });

  it("leaves a store passed in open for its owner", async () => {
    const store = new MemoryRateLimitStore();
    const rateLimit = await createRateLimit({ ...BASE, store });
    await rateLimit.check("k");
    await rateLimit.close();
    expect(store.size).toBe(1);
    await store.close();
  });

  it("reads an async key, and passes a handler's failure on (the request still counted)", async () => {
    const rateLimit = await createRateLimit({
      ...BASE,
      limit: 1,
      key: (req) => Promise.resolve(req.headers.get("x-user") ?? undefined),
    });
    const request = new Request("http://localhost/x", { headers: { "x-user": "u1" } });
    await expect(
      rateLimit.handle(request, () => Promise.reject(new Error("handler broke"))),
    ).rejects.toThrow("handler broke");
    const second = await rateLimit.handle(request, () => Promise.resolve(new Response("ok")));
    expect(second.status).toBe(429);
    await rateLimit.close();
  });
});

describe("createQuota", () => {
  it("purges full buckets in the background, on its clock", async () => {
    const clock = new FakeClock();
    const events: RateLimitEvent[] = [];
    const store = new MemoryRateLimitStore();
    const quota = await createQuota({
      store,
      limit: 10,
      window: "1s",
      clock,
      purgeIntervalMs: 60_000,
      onEvent: (event) => events.push(event),
    });
    for (const key of ["a", "b", "c"]) await quota.check(key);
    await clock.advance(60_000);
    expect(events).toEqual([{ type: "rate-limit:purged", count: 3 }]);
    expect(store.size).toBe(0);
    await quota.close();
    await store.close();
  });

  it("reports a failed purge and goes on", async () => {
    const clock = new FakeClock();
    const events: RateLimitEvent[] = [];
    const store = new MemoryRateLimitStore();
    const quota = await createQuota({
      store,
      limit: 10,
      window: "1s",
      clock,
      purgeIntervalMs: 1_000,
      onEvent: (event) => events.push(event),
    });
    await store.close();
    await clock.advance(2_000);
    expect(events.map((e) => e.type)).toEqual([
      "rate-limit:purge-failed",
      "rate-limit:purge-failed",
    ]);
    await quota.close();
  });
});
