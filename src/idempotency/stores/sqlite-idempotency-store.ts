/**
 * Idempotency records in SQLite through `node:sqlite` (issue 13): one table, WAL mode. Each
 * compare-and-set is one statement conditional on the version (an insert that does nothing on a
 * conflict, an update or delete `WHERE version = ?`), atomic across the processes sharing the file.
 */
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { StoreError } from "../../core/errors.ts";
import type { IdempotencyStore, VersionedRecord } from "../idempotency-store.ts";
import { fromRow, RECORD_COLUMNS, RECORDS_TABLE, toRow, type DriverRow } from "./record-rows.ts";

/** Options of `SqliteIdempotencyStore.open`. */
export interface SqliteIdempotencyStoreOptions {
  /** The database file (its directory is created), or `:memory:`. */
  path: string;
  /**
   * `FULL` (default): a stored outcome survives a power loss; `NORMAL`: faster, and a power loss
   * may forget the last outcomes stored (their retries then run again).
   */
  synchronous?: "FULL" | "NORMAL";
  /** How long a write waits for another process's lock, ms. Default 5,000. */
  busyTimeoutMs?: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS ${RECORDS_TABLE} (
  scope TEXT PRIMARY KEY,
  version TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('in-flight', 'completed')),
  fingerprint_algorithm TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  lease_token TEXT,
  claimed_at INTEGER,
  lease_expires_at INTEGER,
  completed_at INTEGER,
  response_status INTEGER,
  response_headers TEXT,
  response_body BLOB,
  purge_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS ${RECORDS_TABLE}_purge_at ON ${RECORDS_TABLE} (purge_at);
`;

const PLACEHOLDERS = RECORD_COLUMNS.map(() => "?").join(", ");
const ASSIGNMENTS = RECORD_COLUMNS.map((column) => `${column} = ?`).join(", ");

/** An `IdempotencyStore` on a SQLite file. */
export class SqliteIdempotencyStore implements IdempotencyStore {
  readonly #db: DatabaseSync;
  readonly #select: StatementSync;
  readonly #insert: StatementSync;
  readonly #update: StatementSync;
  readonly #delete: StatementSync;
  readonly #purge: StatementSync;
  #closed = false;

  private constructor(db: DatabaseSync) {
    this.#db = db;
    this.#select = db.prepare(
      `SELECT ${RECORD_COLUMNS.join(", ")} FROM ${RECORDS_TABLE} WHERE scope = ?`,
    );
    this.#insert = db.prepare(
      `INSERT INTO ${RECORDS_TABLE} (scope, ${RECORD_COLUMNS.join(", ")}) VALUES (?, ${PLACEHOLDERS}) ON CONFLICT (scope) DO NOTHING`,
    );
    this.#update = db.prepare(
      `UPDATE ${RECORDS_TABLE} SET ${ASSIGNMENTS} WHERE scope = ? AND version = ?`,
    );
    this.#delete = db.prepare(`DELETE FROM ${RECORDS_TABLE} WHERE scope = ? AND version = ?`);
    this.#purge = db.prepare(
      `DELETE FROM ${RECORDS_TABLE} WHERE scope IN (SELECT scope FROM ${RECORDS_TABLE} WHERE purge_at <= ? LIMIT ?)`,
    );
  }

  /**
   * Opens (creating if need be) the records table in the SQLite database at `options.path`.
   *
   * @example const store = SqliteIdempotencyStore.open({ path: "./.steadfast/idempotency.db" });
   */
  static open(options: SqliteIdempotencyStoreOptions): SqliteIdempotencyStore {
    if (options.path !== ":memory:") mkdirSync(dirname(options.path), { recursive: true });
    const busyTimeoutMs = Math.floor(options.busyTimeoutMs ?? 5_000);
    const db = new DatabaseSync(options.path, { timeout: busyTimeoutMs });
    try {
      db.exec(
        "PRAGMA journal_mode = WAL;" +
          `PRAGMA synchronous = ${options.synchronous ?? "FULL"};` +
          `PRAGMA busy_timeout = ${busyTimeoutMs};`,
      );
      db.exec(SCHEMA);
    } catch (error) {
      db.close();
      throw new StoreError(
        "connect_failed",
        `Could not open the idempotency store at ${options.path}: ${String(error)}`,
        { cause: error },
      );
    }
    return new SqliteIdempotencyStore(db);
  }

  read(scope: string): Promise<VersionedRecord | undefined> {
    return this.#run(() => {
      const row = this.#select.get(scope) as DriverRow | undefined;
      return row === undefined ? undefined : fromRow(row);
    });
  }

  compareAndSet(
    scope: string,
    expectedVersion: string | undefined,
    next: VersionedRecord | undefined,
    _now?: number,
  ): Promise<boolean> {
    return this.#run(() => {
      if (next === undefined) {
        if (expectedVersion === undefined) return this.#select.get(scope) === undefined;
        return this.#delete.run(scope, expectedVersion).changes === 1;
      }
      const row = toRow(next);
      const values = RECORD_COLUMNS.map((column) => row[column]);
      if (expectedVersion === undefined) return this.#insert.run(scope, ...values).changes === 1;
      return this.#update.run(...values, scope, expectedVersion).changes === 1;
    });
  }

  purgeExpired(now: number, limit: number): Promise<number> {
    return this.#run(() => Number(this.#purge.run(now, limit).changes));
  }

  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#db.close();
    }
    return Promise.resolve();
  }

  // node:sqlite is synchronous: each operation runs whole, and its error becomes a rejection.
  #run<T>(operation: () => T): Promise<T> {
    if (this.#closed) {
      return Promise.reject(
        new StoreError("store_closed", "The SQLite idempotency store is closed."),
      );
    }
    try {
      return Promise.resolve(operation());
    } catch (error) {
      return Promise.reject(
        new StoreError("store_failed", `The SQLite idempotency store failed: ${String(error)}`, {
          cause: error,
        }),
      );
    }
  }
}
