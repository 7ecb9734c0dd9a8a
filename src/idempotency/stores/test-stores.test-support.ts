// The three idempotency stores as the tests open them: SQLite on a temp file, PostgreSQL on a
// fresh schema of the test database, Redis under a fresh key prefix. Each comes with its cleanup,
// which closes it and removes what it wrote.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import {
  dropSchema,
  TEST_DATABASE_URL,
  testSchemaName,
} from "../../store/postgres/test-database.test-support.ts";
import type { IdempotencyStore } from "../idempotency-store.ts";
import { PostgresIdempotencyStore } from "./postgres-idempotency-store.ts";
import { RedisIdempotencyStore } from "./redis-idempotency-store.ts";
import { SqliteIdempotencyStore } from "./sqlite-idempotency-store.ts";

/** The Redis the tests use: `STEADFAST_TEST_REDIS_URL`, else the local one. */
export const TEST_REDIS_URL = process.env.STEADFAST_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

/** A store for a test, and how to dispose of it. */
export interface TestStore<S extends IdempotencyStore = IdempotencyStore> {
  store: S;
  /** The URL `createIdempotency({ store })` would open the same records with. */
  url: string;
  cleanup: () => Promise<void>;
}

/** A SQLite store on a file of a fresh temp directory. */
export function sqliteTestStore(): Promise<TestStore<SqliteIdempotencyStore>> {
  const dir = mkdtempSync(join(tmpdir(), "steadfast-idempotency-"));
  const path = join(dir, "idempotency.db");
  const store = SqliteIdempotencyStore.open({ path });
  return Promise.resolve({
    store,
    url: `sqlite:${path}`,
    cleanup: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  });
}

/** A PostgreSQL store on a fresh schema of the test database (dropped by the cleanup). */
export async function postgresTestStore(): Promise<TestStore<PostgresIdempotencyStore>> {
  const schema = testSchemaName();
  let store: PostgresIdempotencyStore;
  try {
    store = await PostgresIdempotencyStore.connect({
      connectionString: TEST_DATABASE_URL,
      schema,
      poolSize: 4,
      applicationName: "steadfast-test",
    });
  } catch (error) {
    throw new Error(
      `These tests need PostgreSQL at ${TEST_DATABASE_URL} (set STEADFAST_TEST_PG_URL to another): ${String(error)}`,
      { cause: error },
    );
  }
  const url = new URL(TEST_DATABASE_URL);
  url.searchParams.set("schema", schema);
  return {
    store,
    url: url.toString(),
    cleanup: async () => {
      await store.close();
      await dropSchema(schema);
    },
  };
}

/** A Redis store under a fresh key prefix (its keys deleted by the cleanup). */
export async function redisTestStore(): Promise<TestStore<RedisIdempotencyStore>> {
  const prefix = `steadfast-test:${randomBytes(6).toString("hex")}:`;
  let store: RedisIdempotencyStore;
  try {
    store = await RedisIdempotencyStore.connect({ url: TEST_REDIS_URL, prefix });
  } catch (error) {
    throw new Error(
      `These tests need Redis at ${TEST_REDIS_URL} (set STEADFAST_TEST_REDIS_URL to another): ${String(error)}`,
      { cause: error },
    );
  }
  const url = new URL(TEST_REDIS_URL);
  url.searchParams.set("prefix", prefix);
  return {
    store,
    url: url.toString(),
    cleanup: async () => {
      await store.close();
      await deleteRedisKeys(prefix);
    },
  };
}

/** Deletes every key under `prefix` on the test Redis. */
export async function deleteRedisKeys(prefix: string): Promise<void> {
  await withRedis(async (redis) => {
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 500);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== "0");
  });
}

/** Runs `body` with a connection of its own to the test Redis. */
export async function withRedis<T>(body: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis(TEST_REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  try {
    return await body(redis);
  } finally {
    await redis.quit();
  }
}

/** Each store kind, by name, for tests that run against all three. */
export const TEST_STORES = {
  sqlite: sqliteTestStore,
  postgres: postgresTestStore,
  redis: redisTestStore,
} as const;
