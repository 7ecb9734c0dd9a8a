import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterEach, describe, it } from "vitest";
import { T0, TENANT_A } from "../contract/fixtures.ts";
import { expectLegacyApiKeyUpgraded, LEGACY_KEY_HASH } from "../contract/api-key-contract.ts";
import { readMigrations } from "../migrations/read-migrations.ts";
import { POSTGRES_MIGRATIONS_DIR } from "./apply-migrations.ts";
import {
  dropSchema,
  openTestStore,
  testSchemaName,
  withAdminClient,
} from "./test-database.test-support.ts";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe("PostgreSQL migration 0005 (API key lifecycle)", () => {
  it("keeps keys stored by older versions working, with an id, an unknown prefix and source env", async () => {
    const dir = mkdtempSync(join(tmpdir(), "steadfast-pg-key-upgrade-"));
    cleanups.push(() => Promise.resolve(rmSync(dir, { recursive: true, force: true })));
    cpSync(POSTGRES_MIGRATIONS_DIR, dir, { recursive: true });
    for (const m of readMigrations(dir)) if (m.version > 4) rmSync(join(dir, m.file));
    const schema = testSchemaName();
    cleanups.push(() => dropSchema(schema));
    const { store: old } = await openTestStore({ schema, migrationsDir: dir });
    await old.migrate();
    await old.close();
    // What addApiKey wrote before 0005: a hash, a tenant and a time.
    const hash = LEGACY_KEY_HASH;
    await withAdminClient(async (client) => {
      const s = pg.escapeIdentifier(schema);
      await client.query(`INSERT INTO ${s}.tenants (id, created_at) VALUES ($1, $2)`, [
        TENANT_A,
        T0,
      ]);
      await client.query(
        `INSERT INTO ${s}.api_keys (key_hash, tenant_id, created_at) VALUES ($1, $2, $3)`,
        [hash, TENANT_A, T0],
      );
    });

    const { store } = await openTestStore({ schema });
    cleanups.push(() => store.close());
    await store.migrate();
    await expectLegacyApiKeyUpgraded(store);
  });
});
