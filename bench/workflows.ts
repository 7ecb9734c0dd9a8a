// Issue 11's benchmark: durable workflows of Steadfast (on SQLite with synchronous FULL and NORMAL,
// and on PostgreSQL) side by side with DBOS Transact (on the local PostgreSQL) and Restate (its own
// server), in one run: (a) the overhead of one step in a
// sequential 100-step workflow of trivial steps, p50/p99; (b) 1,000 workflows of 10 trivial steps
// with 20 in flight: workflows/s and steps/s. Figures, never pass/fail.
//
// Run: npm run bench:workflows -- [--quick] [--only name,name]
// (names: steadfast-sqlite-full, steadfast-sqlite-normal, steadfast-pg, dbos, restate)
import { parseArgs } from "node:util";
import { printRunHeader, selectContenders } from "./lib/contenders.ts";
import { formatNumber, formatTable, type Row } from "./lib/stats.ts";
import {
  FULL_SIZES,
  QUICK_SIZES,
  measureWorkflows,
  type WorkflowTarget,
} from "./lib/workflow-target.ts";
import { dbosTarget } from "./workflows/dbos-target.ts";
import { postgresStepCeiling } from "./workflows/postgres-ceiling.ts";
import { restateTarget } from "./workflows/restate-target.ts";
import { steadfastPostgresTarget, steadfastSqliteTarget } from "./workflows/steadfast-target.ts";

const { values } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    only: { type: "string" },
  },
});
const sizes = values.quick ? QUICK_SIZES : FULL_SIZES;
/** Every contender's figures are also printed as a ratio to each of these (when they ran). */
const BASELINES = ["restate", "dbos"];
const all: WorkflowTarget[] = [
  steadfastSqliteTarget("FULL"),
  steadfastSqliteTarget("NORMAL"),
  steadfastPostgresTarget(),
  dbosTarget(),
  restateTarget(),
];
const targets = selectContenders(all, values.only);

printRunHeader();
console.log(
  `(a) ${sizes.sequentialRuns} sequential workflows of ${sizes.sequentialSteps} trivial steps after a warm-up; (b) ${sizes.workflows} workflows of ${sizes.stepsPerWorkflow} trivial steps, ${sizes.concurrency} in flight`,
);
for (const target of targets)
  console.log(`- ${target.name} (${target.database}): ${target.settings}`);

const rows: Row[] = [];
for (const target of targets) {
  const figures = await measureWorkflows(target, sizes);
  const note = `state in ${target.database}`;
  rows.push(
    {
      name: target.name,
      metric: "(a) per step, p50",
      value: figures.perStep.p50Ms,
      unit: "ms",
      note,
    },
    {
      name: target.name,
      metric: "(a) per step, p99",
      value: figures.perStep.p99Ms,
      unit: "ms",
      note,
    },
    {
      name: target.name,
      metric: "(a) per step, mean",
      value: figures.perStepMeanMs,
      unit: "ms",
      note,
    },
    {
      name: target.name,
      metric: "(b) workflows/s",
      value: figures.workflowsPerSecond,
      unit: "workflows/s",
      note,
    },
    {
      name: target.name,
      metric: "(b) steps/s",
      value: figures.stepsPerSecond,
      unit: "steps/s",
      note,
    },
  );
  console.log(
    `${target.name}: per step p50 ${formatNumber(figures.perStep.p50Ms)} ms, ${formatNumber(figures.workflowsPerSecond)} workflows/s`,
  );
}
if (targets.some((target) => target.database === "postgres")) {
  // The least any engine could do per step on this PostgreSQL, in the same run (see the file).
  const ceiling = await postgresStepCeiling(
    sizes.workflows * sizes.stepsPerWorkflow,
    sizes.concurrency,
  );
  rows.push({
    name: "pg-ceiling",
    metric: "(b) steps/s",
    value: ceiling,
    unit: "steps/s",
    note: `one-row INSERT commits, ${sizes.concurrency} clients, no engine`,
  });
  console.log(`pg-ceiling: ${formatNumber(ceiling)} steps/s (one-row commits, no engine)`);
}
console.log();
console.log(formatTable(rows, BASELINES));
process.exit(0);
