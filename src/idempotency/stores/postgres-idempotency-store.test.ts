import { describe, expect, it } from "vitest";
import {
  dropSchema,
  TEST_DATABASE_URL,
  testSchemaName,
  withAdminClient,
} from "../../store/postgres/test-database.test-support.ts";
import { describeIdempotencyStoreContract } from "./idempotency-store-contract.test-support.ts";
import { PostgresIdempotencyStore } from "./postgres-idempotency-store.ts";
import { postgresTestStore } from "./test-stores.test-support.ts";

describeIdempotencyStoreContract(
  "PostgresIdempotencyStore (fresh schema per test)",
  "purge",
  postgresTestStore,
);

describe("PostgresIdempotencyStore", () => {
  it("prepares one table when several processes start together", async () => {
    const schema = testSchemaName();
    const stores = await Promise.all(
      Array.from({ length: 4 }, () =>
        PostgresIdempotencyStore.connect({
          connectionString: TEST_DATABASE_URL,
          schema,
          poolSize: 1,
        }),
      ),
    );
    try {
      const tables = await withAdminClient(async (client) => {
        const { rows } = await client.query<{ table_name: string }>(
          "SELECT table_name FROM information_schema.tables WHERE table_schema = $1",
          [schema],
        );
        return rows.map((row) => row.table_name);
      });
      expect(tables).toEqual(["idempotency_records"]);
    } finally {
      await Promise.all(stores.map((store) => store.close()));
      await dropSchema(schema);
    }
  });

  it("shares records between two stores (two processes) on one schema", async () => {
    const { store: a, url, cleanup } = await postgresTestStore();
    const b = await PostgresIdempotencyStore.connect({
      connectionString: TEST_DATABASE_URL,
      schema: new URL(url).searchParams.get("schema")!,
      poolSize: 1,
    });
    try {
      const record = {
        state: "in-flight" as const,
        fingerprint: { algorithm: "sha256-raw-v1", digest: "0".repeat(64) },
        leaseToken: "t",
        claimedAt: 1,
        leaseExpiresAt: 2,
        purgeAt: 3,
      };
      const [one, two] = await Promise.all([
        a.compareAndSet("s", undefined, { record, version: "v1" }, 0),
        b.compareAndSet("s", undefined, { record, version: "v2" }, 0),
      ]);
      expect([one, two].sort()).toEqual([false, true]);
    } finally {
      await b.close();
      await cleanup();
    }
  });

  it("names the schema it could not prepare", async () => {
    const error: unknown = await PostgresIdempotencyStore.connect({
      connectionString: TEST_DATABASE_URL.replace(/\/[^/]*$/, "/steadfast_no_such_database"),
      schema: "s",
    }).catch((e: unknown) => e);
    expect(String(error)).toMatch(/Could not prepare the idempotency store in schema s/);
  });
});
