import { describe, expect, it } from "vitest";
import { FakeClock } from "../../testing/fake-clock.ts";
import { SeededRandom } from "../../testing/seeded-random.ts";
import { IdempotencyLedger } from "../record-ledger.ts";
import { describeIdempotencyStoreContract } from "./idempotency-store-contract.test-support.ts";
import { RedisIdempotencyStore } from "./redis-idempotency-store.ts";
import { redisTestStore, withRedis } from "./test-stores.test-support.ts";

describeIdempotencyStoreContract(
  "RedisIdempotencyStore (fresh prefix per test)",
  "ttl",
  redisTestStore,
);

describe("RedisIdempotencyStore", () => {
  it("has Redis expire each record at its purgeAt, as of the caller's clock", async () => {
    const { store, url, cleanup } = await redisTestStore();
    const prefix = new URL(url).searchParams.get("prefix")!;
    try {
      const clock = new FakeClock();
      const ledger = new IdempotencyLedger(store, clock, new SeededRandom(3), {
        leaseMs: 10_000,
        retentionMs: 50_000,
      });
      const fingerprint = { algorithm: "sha256-raw-v1", digest: "0".repeat(64) };
      const claim = await ledger.claim("s", fingerprint);
      if (claim.outcome !== "claimed") throw new Error("not claimed");
      const ttl = (): Promise<number> => withRedis((redis) => redis.pttl(`${prefix}s`));
      // In flight: kept for the lease, then the retention.
      expect(await ttl()).toBeGreaterThan(59_000);
      expect(await ttl()).toBeLessThanOrEqual(60_000);
      await clock.advance(5_000);
      await ledger.complete("s", claim.leaseToken, {
        status: 200,
        headers: [],
        body: new Uint8Array(),
      });
      expect(await ttl()).toBeGreaterThan(49_000);
      expect(await ttl()).toBeLessThanOrEqual(50_000);
    } finally {
      await cleanup();
    }
  });

  it("fails to connect with connect_failed, naming Redis", async () => {
    const error: unknown = await RedisIdempotencyStore.connect({
      url: "redis://127.0.0.1:1",
    }).catch((e: unknown) => e);
    expect(String(error)).toMatch(/Could not connect the idempotency store to Redis/);
  });
});
