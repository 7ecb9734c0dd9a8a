import { cpSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterEach, describe, it } from "vitest";
import {
  expectGeneratedKeyKeptThroughUpgrade,
  expectListedKeyFileKeyManagedByTheVariable,
  PRE_UPGRADE_GENERATED_HASH,
} from "../../server/api-key-upgrade.test-support.ts";
import { expectLegacyApiKeyUpgraded, LEGACY_KEY_HASH } from "../contract/api-key-contract.ts";
import { T0, TENANT_A } from "../contract/fixtures.ts";
import { readMigrations } from "../migrations/read-migrations.ts";
import { POSTGRES_MIGRATIONS_DIR } from "./apply-migrations.ts";
import type { PostgresStore } from "./postgres-store.ts";
import {
  dropSchema,
  openTestStore,
  testSchemaName,
  TEST_DATABASE_URL,
  withAdminClient,
} from "./test-database.test-support.ts";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A temp directory, removed after the test. */
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "steadfast-pg-key-upgrade-"));
  cleanups.push(() => Promise.resolve(rmSync(dir, { recursive: true, force: true })));
  return dir;
}

/**
 * A schema made by the migrations before 0005, holding what addApiKey wrote then (a hash, a
 * tenant and a time) for each of `keys`; then the store, migrated to the current schema.
 */
async function upgradedStore(
  keys: readonly [hash: string, tenant: string][],
): Promise<PostgresStore> {
  const dir = tempDir();
  cpSync(POSTGRES_MIGRATIONS_DIR, dir, { recursive: true });
  for (const m of readMigrations(dir)) if (m.version > 4) rmSync(join(dir, m.file));
  const schema = testSchemaName();
  cleanups.push(() => dropSchema(schema));
  const { store: old } = await openTestStore({ schema, migrationsDir: dir });
  await old.migrate();
  await old.close();
  await withAdminClient(async (client) => {
    const s = pg.escapeIdentifier(schema);
    for (const [hash, tenant] of keys) {
      await client.query(
        `INSERT INTO ${s}.tenants (id, created_at) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
        [tenant, T0],
      );
      await client.query(
        `INSERT INTO ${s}.api_keys (key_hash, tenant_id, created_at) VALUES ($1, $2, $3)`,
        [hash, tenant, T0],
      );
    }
  });
  const { store } = await openTestStore({ schema });
  cleanups.push(() => store.close());
  await store.migrate();
  return store;
}

describe("PostgreSQL migration 0005 (API key lifecycle)", () => {
  it("keeps keys stored by older versions working, with an id, an unknown prefix and source env", async () => {
    await expectLegacyApiKeyUpgraded(await upgradedStore([[LEGACY_KEY_HASH, TENANT_A]]));
  });

  it("keeps the key a first start generated (the key file's) through a start with STEADFAST_API_KEYS", async () => {
    // Versions before key sources wrote the key file for a PostgreSQL database too.
    const dataDir = join(tempDir(), "data");
    mkdirSync(dataDir);
    const store = await upgradedStore([
      [LEGACY_KEY_HASH, TENANT_A],
      [PRE_UPGRADE_GENERATED_HASH, "default"],
    ]);
    await expectGeneratedKeyKeptThroughUpgrade(store, { db: TEST_DATABASE_URL, dataDir });
  });

  it("leaves the key file's key to STEADFAST_API_KEYS when the variable lists it too", async () => {
    const dataDir = join(tempDir(), "data");
    mkdirSync(dataDir);
    const store = await upgradedStore([[PRE_UPGRADE_GENERATED_HASH, "default"]]);
    await expectListedKeyFileKeyManagedByTheVariable(store, { db: TEST_DATABASE_URL, dataDir });
  });
});
