import { join } from "node:path";
import type { DatabaseSync } from "node:sqlite";
import { readMigrations } from "../migrations/read-migrations.ts";
import { StoreError } from "../../core/errors.ts";

/** The SQLite migrations shipped with Steadfast: `src/store/migrations/sqlite/`. */
export const SQLITE_MIGRATIONS_DIR = join(import.meta.dirname, "..", "migrations", "sqlite");

/**
 * Applies the migrations of `directory` that `schema_migrations` does not list yet, in version
 * order, each in its own `BEGIN IMMEDIATE` transaction together with its `schema_migrations` row,
 * so a crash leaves either the whole migration or none of it. Idempotent; safe when several
 * processes migrate one file at once (the write lock serialises them and each re-checks).
 * Returns the versions applied by this call.
 *
 * Throws when the database records a version this directory does not contain (a newer Steadfast
 * migrated it), since running older code against a newer schema is unsafe.
 */
export function applyMigrations(db: DatabaseSync, directory = SQLITE_MIGRATIONS_DIR): number[] {
  const migrations = readMigrations(directory);
  db.exec(
    "CREATE TABLE IF NOT EXISTS schema_migrations (" +
      "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT",
  );
  const known = new Set(migrations.map((m) => m.version));
  const recorded = db.prepare("SELECT version FROM schema_migrations ORDER BY version");
  for (const row of recorded.all()) {
    const version = Number(row.version);
    if (!known.has(version)) {
      throw new StoreError(
        "migration_failed",
        `The database has schema version ${version}, which this Steadfast does not know ` +
          `(migrations in ${directory} go up to ${migrations.at(-1)?.version ?? 0}). ` +
          `Upgrade Steadfast, or point it at another data directory.`,
      );
    }
  }
  const isApplied = db.prepare("SELECT 1 AS applied FROM schema_migrations WHERE version = ?");
  // applied_at is diagnostic only, so SQLite's clock is good enough here.
  const record = db.prepare(
    "INSERT INTO schema_migrations (version, name, applied_at) " +
      "VALUES (?, ?, CAST(unixepoch('subsec') * 1000 AS INTEGER))",
  );
  const applied: number[] = [];
  for (const migration of migrations) {
    if (isApplied.get(migration.version) !== undefined) continue;
    db.exec("BEGIN IMMEDIATE");
    try {
      // Re-checked under the write lock: another process may have applied it meanwhile.
      if (isApplied.get(migration.version) === undefined) {
        db.exec(migration.sql);
        record.run(migration.version, migration.name);
        applied.push(migration.version);
      }
      db.exec("COMMIT");
    } catch (error) {
      if (db.isTransaction) db.exec("ROLLBACK");
      throw new StoreError(
        "migration_failed",
        `Migration ${migration.file} failed and was rolled back: ${String(error)}`,
        { cause: error },
      );
    }
  }
  return applied;
}
