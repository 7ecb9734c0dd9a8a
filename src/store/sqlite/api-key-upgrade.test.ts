import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterEach, beforeEach, describe, it } from "vitest";
import { T0, TENANT_A } from "../contract/fixtures.ts";
import { expectLegacyApiKeyUpgraded, LEGACY_KEY_HASH } from "../contract/api-key-contract.ts";
import { readMigrations } from "../migrations/read-migrations.ts";
import { SQLITE_MIGRATIONS_DIR } from "./apply-migrations.ts";
import { SqliteStore } from "./sqlite-store.ts";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "steadfast-key-upgrade-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("SQLite migration 0006 (API key lifecycle)", () => {
  it("keeps keys stored by older versions working, with an id, an unknown prefix and source env", async () => {
    const path = join(dir, "steadfast.db");
    const before = join(dir, "before");
    cpSync(SQLITE_MIGRATIONS_DIR, before, { recursive: true });
    for (const m of readMigrations(before)) if (m.version > 5) rmSync(join(before, m.file));
    const old = SqliteStore.open({ path, migrationsDir: before });
    await old.migrate();
    await old.close();
    // What addApiKey wrote before 0006: a hash, a tenant and a time.
    const hash = LEGACY_KEY_HASH;
    const db = new DatabaseSync(path);
    db.prepare("INSERT INTO tenants (id, created_at) VALUES (?, ?)").run(TENANT_A, T0);
    db.prepare("INSERT INTO api_keys (key_hash, tenant_id, created_at) VALUES (?, ?, ?)").run(
      hash,
      TENANT_A,
      T0,
    );
    db.close();

    const store = SqliteStore.open({ path });
    try {
      await store.migrate();
      await expectLegacyApiKeyUpgraded(store);
    } finally {
      await store.close();
    }
  });
});
