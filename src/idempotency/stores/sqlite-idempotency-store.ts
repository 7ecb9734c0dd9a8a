/**
 * Idempotency records in SQLite through `node:sqlite` (issue 13): one table, WAL mode. Each
 * compare-and-set is one statement conditional on the version (an insert that does nothing on a
 * conflict, an update or delete `WHERE version = ?`), atomic across the processes sharing the file.
 * A new key's claim is one upsert (`claimIfAbsent`). Writes go through `GroupCommit`: the writes
 * of one event-loop turn share one transaction, and (with `synchronous` FULL) one fsync of the
 * WAL, made off the event loop; a claim or lease write does not wait for it (a claim lost in a
 * power cut is claimed again), a stored outcome does.
 */
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { StoreError } from "../../core/errors.ts";
import { GroupCommit } from "../../sqlite/group-commit.ts";
import { WalSync } from "../../sqlite/wal-sync.ts";
import type { IdempotencyStore, VersionedRecord } from "../idempotency-store.ts";
import { fromRow, RECORD_COLUMNS, RECORDS_TABLE, toRow, type DriverRow } from "./record-rows.ts";

/** Options of `SqliteIdempotencyStore.open`. */
export interface SqliteIdempotencyStoreOptions {
  /** The database file (its directory is created), or `:memory:`. */
  path: string;
  /**
   * `FULL` (default): a stored outcome survives a power loss (its write resolves after an fsync
   * of the WAL, shared by the writes of one event-loop turn); `NORMAL`: no fsync, and a power
   * loss may forget the last outcomes stored (their retries then run again).
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
const TAKE_OVER = RECORD_COLUMNS.map((column) => `${column} = excluded.${column}`).join(", ");

/** An `IdempotencyStore` on a SQLite file. */
export class SqliteIdempotencyStore implements IdempotencyStore {
  readonly #db: DatabaseSync;
  readonly #select: StatementSync;
  readonly #insert: StatementSync;
  readonly #update: StatementSync;
  readonly #delete: StatementSync;
  readonly #purge: StatementSync;
  readonly #claim: StatementSync;
  readonly #writes: GroupCommit;
  readonly #walSync: WalSync | undefined;
  #closed = false;

  private constructor(db: DatabaseSync, walSync: WalSync | undefined) {
    this.#db = db;
    this.#walSync = walSync;
    this.#writes = new GroupCommit(db, walSync === undefined ? {} : { sync: () => walSync.sync() });
    this.#select = db.prepare(
      `SELECT ${RECORD_COLUMNS.join(", ")} FROM ${RECORDS_TABLE} WHERE scope = ?`,
    );
    this.#insert = db.prepare(
      `INSERT INTO ${RECORDS_TABLE} (scope, ${RECORD_COLUMNS.join(", ")}) VALUES (?, ${PLACEHOLDERS}) ON CONFLICT (scope) DO NOTHING`,
    );
    this.#update = db.prepare(
      `UPDATE ${RECORDS_TABLE} SET ${ASSIGNMENTS} WHERE scope = ? AND version = ?`,
    );
    // Inserts, or takes over a record past its retention; returns a row only when it wrote.
    this.#claim = db.prepare(
      `INSERT INTO ${RECORDS_TABLE} (scope, ${RECORD_COLUMNS.join(", ")}) VALUES (?, ${PLACEHOLDERS}) ON CONFLICT (scope) DO UPDATE SET ${TAKE_OVER} WHERE ${RECORDS_TABLE}.purge_at <= ? RETURNING scope`,
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
    const synchronous = options.synchronous ?? "FULL";
    // FULL on a file: SQLite itself at NORMAL, and the WAL fsynced by WalSync once per batch.
    const walSync =
      synchronous === "FULL" && options.path !== ":memory:"
        ? new WalSync(`${options.path}-wal`)
        : undefined;
    try {
      db.exec(
        "PRAGMA journal_mode = WAL;" +
          `PRAGMA synchronous = ${walSync === undefined ? synchronous : "NORMAL"};` +
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
    return new SqliteIdempotencyStore(db, walSync);
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
    if (next === undefined && expectedVersion === undefined) {
      return this.#run(() => this.#select.get(scope) === undefined);
    }
    // Only a stored outcome waits for the fsync: a lost claim, extension or release after a
    // power cut leaves at worst a lease that runs out.
    const durable = next?.record.state === "completed";
    return this.#write(() => {
      if (next === undefined) return this.#delete.run(scope, expectedVersion!).changes === 1;
      const row = toRow(next);
      const values = RECORD_COLUMNS.map((column) => row[column]);
      if (expectedVersion === undefined) return this.#insert.run(scope, ...values).changes === 1;
      return this.#update.run(...values, scope, expectedVersion).changes === 1;
    }, durable);
  }

  claimIfAbsent(
    scope: string,
    next: VersionedRecord,
    now: number,
  ): Promise<VersionedRecord | undefined> {
    const row = toRow(next);
    const values = RECORD_COLUMNS.map((column) => row[column]);
    return this.#write(() => {
      if (this.#claim.get(scope, ...values, now) !== undefined) return undefined;
      // The same transaction: the record that refused the claim, as it stands.
      return fromRow(this.#select.get(scope) as DriverRow);
    }, false);
  }

  purgeExpired(now: number, limit: number): Promise<number> {
    // Rare and harmless to lose: a statement of its own, outside the batches (between them no
    // transaction is open).
    return this.#run(() => Number(this.#purge.run(now, limit).changes));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#writes.close();
    await this.#writes.settled();
    await this.#walSync?.close();
    this.#db.close();
  }

  // A write in the next group-commit transaction; its error becomes a StoreError rejection.
  #write<T>(operation: () => T, durable: boolean): Promise<T> {
    if (this.#closed) return Promise.reject(closed());
    return this.#writes.enqueue(operation, { durable }).catch((error: unknown) => {
      throw error instanceof StoreError
        ? error
        : new StoreError("store_failed", `The SQLite idempotency store failed: ${String(error)}`, {
            cause: error,
          });
    });
  }

  // node:sqlite is synchronous: each operation runs whole, and its error becomes a rejection.
  #run<T>(operation: () => T): Promise<T> {
    if (this.#closed) return Promise.reject(closed());
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

function closed(): StoreError {
  return new StoreError("store_closed", "The SQLite idempotency store is closed.");
}
