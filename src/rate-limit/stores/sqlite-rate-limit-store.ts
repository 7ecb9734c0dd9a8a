/**
 * Buckets in SQLite through `node:sqlite` (issue 13): one table, WAL mode. Each step is one
 * upsert statement (`INSERT ... ON CONFLICT DO UPDATE ... RETURNING`), which SQLite runs under
 * its write lock, so it is atomic across the processes sharing the file. The statement computes
 * GCRA (`gcra.ts`) in SQL: the `SET` expressions all read the row as it was.
 */
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { StoreError } from "../../core/errors.ts";
import type { GcraOutcome, GcraStep } from "../gcra.ts";
import type { RateLimitStore } from "../rate-limit-store.ts";
import { BUCKETS_TABLE } from "./buckets-table.ts";

/** Options of `SqliteRateLimitStore.open`. */
export interface SqliteRateLimitStoreOptions {
  /** The database file (its directory is created), or `:memory:`. */
  path: string;
  /**
   * `NORMAL` (default): a power loss may forget the last steps (their clients get a little more
   * than the limit once), which a rate limit can afford; `FULL`: fsync every step.
   */
  synchronous?: "FULL" | "NORMAL";
  /** How long a step waits for another process's lock, ms. Default 5,000. */
  busyTimeoutMs?: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS ${BUCKETS_TABLE} (
  bucket TEXT PRIMARY KEY,
  tat_us INTEGER NOT NULL,
  last_allowed INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS ${BUCKETS_TABLE}_tat_us ON ${BUCKETS_TABLE} (tat_us);
`;

// $now, $inc, $cap: the step. A new bucket starts full; an existing one moves from its TAT,
// bounded to [now, now + cap] as gcraTake does. `last_allowed` carries the decision out
// (RETURNING sees only the new row); a refused step stores the bounded TAT, which reads the same.
const BASE = "min(max(tat_us, $now), $now + $cap)";
const TAKE = `
INSERT INTO ${BUCKETS_TABLE} (bucket, tat_us, last_allowed)
VALUES ($bucket, CASE WHEN $inc <= $cap THEN $now + $inc ELSE $now END, $inc <= $cap)
ON CONFLICT (bucket) DO UPDATE SET
  last_allowed = ${BASE} + $inc - $now <= $cap,
  tat_us = CASE WHEN ${BASE} + $inc - $now <= $cap THEN ${BASE} + $inc ELSE ${BASE} END
RETURNING tat_us, last_allowed`;

const PURGE = `DELETE FROM ${BUCKETS_TABLE} WHERE bucket IN (
  SELECT bucket FROM ${BUCKETS_TABLE} WHERE tat_us <= ? LIMIT ?)`;

/** A `RateLimitStore` on a SQLite file. */
export class SqliteRateLimitStore implements RateLimitStore {
  readonly #db: DatabaseSync;
  readonly #take: StatementSync;
  readonly #purge: StatementSync;
  #closed = false;

  private constructor(db: DatabaseSync) {
    this.#db = db;
    this.#take = db.prepare(TAKE);
    this.#purge = db.prepare(PURGE);
  }

  /**
   * Opens (creating if need be) the buckets table in the SQLite database at `options.path`.
   *
   * @example const store = SqliteRateLimitStore.open({ path: "./.steadfast/rate-limit.db" });
   */
  static open(options: SqliteRateLimitStoreOptions): SqliteRateLimitStore {
    const busyTimeoutMs = Math.floor(options.busyTimeoutMs ?? 5_000);
    let db: DatabaseSync | undefined;
    try {
      if (options.path !== ":memory:") mkdirSync(dirname(options.path), { recursive: true });
      db = new DatabaseSync(options.path, { timeout: busyTimeoutMs });
      db.exec(
        "PRAGMA journal_mode = WAL;" +
          `PRAGMA synchronous = ${options.synchronous ?? "NORMAL"};` +
          `PRAGMA busy_timeout = ${busyTimeoutMs};`,
      );
      db.exec(SCHEMA);
      return new SqliteRateLimitStore(db);
    } catch (error) {
      db?.close();
      throw new StoreError(
        "connect_failed",
        `Could not open the rate limit store at ${options.path}: ${String(error)}`,
        { cause: error },
      );
    }
  }

  take(bucket: string, step: GcraStep): Promise<GcraOutcome> {
    return this.#run(() => {
      const row = this.#take.get({
        bucket,
        now: step.nowUs,
        inc: step.incrementUs,
        cap: step.capacityUs,
      }) as { tat_us: number; last_allowed: number };
      return { allowed: row.last_allowed === 1, tatUs: Number(row.tat_us) };
    });
  }

  purgeExpired(nowUs: number, limit: number): Promise<number> {
    return this.#run(() => Number(this.#purge.run(nowUs, limit).changes));
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
        new StoreError("store_closed", "The SQLite rate limit store is closed."),
      );
    }
    try {
      return Promise.resolve(operation());
    } catch (error) {
      return Promise.reject(
        new StoreError("store_failed", `The SQLite rate limit store failed: ${String(error)}`, {
          cause: error,
        }),
      );
    }
  }
}
