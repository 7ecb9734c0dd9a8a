/**
 * Buckets in Redis (issue 13), shared by every process on the server: one string key per bucket
 * holding its TAT (epoch µs). Each step is a Lua script computing GCRA (`gcra.ts`), which Redis
 * runs atomically; a refused step writes nothing (unless it bounds a TAT left too far ahead).
 * Each script touches a single key, so any bucket may live on any shard. Redis expires a bucket
 * itself once it is full again (a TTL on each write): there is nothing to purge.
 */
import type { Redis } from "ioredis";
import { StoreError } from "../../core/errors.ts";
import { storeCall } from "../../store-plumbing/store-call.ts";
import { connectRedisStore } from "../../store-plumbing/redis-connection.ts";
import type { GcraOutcome, GcraStep } from "../gcra.ts";
import type { RateLimitStore } from "../rate-limit-store.ts";

/** Options of `RedisRateLimitStore.connect`. */
export interface RedisRateLimitStoreOptions {
  /** `redis://[user:password@]host:6379[/db]` (or `rediss://` for TLS). */
  url: string;
  /** Prefix of the buckets' keys. Default `steadfast:rate-limit:`. */
  prefix?: string;
}

// A bucket outlives its TAT by this much, ms. Its TTL runs on Redis's clock, its TAT on the
// callers': a bucket that expired early would hand out a full bucket too soon, while one kept a
// little longer changes nothing (a TAT in the past reads as a full bucket anyway).
const TTL_MARGIN_MS = 60_000;

// KEYS[1]: the bucket; ARGV: now, increment, capacity (µs), TTL margin (ms). Returns
// {1, tat} when allowed (tat stored), {0, tat} when refused (stored only when it bounded a TAT
// left too far ahead). Numbers go out as integer strings ('%.0f'): Lua's default formatting of a
// double could turn 1.7e15 into an exponent.
const TAKE = `
local now = tonumber(ARGV[1])
local inc = tonumber(ARGV[2])
local cap = tonumber(ARGV[3])
local base = now
local bounded = false
local stored = redis.call('GET', KEYS[1])
if stored then
  local tat = tonumber(stored)
  if tat > now then base = tat end
  -- Further ahead than the capacity (a clock stepped back, a smaller burst): an empty bucket.
  if base > now + cap then
    base = now + cap
    bounded = true
  end
end
local nxt = base
local allowed = 0
if base + inc - now <= cap then
  nxt = base + inc
  allowed = 1
end
local text = string.format('%.0f', nxt)
if allowed == 1 or bounded then
  redis.call('SET', KEYS[1], text, 'PX', math.ceil((nxt - now) / 1000) + tonumber(ARGV[4]))
end
return {allowed, text}
`;

interface WithTake {
  steadfastRateLimitTake(
    key: string,
    nowUs: number,
    incrementUs: number,
    capacityUs: number,
    marginMs: number,
  ): Promise<[number, string]>;
}

/** A `RateLimitStore` on a Redis server. */
export class RedisRateLimitStore implements RateLimitStore {
  readonly #redis: Redis;
  readonly #prefix: string;
  #closed = false;

  private constructor(redis: Redis, prefix: string) {
    this.#redis = redis;
    this.#prefix = prefix;
  }

  /**
   * Connects to the Redis server at `options.url`.
   *
   * @example const store = await RedisRateLimitStore.connect({ url: "redis://127.0.0.1:6379" });
   */
  static async connect(options: RedisRateLimitStoreOptions): Promise<RedisRateLimitStore> {
    const redis = await connectRedisStore(options.url, "rate limit");
    redis.defineCommand("steadfastRateLimitTake", { numberOfKeys: 1, lua: TAKE });
    return new RedisRateLimitStore(redis, options.prefix ?? "steadfast:rate-limit:");
  }

  async take(bucket: string, step: GcraStep): Promise<GcraOutcome> {
    const [allowed, tat] = await this.#call(() =>
      (this.#redis as unknown as WithTake).steadfastRateLimitTake(
        this.#prefix + bucket,
        step.nowUs,
        step.incrementUs,
        step.capacityUs,
        TTL_MARGIN_MS,
      ),
    );
    return { allowed: allowed === 1, tatUs: Number(tat) };
  }

  /** Nothing to do: Redis expires each bucket once it is full again. */
  purgeExpired(): Promise<number> {
    if (this.#closed) return Promise.reject(closed());
    return Promise.resolve(0);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#redis.quit().catch(() => this.#redis.disconnect());
  }

  #call<T>(operation: () => Promise<T>): Promise<T> {
    return storeCall(this.#closed, "Redis rate limit", operation);
  }
}

function closed(): StoreError {
  return new StoreError("store_closed", "The Redis rate limit store is closed.");
}
