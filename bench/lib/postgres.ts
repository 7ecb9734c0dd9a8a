// Database housekeeping for the PostgreSQL peers: a database per peer, a schema per session.
import pg from "pg";

/** Server the PostgreSQL peers run on; override with `BENCH_PG_URL` (no database path). */
export const PG_SERVER_URL = process.env.BENCH_PG_URL ?? "postgres://postgres@127.0.0.1:5432";

/** Connection string for `database` on the benchmark server. */
export function databaseUrl(database: string): string {
  return `${PG_SERVER_URL}/${database}`;
}

/** Creates `database` unless it exists (connecting through the `postgres` database). */
export async function ensureDatabase(database: string): Promise<string> {
  await withClient(databaseUrl("postgres"), async (client) => {
    const found = await client.query("select 1 from pg_database where datname = $1", [database]);
    if (found.rowCount === 0)
      await client.query(`create database ${pg.escapeIdentifier(database)}`);
  });
  return databaseUrl(database);
}

/**
 * `VACUUM ANALYZE` every table of `schema`, so the planner starts from fresh statistics and
 * visibility maps (the competent baseline for PostgreSQL queues).
 */
export async function vacuumAnalyzeSchema(url: string, schema: string): Promise<void> {
  await withClient(url, async (client) => {
    const tables = await client.query<{ name: string }>(
      "select tablename as name from pg_tables where schemaname = $1",
      [schema],
    );
    for (const { name } of tables.rows) {
      await client.query(
        `vacuum analyze ${pg.escapeIdentifier(schema)}.${pg.escapeIdentifier(name)}`,
      );
    }
  });
}

/** Drops `schema` and everything in it, if it exists. */
export async function dropSchema(url: string, schema: string): Promise<void> {
  await withClient(url, async (client) => {
    await client.query(`drop schema if exists ${pg.escapeIdentifier(schema)} cascade`);
  });
}

async function withClient<T>(url: string, body: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await body(client);
  } finally {
    await client.end();
  }
}
