import { join } from "node:path";
import pg from "pg";
import { readMigrations } from "../migrations/read-migrations.ts";
import { StoreError } from "../../core/errors.ts";
import type { PostgresConnection, Query } from "./postgres-connection.ts";
import type { SchemaNames } from "./schema-names.ts";

/** The PostgreSQL migrations shipped with Steadfast: `src/store/migrations/postgres/`. */
export const POSTGRES_MIGRATIONS_DIR = join(import.meta.dirname, "..", "migrations", "postgres");

/**
 * Applies the migrations of `directory` that `<schema>.schema_migrations` does not list yet, in
 * version order, creating the schema if needed. Everything happens in one transaction holding
 * `pg_advisory_xact_lock(names.migrationLockKey)`, so that when several processes start at once
 * exactly one migrates and the others wait, then find nothing left to do. A failing migration
 * rolls back the whole run. Each file runs with `search_path` set to the schema, so migrations
 * name tables without a schema. Returns the versions applied by this call.
 *
 * Throws when the database records a version this directory does not contain (a newer Steadfast
 * migrated it), since running older code against a newer schema is unsafe.
 */
export async function applyMigrations(
  db: PostgresConnection,
  names: SchemaNames,
  directory = POSTGRES_MIGRATIONS_DIR,
): Promise<number[]> {
  const migrations = readMigrations(directory);
  return db.transaction(async (query) => {
    await query({
      text: "SELECT pg_advisory_xact_lock($1::bigint)",
      values: [names.migrationLockKey],
    });
    await ensureSchema(query, names);
    // Set after the schema exists: search_path skips a missing schema silently.
    await query({ text: `SET LOCAL search_path TO ${names.quoted}` });
    await query({
      text:
        "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, " +
        "name text NOT NULL, applied_at bigint NOT NULL)",
    });
    const { rows } = await query({ text: "SELECT version FROM schema_migrations" });
    const recorded = new Set(rows.map((row) => row.version as number));
    const known = new Set(migrations.map((m) => m.version));
    for (const version of recorded) {
      if (!known.has(version)) {
        throw new StoreError(
          "migration_failed",
          `Schema ${names.schema} has version ${version}, which this Steadfast does not know ` +
            `(migrations in ${directory} go up to ${migrations.at(-1)?.version ?? 0}). ` +
            `Upgrade Steadfast, or use another schema.`,
        );
      }
    }
    const applied: number[] = [];
    for (const migration of migrations) {
      if (recorded.has(migration.version)) continue;
      try {
        await query({ text: migration.sql });
      } catch (error) {
        throw new StoreError(
          "migration_failed",
          `Migration ${migration.file} failed and was rolled back with the rest of this run: ` +
            String(error),
          { cause: error },
        );
      }
      // applied_at is diagnostic only, so the server's clock is good enough here.
      await query({
        text:
          "INSERT INTO schema_migrations (version, name, applied_at) VALUES " +
          "($1, $2, (extract(epoch FROM clock_timestamp()) * 1000)::bigint)",
        values: [migration.version, migration.name],
      });
      applied.push(migration.version);
    }
    return applied;
  }, true);
}

// CREATE SCHEMA needs the CREATE privilege on the database even with IF NOT EXISTS; checking
// first lets a role without it use a schema an administrator created.
async function ensureSchema(query: Query, names: SchemaNames): Promise<void> {
  const { rows } = await query({
    text: "SELECT 1 FROM pg_namespace WHERE nspname = $1",
    values: [names.schema],
  });
  if (rows.length === 0)
    await query({ text: `CREATE SCHEMA ${pg.escapeIdentifier(names.schema)}` });
}
