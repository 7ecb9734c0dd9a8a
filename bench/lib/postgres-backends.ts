// Which PostgreSQL server processes work for a benchmark, so their CPU is not mixed with that of
// other sessions sharing the server (tests running against the same PostgreSQL).
import pg from "pg";
import { databaseUrl } from "./postgres.ts";

/** Lists PostgreSQL pids through one connection to the `postgres` database; `close()` ends it. */
export interface PostgresBackends {
  /**
   * Pids of the backends connected to `database` plus the server's own background processes
   * (WAL writer, checkpointer, background writer, autovacuum): what a benchmark on `database`
   * makes the server do.
   */
  pidsFor(database: string): Promise<number[]>;
  close(): Promise<void>;
}

/** Connects the lister of `PostgresBackends`. */
export async function connectPostgresBackends(): Promise<PostgresBackends> {
  const client = new pg.Client({ connectionString: databaseUrl("postgres") });
  await client.connect();
  return {
    async pidsFor(database) {
      const { rows } = await client.query<{ pid: number }>(
        `select pid from pg_stat_activity
          where datname = $1 or (backend_type <> 'client backend' and pid <> pg_backend_pid())`,
        [database],
      );
      return rows.map((row) => row.pid);
    },
    close: () => client.end(),
  };
}
