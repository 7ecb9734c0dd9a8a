import { describe, expect, it } from "vitest";
import { withRedis } from "../../idempotency/stores/test-stores.test-support.ts";
import { describeRateLimitStoreContract } from "./rate-limit-store-contract.test-support.ts";
import { RedisRateLimitStore } from "./redis-rate-limit-store.ts";
import { redisTestStore } from "./test-rate-limit-stores.test-support.ts";

describeRateLimitStoreContract(
  "RedisRateLimitStore (fresh prefix per test)",
  { expiry: "ttl", sharing: "shared" },
  redisTestStore,
);

describe("RedisRateLimitStore", () => {
  it("keeps a bucket as an integer TAT, expiring a minute after it is full again", async () => {
    const { store, url, cleanup } = await redisTestStore();
    const prefix = new URL(url).searchParams.get("prefix")!;
    try {
      const nowUs = 1_700_000_000_000_000;
      await store.take("b", { nowUs, incrementUs: 2_500_000, capacityUs: 10_000_000 });
      const [value, ttl] = await withRedis((redis) =>
        Promise.all([redis.get(`${prefix}b`), redis.pttl(`${prefix}b`)]),
      );
      expect(value).toBe(String(nowUs + 2_500_000));
      expect(ttl).toBeGreaterThan(62_000);
      expect(ttl).toBeLessThanOrEqual(62_500);
    } finally {
      await cleanup();
    }
  });

  it("fails to connect with connect_failed, naming Redis", async () => {
    const error: unknown = await RedisRateLimitStore.connect({
      url: "redis://127.0.0.1:1",
    }).catch((e: unknown) => e);
    expect(String(error)).toMatch(/Could not connect the rate limit store to Redis/);
  });
});
