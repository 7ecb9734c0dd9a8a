/**
 * Buckets in PostgreSQL (issue 13), shared by every process on the database. Each step is one
 * upsert statement computing GCRA (`gcra.ts`) in SQL: concurrent steps on one bucket queue on
 * its row lock, and each reads the row as the one before it left it (`ON CONFLICT DO UPDATE`
 * sees the latest committed version), so of 100 concurrent requests against a limit of 10
 * exactly 10 are allowed. A refused step rewrites the row too (its decision comes back through
 * `last_allowed`): one round trip either way.
 */
import pg from "pg";
import { storeCall } from "../../store-plumbing/store-call.ts";
import {
  openPostgresStorePool,
  type PostgresStoreConnectionOptions,
} from "../../store-plumbing/postgres-pool.ts";
import type { GcraOutcome, GcraStep } from "../gcra.ts";
import type { RateLimitStore } from "../rate-limit-store.ts";
import { BUCKETS_TABLE } from "./buckets-table.ts";

/** Options of `PostgresRateLimitStore.connect` (application name default `steadfast-rate-limit`). */
export type PostgresRateLimitStoreOptions = PostgresStoreConnectionOptions;

// Serialises the creation of the table by processes starting together (CREATE ... IF NOT
// EXISTS is not safe against a concurrent CREATE). Any constant of our own.
const SCHEMA_LOCK = 0x5354_524c; // "STRL"

/** A `RateLimitStore` on a PostgreSQL database. */
export class PostgresRateLimitStore implements RateLimitStore {
  readonly #pool: pg.Pool;
  readonly #take: string;
  readonly #purge: string;
  #closed = false;

  private constructor(pool: pg.Pool, table: string) {
    this.#pool = pool;
    // $2 now, $3 increment, $4 capacity (µs). A new bucket starts full; an existing one moves
    // from its TAT, bounded to [now, now + capacity] as gcraTake does. The SET expressions all
    // read the row as it was; a refused step stores the bounded TAT, which reads the same.
    const base = "LEAST(GREATEST(b.tat_us, $2::bigint), $2::bigint + $4::bigint)";
    this.#take = `
      INSERT INTO ${table} AS b (bucket, tat_us, last_allowed)
      VALUES ($1, CASE WHEN $3::bigint <= $4::bigint THEN $2::bigint + $3::bigint ELSE $2::bigint END,
              $3::bigint <= $4::bigint)
      ON CONFLICT (bucket) DO UPDATE SET
        last_allowed = ${base} + $3::bigint - $2::bigint <= $4::bigint,
        tat_us = CASE WHEN ${base} + $3::bigint - $2::bigint <= $4::bigint
          THEN ${base} + $3::bigint ELSE ${base} END
      RETURNING tat_us, last_allowed`;
    this.#purge = `DELETE FROM ${table} WHERE bucket IN (
      SELECT bucket FROM ${table} WHERE tat_us <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`;
  }

  /**
   * Connects, and creates the schema and the buckets table if they are missing.
   *
   * @example const store = await PostgresRateLimitStore.connect({ connectionString: "postgres://localhost/app" });
   */
  static async connect(options: PostgresRateLimitStoreOptions): Promise<PostgresRateLimitStore> {
    const { pool, table } = await openPostgresStorePool({
      connectionString: options.connectionString,
      schema: options.schema ?? "steadfast",
      poolSize: options.poolSize ?? 10,
      applicationName: options.applicationName ?? "steadfast-rate-limit",
      tableName: BUCKETS_TABLE,
      schemaLock: SCHEMA_LOCK,
      createTable: (table) => [
        `CREATE TABLE IF NOT EXISTS ${table} (
          bucket text PRIMARY KEY,
          tat_us bigint NOT NULL,
          last_allowed boolean NOT NULL
        )`,
        `CREATE INDEX IF NOT EXISTS ${pg.escapeIdentifier(`${BUCKETS_TABLE}_tat_us`)} ON ${table} (tat_us)`,
      ],
      product: "rate limit",
    });
    return new PostgresRateLimitStore(pool, table);
  }

  async take(bucket: string, step: GcraStep): Promise<GcraOutcome> {
    const { rows } = await this.#query<{ tat_us: string; last_allowed: boolean }>(this.#take, [
      bucket,
      step.nowUs,
      step.incrementUs,
      step.capacityUs,
    ]);
    const row = rows[0]!;
    // bigint arrives as a string; µs epochs stay below 2^53, exact as numbers.
    return { allowed: row.last_allowed, tatUs: Number(row.tat_us) };
  }

  async purgeExpired(nowUs: number, limit: number): Promise<number> {
    const purged = await this.#query(this.#purge, [nowUs, limit]);
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
    return storeCall(this.#closed, "PostgreSQL rate limit", () =>
      this.#pool.query<R>(text, values),
    );
  }
}
