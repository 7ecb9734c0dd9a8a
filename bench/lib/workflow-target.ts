// The contract each workflow engine implements for `npm run bench:workflows`, and the two
// measurements run against any of them: the overhead of one step in a long sequential workflow,
// and the throughput of many short workflows at a fixed concurrency.
import { performance } from "node:perf_hooks";
import { runClosedLoop } from "./load.ts";
import { summarizeLatency, type LatencySummary } from "./stats.ts";

/** One open instance of a workflow engine with the benchmark's workflow registered. */
export interface WorkflowSession {
  /**
   * Runs one workflow of `steps` trivial steps one after the other, each step taking a
   * `performance.now()` stamp when it runs, and resolves with the stamps once the workflow ended.
   */
  sequential(steps: number): Promise<number[]>;
  /** Starts one workflow of `steps` trivial steps and resolves when it has ended. */
  runOne(steps: number): Promise<void>;
  /** Stops the engine and drops what it stored. */
  close(): Promise<void>;
}

/** A workflow engine under test. */
export interface WorkflowTarget {
  /** Short name printed in tables, e.g. `dbos`. */
  name: string;
  /** The database it keeps its state in, printed beside its figures. */
  database: "sqlite" | "postgres" | "own";
  /** The settings used, one line. */
  settings: string;
  open(): Promise<WorkflowSession>;
}

/** Sizes of one run. */
export interface WorkflowSizes {
  /** Steps of the sequential workflow (the issue: 100). */
  sequentialSteps: number;
  /** How many sequential workflows are measured (after one warm-up). */
  sequentialRuns: number;
  /** Workflows of the throughput run (the issue: 1,000). */
  workflows: number;
  /** Steps per workflow in the throughput run (the issue: 10). */
  stepsPerWorkflow: number;
  /** Workflows in flight at once (the issue: 20). */
  concurrency: number;
}

export const FULL_SIZES: WorkflowSizes = {
  sequentialSteps: 100,
  sequentialRuns: 10,
  workflows: 1_000,
  stepsPerWorkflow: 10,
  concurrency: 20,
};

export const QUICK_SIZES: WorkflowSizes = {
  sequentialSteps: 100,
  sequentialRuns: 2,
  workflows: 100,
  stepsPerWorkflow: 10,
  concurrency: 20,
};

/** What one target measured. */
export interface WorkflowFigures {
  /** Time from one step's start to the next one's, over every sequential run. */
  perStep: LatencySummary;
  /** Whole sequential workflow divided by its steps, ms (median run). */
  perStepMeanMs: number;
  workflowsPerSecond: number;
  stepsPerSecond: number;
}

/**
 * Measures `target`: a warm-up workflow, then `sizes.sequentialRuns` sequential workflows (the gaps
 * between consecutive step stamps are the per-step overhead), then `sizes.workflows` short
 * workflows with `sizes.concurrency` in flight.
 */
export async function measureWorkflows(
  target: WorkflowTarget,
  sizes: WorkflowSizes,
): Promise<WorkflowFigures> {
  const session = await target.open();
  try {
    await session.sequential(sizes.sequentialSteps);
    await runClosedLoop(sizes.concurrency, sizes.concurrency, () =>
      session.runOne(sizes.stepsPerWorkflow),
    );
    const gaps: number[] = [];
    const means: number[] = [];
    for (let run = 0; run < sizes.sequentialRuns; run++) {
      const started = performance.now();
      const stamps = await session.sequential(sizes.sequentialSteps);
      means.push((performance.now() - started) / sizes.sequentialSteps);
      if (stamps.length !== sizes.sequentialSteps) {
        throw new RangeError(
          `${target.name}: ${stamps.length} step stamps for ${sizes.sequentialSteps} steps (a step ran twice or not at all)`,
        );
      }
      for (let i = 1; i < stamps.length; i++) gaps.push(stamps[i]! - stamps[i - 1]!);
    }
    const workflowsPerSecond = await runClosedLoop(sizes.workflows, sizes.concurrency, () =>
      session.runOne(sizes.stepsPerWorkflow),
    );
    means.sort((a, b) => a - b);
    return {
      perStep: summarizeLatency(gaps),
      perStepMeanMs: means[means.length >> 1]!,
      workflowsPerSecond,
      stepsPerSecond: workflowsPerSecond * sizes.stepsPerWorkflow,
    };
  } finally {
    await session.close();
  }
}
