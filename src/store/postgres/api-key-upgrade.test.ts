import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import { isApiKeyId } from "../../core/ids.ts";
import { T0, TENANT_A } from "../contract/fixtures.ts";
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
    const hash = "0123456789abcdef".repeat(4);
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
    const key = await store.findApiKey(hash);
    expect(key).toStrictEqual({
      id: "key_0123456789ABCDEF0123456789",
      tenantId: TENANT_A,
      source: "env",
      createdAt: T0,
    });
    expect(isApiKeyId(key!.id)).toBe(true);
    expect(await store.countApiKeys()).toBe(1);
    expect(await store.revokeApiKeysNotIn("env", [], T0 + 1)).toStrictEqual([
      { ...key, revokedAt: T0 + 1 },
    ]);
    expect(await store.findApiKey(hash)).toBeUndefined();
  });
});
