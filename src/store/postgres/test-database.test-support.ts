// Test helpers for PostgresStore: a throwaway schema per store, dropped afterwards. The tests
// need a real PostgreSQL (CI has one); when it cannot be reached they fail, naming the URL and
// how to point them elsewhere, rather than being skipped.
import { randomBytes } from "node:crypto";
import pg from "pg";
import { PostgresStore, type PostgresStoreOptions } from "./postgres-store.ts";

/** The database the tests use: `STEADFAST_TEST_PG_URL`, else the local `test` database. */
export const TEST_DATABASE_URL =
  process.env.STEADFAST_TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432/test";

/** A fresh schema name, `steadfast_test_<random>`. */
export function testSchemaName(): string {
  return `steadfast_test_${randomBytes(6).toString("hex")}`;
}

/** Runs `body` on a single connection to the test database (not through any store). */
export async function withAdminClient<T>(body: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
  try {
    await client.connect();
  } catch (error) {
    throw unreachable(error);
  }
  try {
    return await body(client);
  } finally {
    await client.end();
  }
}

/** Drops `schema` and everything in it. */
export async function dropSchema(schema: string): Promise<void> {
  await withAdminClient(async (client) => {
    await client.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`);
  });
}

/**
 * A store on a fresh schema of the test database (not migrated), with a small pool so that
 * parallel test files stay within `max_connections`, and its cleanup: close, drop the schema.
 */
export async function openTestStore(
  options: Partial<PostgresStoreOptions> = {},
): Promise<{ store: PostgresStore; schema: string; cleanup: () => Promise<void> }> {
  const schema = options.schema ?? testSchemaName();
  let store: PostgresStore;
  try {
    store = await PostgresStore.connect({
      connectionString: TEST_DATABASE_URL,
      poolSize: 4,
      applicationName: "steadfast-test",
      ...options,
      schema,
    });
  } catch (error) {
    throw unreachable(error);
  }
  return {
    store,
    schema,
    cleanup: async () => {
      await store.close();
      await dropSchema(schema);
    },
  };
}

function unreachable(cause: unknown): Error {
  return new Error(
    `These tests need PostgreSQL at ${TEST_DATABASE_URL} and could not use it (${String(cause)}). ` +
      "Start PostgreSQL, or set STEADFAST_TEST_PG_URL to a database the tests may create " +
      "schemas in.",
    { cause },
  );
}
