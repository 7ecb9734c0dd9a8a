// The rate limit stores as the tests open them: in memory, SQLite on a temp file, PostgreSQL on a
// fresh schema of the test database, Redis under a fresh key prefix. Each comes with its cleanup
// (closes it and removes what it wrote) and, for the shared stores, a way to open a second store
// on the same data, as a second process would.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  deleteRedisKeys,
  TEST_REDIS_URL,
} from "../../idempotency/stores/test-stores.test-support.ts";
import {
  dropSchema,
  TEST_DATABASE_URL,
  testSchemaName,
} from "../../store/postgres/test-database.test-support.ts";
import type { RateLimitStore } from "../rate-limit-store.ts";
import { MemoryRateLimitStore } from "./memory-rate-limit-store.ts";
import { PostgresRateLimitStore } from "./postgres-rate-limit-store.ts";
import { RedisRateLimitStore } from "./redis-rate-limit-store.ts";
import { SqliteRateLimitStore } from "./sqlite-rate-limit-store.ts";

/** A store for a test, and how to dispose of it. */
export interface RateLimitTestStore<S extends RateLimitStore = RateLimitStore> {
  store: S;
  /** The URL `createRateLimit({ store })` would open the same buckets with. */
  url: string;
  /**
   * Opens another store on the same buckets (another process's), closed by `cleanup`;
   * `undefined` for the in-memory store, whose buckets are its own.
   */
  openTwin: (() => Promise<RateLimitStore>) | undefined;
  cleanup: () => Promise<void>;
}

/** Closes each of `stores` (twins opened during a test), then runs `remove`. */
function cleanupOf(
  stores: RateLimitStore[],
  remove: () => Promise<void> | void,
): () => Promise<void> {
  return async () => {
    for (const store of stores) await store.close();
    await remove();
  };
}

/** An in-memory store (`memory`). */
export function memoryTestStore(): Promise<RateLimitTestStore<MemoryRateLimitStore>> {
  const store = new MemoryRateLimitStore();
  return Promise.resolve({
    store,
    url: "memory",
    openTwin: undefined,
    cleanup: () => store.close(),
  });
}

/** A SQLite store on a file of a fresh temp directory. */
export function sqliteTestStore(): Promise<RateLimitTestStore<SqliteRateLimitStore>> {
  const dir = mkdtempSync(join(tmpdir(), "steadfast-rate-limit-"));
  const path = join(dir, "rate-limit.db");
  const store = SqliteRateLimitStore.open({ path });
  const opened: RateLimitStore[] = [store];
  return Promise.resolve({
    store,
    url: `sqlite:${path}`,
    openTwin: () => {
      const twin = SqliteRateLimitStore.open({ path });
      opened.push(twin);
      return Promise.resolve(twin);
    },
    cleanup: cleanupOf(opened, () => rmSync(dir, { recursive: true, force: true })),
  });
}

/** A PostgreSQL store on a fresh schema of the test database (dropped by the cleanup). */
export async function postgresTestStore(): Promise<RateLimitTestStore<PostgresRateLimitStore>> {
  const schema = testSchemaName();
  const connect = (): Promise<PostgresRateLimitStore> =>
    PostgresRateLimitStore.connect({
      connectionString: TEST_DATABASE_URL,
      schema,
      poolSize: 4,
      applicationName: "steadfast-test",
    });
  let store: PostgresRateLimitStore;
  try {
    store = await connect();
  } catch (error) {
    throw new Error(
      `These tests need PostgreSQL at ${TEST_DATABASE_URL} (set STEADFAST_TEST_PG_URL to another): ${String(error)}`,
      { cause: error },
    );
  }
  const opened: RateLimitStore[] = [store];
  const url = new URL(TEST_DATABASE_URL);
  url.searchParams.set("schema", schema);
  return {
    store,
    url: url.toString(),
    openTwin: async () => {
      const twin = await connect();
      opened.push(twin);
      return twin;
    },
    cleanup: cleanupOf(opened, () => dropSchema(schema)),
  };
}

/** A Redis store under a fresh key prefix (its keys deleted by the cleanup). */
export async function redisTestStore(): Promise<RateLimitTestStore<RedisRateLimitStore>> {
  const prefix = `steadfast-test:rate-limit:${randomBytes(6).toString("hex")}:`;
  const connect = (): Promise<RedisRateLimitStore> =>
    RedisRateLimitStore.connect({ url: TEST_REDIS_URL, prefix });
  let store: RedisRateLimitStore;
  try {
    store = await connect();
  } catch (error) {
    throw new Error(
      `These tests need Redis at ${TEST_REDIS_URL} (set STEADFAST_TEST_REDIS_URL to another): ${String(error)}`,
      { cause: error },
    );
  }
  const opened: RateLimitStore[] = [store];
  const url = new URL(TEST_REDIS_URL);
  url.searchParams.set("prefix", prefix);
  return {
    store,
    url: url.toString(),
    openTwin: async () => {
      const twin = await connect();
      opened.push(twin);
      return twin;
    },
    cleanup: cleanupOf(opened, () => deleteRedisKeys(prefix)),
  };
}
