/**
 * Idempotency records in PostgreSQL (issue 13), shared by every process on the database. Each
 * compare-and-set is one statement conditional on the version: `INSERT ... ON CONFLICT DO
 * NOTHING` for a new record (of concurrent inserts exactly one lands), `UPDATE`/`DELETE ...
 * WHERE version = $n` otherwise (a concurrent writer's commit makes the condition false).
 */
import pg from "pg";
import { storeCall } from "../../store-plumbing/store-call.ts";
import {
  openPostgresStorePool,
  type PostgresStoreConnectionOptions,
} from "../../store-plumbing/postgres-pool.ts";
import type { IdempotencyStore, VersionedRecord } from "../idempotency-store.ts";
import { fromRow, RECORD_COLUMNS, RECORDS_TABLE, toRow, type DriverRow } from "./record-rows.ts";

/** Options of `PostgresIdempotencyStore.connect` (application name default `steadfast-idempotency`). */
export type PostgresIdempotencyStoreOptions = PostgresStoreConnectionOptions;

// Serialises the creation of the table by processes starting together (CREATE ... IF NOT
// EXISTS is not safe against a concurrent CREATE). Any constant of our own.
const SCHEMA_LOCK = 0x5354_4944; // "STID"

/** An `IdempotencyStore` on a PostgreSQL database. */
export class PostgresIdempotencyStore implements IdempotencyStore {
  readonly #pool: pg.Pool;
  readonly #table: string;
  #closed = false;

  private constructor(pool: pg.Pool, table: string) {
    this.#pool = pool;
    this.#table = table;
  }

  /**
   * Connects, and creates the schema and the records table if they are missing.
   *
   * @example const store = await PostgresIdempotencyStore.connect({ connectionString: "postgres://localhost/app" });
   */
  static async connect(
    options: PostgresIdempotencyStoreOptions,
  ): Promise<PostgresIdempotencyStore> {
    const { pool, table } = await openPostgresStorePool({
      connectionString: options.connectionString,
      schema: options.schema ?? "steadfast",
      poolSize: options.poolSize ?? 10,
      applicationName: options.applicationName ?? "steadfast-idempotency",
      tableName: RECORDS_TABLE,
      schemaLock: SCHEMA_LOCK,
      createTable: (table) => [
        `CREATE TABLE IF NOT EXISTS ${table} (
          scope text PRIMARY KEY,
          version text NOT NULL,
          state text NOT NULL CHECK (state IN ('in-flight', 'completed')),
          fingerprint_algorithm text NOT NULL,
          fingerprint text NOT NULL,
          lease_token text,
          claimed_at bigint,
          lease_expires_at bigint,
          completed_at bigint,
          response_status integer,
          response_headers text,
          response_body bytea,
          purge_at bigint NOT NULL
        )`,
        `CREATE INDEX IF NOT EXISTS ${pg.escapeIdentifier(`${RECORDS_TABLE}_purge_at`)} ON ${table} (purge_at)`,
      ],
      product: "idempotency",
    });
    return new PostgresIdempotencyStore(pool, table);
  }

  async read(scope: string): Promise<VersionedRecord | undefined> {
    const { rows } = await this.#query<DriverRow>(
      `SELECT ${RECORD_COLUMNS.join(", ")} FROM ${this.#table} WHERE scope = $1`,
      [scope],
    );
    return rows[0] === undefined ? undefined : fromRow(rows[0]);
  }

  async compareAndSet(
    scope: string,
    expectedVersion: string | undefined,
    next: VersionedRecord | undefined,
    _now?: number,
  ): Promise<boolean> {
    if (next === undefined) {
      if (expectedVersion === undefined) return (await this.read(scope)) === undefined;
      const deleted = await this.#query(
        `DELETE FROM ${this.#table} WHERE scope = $1 AND version = $2`,
        [scope, expectedVersion],
      );
      return deleted.rowCount === 1;
    }
    const row = toRow(next);
    const values = RECORD_COLUMNS.map((column) => row[column]);
    if (expectedVersion === undefined) {
      const placeholders = RECORD_COLUMNS.map((_, i) => `$${i + 2}`).join(", ");
      const inserted = await this.#query(
        `INSERT INTO ${this.#table} (scope, ${RECORD_COLUMNS.join(", ")}) VALUES ($1, ${placeholders}) ON CONFLICT (scope) DO NOTHING`,
        [scope, ...values],
      );
      return inserted.rowCount === 1;
    }
    const assignments = RECORD_COLUMNS.map((column, i) => `${column} = $${i + 3}`).join(", ");
    const updated = await this.#query(
      `UPDATE ${this.#table} SET ${assignments} WHERE scope = $1 AND version = $2`,
      [scope, expectedVersion, ...values],
    );
    return updated.rowCount === 1;
  }

  async claimIfAbsent(
    scope: string,
    next: VersionedRecord,
    now: number,
  ): Promise<VersionedRecord | undefined | null> {
    const row = toRow(next);
    const values = RECORD_COLUMNS.map((column) => row[column]);
    const placeholders = RECORD_COLUMNS.map((_, i) => `$${i + 2}`).join(", ");
    const takeOver = RECORD_COLUMNS.map((column) => `${column} = EXCLUDED.${column}`).join(", ");
    const nowParam = `$${RECORD_COLUMNS.length + 2}`;
    // One statement: the claim (an insert, or the take-over of a record past its retention), and
    // the record that refused it as of the statement's snapshot.
    const { rows } = await this.#query<DriverRow & { claimed: boolean }>(
      `WITH claimed AS (
         INSERT INTO ${this.#table} AS target (scope, ${RECORD_COLUMNS.join(", ")})
         VALUES ($1, ${placeholders})
         ON CONFLICT (scope) DO UPDATE SET ${takeOver} WHERE target.purge_at <= ${nowParam}
         RETURNING scope)
       SELECT EXISTS (SELECT 1 FROM claimed) AS claimed, ${RECORD_COLUMNS.map((c) => `current.${c}`).join(", ")}
       FROM (VALUES (1)) AS one (x) LEFT JOIN ${this.#table} AS current ON current.scope = $1`,
      [scope, ...values, now],
    );
    const result = rows[0]!;
    if (result.claimed) return undefined;
    // Inserted by a transaction that committed after this statement's snapshot: the ledger reads.
    if (result.version == null) return null;
    return fromRow(result);
  }

  async purgeExpired(now: number, limit: number): Promise<number> {
    const purged = await this.#query(
      `DELETE FROM ${this.#table} WHERE scope IN (
         SELECT scope FROM ${this.#table} WHERE purge_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`,
      [now, limit],
    );
    return purged.rowCount ?? 0;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.end();
  }

  async #query<R extends pg.QueryResultRow>(
    text: string,
    values: unknown[],
  ): Promise<pg.QueryResult<R>> {
    return storeCall(this.#closed, "PostgreSQL idempotency", () =>
      this.#pool.query<R>(text, values),
    );
  }
}
