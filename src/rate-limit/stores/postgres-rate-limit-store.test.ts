import { describe, expect, it } from "vitest";
import {
  dropSchema,
  TEST_DATABASE_URL,
  testSchemaName,
  withAdminClient,
} from "../../store/postgres/test-database.test-support.ts";
import { PostgresRateLimitStore } from "./postgres-rate-limit-store.ts";
import { describeRateLimitStoreContract } from "./rate-limit-store-contract.test-support.ts";
import { postgresTestStore } from "./test-rate-limit-stores.test-support.ts";

describeRateLimitStoreContract(
  "PostgresRateLimitStore (fresh schema per test)",
  { expiry: "purge", sharing: "shared" },
  postgresTestStore,
);

describe("PostgresRateLimitStore", () => {
  it("prepares one table when several processes start together", async () => {
    const schema = testSchemaName();
    const stores = await Promise.all(
      Array.from({ length: 4 }, () =>
        PostgresRateLimitStore.connect({
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
      expect(tables).toEqual(["rate_limit_buckets"]);
    } finally {
      await Promise.all(stores.map((store) => store.close()));
      await dropSchema(schema);
    }
  });

  it("names the schema it could not prepare", async () => {
    const error: unknown = await PostgresRateLimitStore.connect({
      connectionString: TEST_DATABASE_URL.replace(/\/[^/]*$/, "/steadfast_no_such_database"),
      schema: "s",
    }).catch((e: unknown) => e);
    expect(String(error)).toMatch(/Could not prepare the rate limit store in schema s/);
  });
});
