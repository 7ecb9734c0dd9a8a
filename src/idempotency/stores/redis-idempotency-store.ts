/**
 * Idempotency records in Redis (issue 13), shared by every process on the server: one hash per
 * scope (`version`, `meta`, `body`). The compare-and-set is a Lua script, which Redis runs
 * atomically; every other operation touches a single key, so any key may live on any shard.
 * Redis expires a record itself at its `purgeAt` (a TTL set on each write, relative to the
 * caller's clock): there is nothing to purge.
 */
import type { Redis } from "ioredis";
import { storeCall } from "../../store-plumbing/store-call.ts";
import { connectRedisStore } from "../../store-plumbing/redis-connection.ts";
import type { IdempotencyStore, VersionedRecord } from "../idempotency-store.ts";
import { fromRow, toRow, type RecordRow } from "./record-rows.ts";

/** Options of `RedisIdempotencyStore.connect`. */
export interface RedisIdempotencyStoreOptions {
  /** `redis://[user:password@]host:6379[/db]` (or `rediss://` for TLS). */
  url: string;
  /** Prefix of the records' keys. Default `steadfast:idempotency:`. */
  prefix?: string;
}

// KEYS[1]: the record; ARGV: expected version ('' for none), next version ('' to delete), meta,
// body, TTL in ms. Returns 1 when written, 0 when the version was not the expected one.
const COMPARE_AND_SET = `
local current = redis.call('HGET', KEYS[1], 'version')
if ARGV[1] == '' then
  if current then return 0 end
elseif current ~= ARGV[1] then
  return 0
end
redis.call('DEL', KEYS[1])
if ARGV[2] == '' then return 1 end
redis.call('HSET', KEYS[1], 'version', ARGV[2], 'meta', ARGV[3], 'body', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
`;

// KEYS[1]: the record; ARGV: version, meta, body, TTL in ms of the claim. Writes it and returns
// nil when there is no record (Redis expires records at their purgeAt), else returns the record.
const CLAIM_IF_ABSENT = `
local current = redis.call('HMGET', KEYS[1], 'version', 'meta', 'body')
if current[1] then return current end
redis.call('HSET', KEYS[1], 'version', ARGV[1], 'meta', ARGV[2], 'body', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return false
`;

interface WithCompareAndSet {
  steadfastIdempotencyClaimBuffer(
    key: string,
    version: string,
    meta: string,
    body: Buffer,
    ttlMs: number,
  ): Promise<(Buffer | null)[] | null>;
  steadfastIdempotencyCas(
    key: string,
    expected: string,
    next: string,
    meta: string,
    body: Buffer,
    ttlMs: number,
  ): Promise<number>;
}

/** An `IdempotencyStore` on a Redis server. */
export class RedisIdempotencyStore implements IdempotencyStore {
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
   * @example const store = await RedisIdempotencyStore.connect({ url: "redis://127.0.0.1:6379" });
   */
  static async connect(options: RedisIdempotencyStoreOptions): Promise<RedisIdempotencyStore> {
    const redis = await connectRedisStore(options.url, "idempotency");
    redis.defineCommand("steadfastIdempotencyCas", { numberOfKeys: 1, lua: COMPARE_AND_SET });
    redis.defineCommand("steadfastIdempotencyClaim", { numberOfKeys: 1, lua: CLAIM_IF_ABSENT });
    return new RedisIdempotencyStore(redis, options.prefix ?? "steadfast:idempotency:");
  }

  async read(scope: string): Promise<VersionedRecord | undefined> {
    const [version, meta, body] = await this.#call(() =>
      this.#redis.hmgetBuffer(this.#prefix + scope, "version", "meta", "body"),
    );
    return recordOf(version, meta, body);
  }

  async claimIfAbsent(
    scope: string,
    next: VersionedRecord,
    now: number,
  ): Promise<VersionedRecord | undefined> {
    const { meta, body, ttlMs } = encode(next, now);
    const current = await this.#call(() =>
      (this.#redis as unknown as WithCompareAndSet).steadfastIdempotencyClaimBuffer(
        this.#prefix + scope,
        next.version,
        meta,
        body,
        ttlMs,
      ),
    );
    if (current === null) return undefined;
    return recordOf(current[0], current[1], current[2]);
  }

  async compareAndSet(
    scope: string,
    expectedVersion: string | undefined,
    next: VersionedRecord | undefined,
    now: number,
  ): Promise<boolean> {
    const { meta, body, ttlMs } =
      next === undefined ? { meta: "", body: Buffer.alloc(0), ttlMs: 1 } : encode(next, now);
    const written = await this.#call(() =>
      (this.#redis as unknown as WithCompareAndSet).steadfastIdempotencyCas(
        this.#prefix + scope,
        expectedVersion ?? "",
        next?.version ?? "",
        meta,
        body,
        ttlMs,
      ),
    );
    return written === 1;
  }

  /** Nothing to do: Redis expires each record at its `purgeAt`. */
  purgeExpired(): Promise<number> {
    return Promise.resolve(0);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#redis.quit().catch(() => this.#redis.disconnect());
  }

  #call<T>(operation: () => Promise<T>): Promise<T> {
    return storeCall(this.#closed, "Redis idempotency", operation);
  }
}

// A record as the scripts write it: the row but its version and body as JSON, the body as bytes,
// and the TTL that expires it at its purgeAt.
function encode(next: VersionedRecord, now: number): { meta: string; body: Buffer; ttlMs: number } {
  const { version: _version, response_body, ...row } = toRow(next);
  const bytes = response_body ?? new Uint8Array();
  return {
    meta: JSON.stringify(row),
    // ioredis sends a Buffer as bytes (any other Uint8Array as its numbers, comma-joined).
    body: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
    ttlMs: Math.max(1, Math.ceil(next.record.purgeAt - now)),
  };
}

function recordOf(
  version: Buffer | null | undefined,
  meta: Buffer | null | undefined,
  body: Buffer | null | undefined,
): VersionedRecord | undefined {
  if (version == null || meta == null) return undefined;
  const row = JSON.parse(meta.toString("utf8")) as Omit<RecordRow, "version" | "response_body">;
  return fromRow({ ...row, version: version.toString("utf8"), response_body: body ?? null });
}
