import { cpSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterEach, beforeEach, describe, it } from "vitest";
import {
  expectGeneratedKeyKeptThroughUpgrade,
  expectListedKeyFileKeyManagedByTheVariable,
  PRE_UPGRADE_GENERATED_HASH,
} from "../../server/api-key-upgrade.test-support.ts";
import { expectLegacyApiKeyUpgraded, LEGACY_KEY_HASH } from "../contract/api-key-contract.ts";
import { T0, TENANT_A } from "../contract/fixtures.ts";
import { readMigrations } from "../migrations/read-migrations.ts";
import { SQLITE_MIGRATIONS_DIR } from "./apply-migrations.ts";
import { SqliteStore } from "./sqlite-store.ts";

let dir: string;
let dataDir: string;
let path: string;
const opened: SqliteStore[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "steadfast-key-upgrade-"));
  dataDir = join(dir, "data");
  mkdirSync(dataDir);
  path = join(dataDir, "steadfast.db");
});
afterEach(async () => {
  for (const store of opened.splice(0)) await store.close();
  rmSync(dir, { recursive: true, force: true });
});

/**
 * A database made by the schema before 0006, holding what addApiKey wrote then (a hash, a tenant
 * and a time) for each of `keys`; then the store, migrated to the current schema.
 */
async function upgradedStore(
  keys: readonly [hash: string, tenant: string][],
): Promise<SqliteStore> {
  const before = join(dir, "before");
  cpSync(SQLITE_MIGRATIONS_DIR, before, { recursive: true });
  for (const m of readMigrations(before)) if (m.version > 5) rmSync(join(before, m.file));
  const old = SqliteStore.open({ path, migrationsDir: before });
  await old.migrate();
  await old.close();
  const db = new DatabaseSync(path);
  for (const [hash, tenant] of keys) {
    db.prepare("INSERT OR IGNORE INTO tenants (id, created_at) VALUES (?, ?)").run(tenant, T0);
    db.prepare("INSERT INTO api_keys (key_hash, tenant_id, created_at) VALUES (?, ?, ?)").run(
      hash,
      tenant,
      T0,
    );
  }
  db.close();
  const store = SqliteStore.open({ path });
  opened.push(store);
  await store.migrate();
  return store;
}

describe("SQLite migration 0006 (API key lifecycle)", () => {
  it("keeps keys stored by older versions working, with an id, an unknown prefix and source env", async () => {
    await expectLegacyApiKeyUpgraded(await upgradedStore([[LEGACY_KEY_HASH, TENANT_A]]));
  });

  it.each([
    [
      "keeps the key a first start generated (the key file's) through a start with STEADFAST_API_KEYS",
      false,
    ],
    ["brings the generated key back if a start had revoked it for not being listed", true],
  ])("%s", async (_name, revokedBefore) => {
    const store = await upgradedStore([
      [LEGACY_KEY_HASH, TENANT_A],
      [PRE_UPGRADE_GENERATED_HASH, "default"],
    ]);
    await expectGeneratedKeyKeptThroughUpgrade(store, {
      db: `sqlite:${path}`,
      dataDir,
      revokedBefore,
    });
  });

  it("leaves the key file's key to STEADFAST_API_KEYS when the variable lists it too", async () => {
    const store = await upgradedStore([[PRE_UPGRADE_GENERATED_HASH, "default"]]);
    await expectListedKeyFileKeyManagedByTheVariable(store, { db: `sqlite:${path}`, dataDir });
  });
});
