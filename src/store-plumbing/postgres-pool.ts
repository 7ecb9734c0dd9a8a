/**
 * The PostgreSQL plumbing of the idempotency and rate-limit stores (issue 13): the pool, and the
 * schema and table created under an advisory lock so that processes starting together do not race.
 */
import pg from "pg";
import { StoreError } from "../core/errors.ts";

/** How a middleware store connects to PostgreSQL (idempotency records, rate-limit buckets). */
export interface PostgresStoreConnectionOptions {
  /** `postgres://user:password@host:5432/database`. */
  connectionString: string;
  /** The schema of the store's table, created if missing. Default `steadfast`. */
  schema?: string;
  /** Most connections the pool opens. Default 10. */
  poolSize?: number;
  /** Reported in `pg_stat_activity.application_name`. Default: the store's own name. */
  applicationName?: string;
}

/** What `openPostgresStorePool` needs: the connection, and the one table a store keeps. */
export interface PostgresStoreSetup {
  /** `postgres://user:password@host:5432/database`. */
  readonly connectionString: string;
  /** The schema of the table, created if missing. */
  readonly schema: string;
  /** Most connections the pool opens. */
  readonly poolSize: number;
  /** Reported in `pg_stat_activity.application_name`. */
  readonly applicationName: string;
  /** The table's name, unquoted (created in `schema`). */
  readonly tableName: string;
  /**
   * The advisory lock key serialising the creation (CREATE ... IF NOT EXISTS is not safe
   * against a concurrent CREATE). Any constant of the store's own.
   */
  readonly schemaLock: number;
  /** The statements creating the table and its indexes, given the quoted `schema.table`. */
  readonly createTable: (table: string) => readonly string[];
  /** The store in error messages: `idempotency`, `rate limit`. */
  readonly product: string;
}

/**
 * Opens a pool, creates the schema and the table if they are missing (in one transaction under
 * the advisory lock), and returns the pool with the quoted `schema.table`.
 *
 * @throws StoreError `connect_failed` (the pool closed) when the database cannot be prepared.
 * @example const { pool, table } = await openPostgresStorePool(setup);
 */
export async function openPostgresStorePool(
  setup: PostgresStoreSetup,
): Promise<{ pool: pg.Pool; table: string }> {
  const pool = new pg.Pool({
    connectionString: setup.connectionString,
    max: setup.poolSize,
    application_name: setup.applicationName,
  });
  // An idle client losing its connection emits on the pool: the next query reports it.
  pool.on("error", () => undefined);
  const quotedSchema = pg.escapeIdentifier(setup.schema);
  const table = `${quotedSchema}.${pg.escapeIdentifier(setup.tableName)}`;
  try {
    const client = await pool.connect();
    try {
      await client.query("BEGIN");
      await client.query("SELECT pg_advisory_xact_lock($1)", [setup.schemaLock]);
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${quotedSchema}`);
      for (const statement of setup.createTable(table)) await client.query(statement);
      await client.query("COMMIT");
    } catch (error) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw new StoreError(
      "connect_failed",
      `Could not prepare the ${setup.product} store in schema ${setup.schema}: ${String(error)}`,
      { cause: error },
    );
  }
  return { pool, table };
}
