/**
 * The Redis connection of the idempotency and rate-limit stores (issue 13): one that fails fast
 * while the server is away rather than queueing commands behind a reconnect.
 */
import { Redis } from "ioredis";
import { StoreError } from "../core/errors.ts";

/**
 * Connects to the Redis server at `url`, commands failing fast (no offline queue, one retry)
 * while it is away: the caller decides what a failed command means (a 503, `whenStoreFails`).
 *
 * @param product The store in error messages: `idempotency`, `rate limit`.
 * @throws StoreError `connect_failed` (the client disconnected) when the server cannot be reached.
 * @example const redis = await connectRedisStore("redis://127.0.0.1:6379", "idempotency");
 */
export async function connectRedisStore(url: string, product: string): Promise<Redis> {
  const redis = new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
  });
  // Connection errors surface on the next command; the event alone would be reported unhandled.
  redis.on("error", () => undefined);
  try {
    await redis.connect();
  } catch (error) {
    redis.disconnect();
    throw new StoreError(
      "connect_failed",
      `Could not connect the ${product} store to Redis: ${String(error)}`,
      { cause: error },
    );
  }
  return redis;
}
