// DBOS Transact (`@dbos-inc/dbos-sdk`) as a workflow benchmark target: the library in this
// process, its system database a fresh database on the local PostgreSQL. Each step is a
// `DBOS.runStep` checkpointed in PostgreSQL before the next one starts.
import { DBOS } from "@dbos-inc/dbos-sdk";
import { performance } from "node:perf_hooks";
import pg from "pg";
import { databaseUrl } from "../lib/postgres.ts";
import type { WorkflowSession, WorkflowTarget } from "../lib/workflow-target.ts";

const DATABASE = "steadfast_bench_dbos";

/** Stamps of the sequential workflow running now (one runs at a time). */
let stamps: number[] = [];

async function benchWorkflow(steps: number, stamped: boolean): Promise<number> {
  for (let i = 0; i < steps; i++) {
    await DBOS.runStep(
      () => {
        if (stamped) stamps.push(performance.now());
        return Promise.resolve(i);
      },
      { name: `step-${i}` },
    );
  }
  return steps;
}

const workflow = DBOS.registerWorkflow(benchWorkflow, { name: "bench" });

export function dbosTarget(): WorkflowTarget {
  return {
    name: "dbos",
    database: "postgres",
    settings: `@dbos-inc/dbos-sdk in this process, system database ${DATABASE} (fresh), default pool; DBOS.runStep per step`,
    async open(): Promise<WorkflowSession> {
      await dropDatabase();
      DBOS.setConfig({
        name: "steadfast-bench",
        systemDatabaseUrl: databaseUrl(DATABASE),
        logLevel: "error",
      });
      await DBOS.launch();
      return {
        async sequential(steps) {
          stamps = [];
          const handle = await DBOS.startWorkflow(workflow)(steps, true);
          await handle.getResult();
          return stamps;
        },
        async runOne(steps) {
          const handle = await DBOS.startWorkflow(workflow)(steps, false);
          await handle.getResult();
        },
        async close() {
          await DBOS.shutdown();
          await dropDatabase();
        },
      };
    },
  };
}

async function dropDatabase(): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl("postgres") });
  await client.connect();
  try {
    await client.query(`drop database if exists ${pg.escapeIdentifier(DATABASE)} with (force)`);
  } finally {
    await client.end();
  }
}
