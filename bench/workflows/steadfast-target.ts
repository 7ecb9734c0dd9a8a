// Steadfast as a workflow benchmark target: the in-process API (`createSteadfast`, engine in this
// process) on a temp SQLite file or a fresh PostgreSQL schema. A workflow is one
// `sf.workflow(...).start(input, { id })` awaited through `RunHandle.result()`; each step is a
// `step.run` committed (fenced by the run's lease, group-committed by the store) before the next
// one starts.
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import type { WorkflowContext } from "../../src/engine/workflows/workflow-definition.ts";
import { createSteadfast, type Steadfast } from "../../src/steadfast.ts";
import { databaseUrl, dropSchema } from "../lib/postgres.ts";
import type { WorkflowSession, WorkflowTarget } from "../lib/workflow-target.ts";

/** The PostgreSQL database the PostgreSQL target makes its schema in (the tests' database). */
const PG_DATABASE = "test";

/** Input of the benchmark's workflow. */
interface BenchInput {
  steps: number;
  /** Whether each step takes a `performance.now()` stamp (the sequential measurement). */
  stamped: boolean;
}

/**
 * Steadfast on a temp SQLite file with `synchronous` set to `FULL` (the default: every commit
 * survives power loss) or `NORMAL` (a commit survives a crash of the process but may be lost with
 * the machine's power; WAL checkpoints still fsync). Named `steadfast-sqlite-full` or
 * `steadfast-sqlite-normal`.
 */
export function steadfastSqliteTarget(synchronous: "FULL" | "NORMAL"): WorkflowTarget {
  return {
    name: `steadfast-sqlite-${synchronous.toLowerCase()}`,
    database: "sqlite",
    settings: `createSteadfast in this process on a temp SQLite file (WAL, group commit, ${synchronous === "FULL" ? "sqliteSynchronous FULL, the default: a step returns after an fsync of the WAL on the thread pool" : "sqliteSynchronous NORMAL: no fsync per commit"}), default options; sf.workflow(...).start(input, { id }) + result() per workflow, step.run per step`,
    async open(): Promise<WorkflowSession> {
      const dir = mkdtempSync(join(tmpdir(), "steadfast-bench-wf-"));
      try {
        const sf = await createSteadfast({
          db: `sqlite:${join(dir, "steadfast.db")}`,
          sqliteSynchronous: synchronous,
        });
        return benchSession(sf, () => rmSync(dir, { recursive: true, force: true }));
      } catch (error) {
        rmSync(dir, { recursive: true, force: true });
        throw error;
      }
    },
  };
}

/** Steadfast on the local PostgreSQL (database `test`), a fresh schema per session dropped at close. */
export function steadfastPostgresTarget(): WorkflowTarget {
  const url = databaseUrl(PG_DATABASE);
  return {
    name: "steadfast-pg",
    database: "postgres",
    settings: `createSteadfast in this process on ${url}, a fresh schema (dropped at close), default pool + LISTEN, default options; sf.workflow(...).start(input, { id }) + result() per workflow, step.run per step`,
    async open(): Promise<WorkflowSession> {
      const schema = `sf_wf_bench_${randomUUID().slice(0, 8)}`;
      const drop = () => dropSchema(url, schema);
      try {
        const sf = await createSteadfast({ db: `${url}?schema=${schema}` });
        return benchSession(sf, drop);
      } catch (error) {
        await drop();
        throw error;
      }
    },
  };
}

/**
 * Registers the benchmark's workflow on `sf` (steps `step-0`, `step-1`, ... run one after the
 * other, each returning its index) and drives it; `dispose` runs after `sf` closed.
 */
function benchSession(sf: Steadfast, dispose: () => void | Promise<void>): WorkflowSession {
  /** Stamps of the sequential workflow running now (one runs at a time). */
  let stamps: number[] = [];
  let started = 0;
  const bench = sf.workflow(
    "bench",
    async ({ input, step }: WorkflowContext<BenchInput>): Promise<number> => {
      for (let i = 0; i < input.steps; i++) {
        await step.run(`step-${i}`, () => {
          if (input.stamped) stamps.push(performance.now());
          return i;
        });
      }
      return input.steps;
    },
  );
  const runWorkflow = async (input: BenchInput): Promise<void> => {
    const run = await bench.start(input, { id: `bench-${++started}` });
    const output = await run.result();
    if (output !== input.steps) {
      throw new RangeError(
        `steadfast: run ${run.id} returned ${String(output)}, expected ${input.steps}`,
      );
    }
  };
  return {
    async sequential(steps) {
      stamps = [];
      await runWorkflow({ steps, stamped: true });
      return stamps;
    },
    runOne: (steps) => runWorkflow({ steps, stamped: false }),
    async close() {
      try {
        await sf.close();
      } finally {
        await dispose();
      }
    },
  };
}
