import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { StoreError } from "../../core/errors.ts";

/** One migration file: `0001_init.sql` is version 1, named `init`. */
export interface Migration {
  version: number;
  name: string;
  /** The file name, e.g. `0001_init.sql`. */
  file: string;
  sql: string;
}

const FILE_PATTERN = /^(\d+)_([a-z0-9_]+)\.sql$/;

/**
 * Reads the numbered migrations in `directory`, in version order. Files that do not look like
 * `NNNN_name.sql` are ignored; two files with the same number are an error.
 */
export function readMigrations(directory: string): Migration[] {
  const migrations: Migration[] = [];
  for (const file of readdirSync(directory)) {
    const match = FILE_PATTERN.exec(file);
    if (match === null) continue;
    migrations.push({
      version: Number(match[1]),
      name: match[2]!,
      file,
      sql: readFileSync(join(directory, file), "utf8"),
    });
  }
  migrations.sort((a, b) => a.version - b.version);
  for (let i = 1; i < migrations.length; i++) {
    if (migrations[i]!.version === migrations[i - 1]!.version) {
      throw new StoreError(
        "migration_failed",
        `Two migrations share version ${migrations[i]!.version} in ${directory}: ` +
          `${migrations[i - 1]!.file} and ${migrations[i]!.file}. Renumber the newer one.`,
      );
    }
  }
  return migrations;
}
