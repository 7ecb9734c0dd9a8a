// The ceiling of `npm run bench:workflows` on PostgreSQL, measured in the same run: how many
// steps per second this machine's PostgreSQL commits when each step is the least a durable step
// can be (one row inserted, committed alone, one round trip), with as many clients in flight as
// the benchmark's workflows. No engine, no replay, no lease: what the database and the driver
// cost alone, on the same 2 cores the engines share with it.
import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import pg from "pg";

const URL = "postgres://postgres@127.0.0.1:5432/test";

/** Steps per second of one-row commits by `clients` connections, `steps` in all. */
export async function postgresStepCeiling(steps: number, clients: number): Promise<number> {
  const schema = `sf_ceiling_${randomBytes(4).toString("hex")}`;
  const admin = new pg.Client({ connectionString: URL });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  await admin.query(
    `CREATE TABLE ${schema}.steps (run text NOT NULL, step integer NOT NULL, output text, ` +
      "PRIMARY KEY (run, step))",
  );
  const pool = new pg.Pool({ connectionString: URL, max: clients });
  try {
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: clients }, async () => {
        while (next < steps) {
          const n = next++;
          await pool.query({
            name: "ceiling_step",
            text: `INSERT INTO ${schema}.steps (run, step, output) VALUES ($1, $2, $3)`,
            values: [`run-${Math.floor(n / 10)}`, n % 10, `"${n}"`],
          });
        }
      }),
    );
    return (steps / (performance.now() - started)) * 1_000;
  } finally {
    await pool.end();
    await admin.query(`DROP SCHEMA ${schema} CASCADE`);
    await admin.end();
  }
}
