// The tables bench/drain-postgres.ts prints: drain throughput per system and process count, the
// CPU each call cost where (workers, PostgreSQL, upstream), the churn comparison, and the targets.
import type { CpuUsage } from "./cpu-usage.ts";
import type { DrainResult } from "./process-drain.ts";
import { median } from "./stats.ts";
import { formatGrid } from "./text-table.ts";

/** Cores of the machine class the figures are for. */
const MACHINE_CORES = 2;

/** A churn and the drains measured after it, each paired with a fresh drain run just before. */
export interface ChurnOutcome {
  /** Calls per second delivered during the churn, producer running alongside. */
  churnPerSecond: number;
  /** 1-process drains of fresh, VACUUM ANALYZEd tables, one per round. */
  fresh: DrainResult[];
  /** 1-process drains of the churned tables, `churned[i]` run right after `fresh[i]`. */
  churned: DrainResult[];
}

/** Every figure of one run of bench/drain-postgres.ts. */
export interface DrainReportInput {
  processCounts: readonly number[];
  /** Every system measured, in print order. */
  systems: readonly string[];
  /** The system the targets are about (`steadfast`). */
  baseline: string;
  /** Other Steadfast rows compared with the best peer too (e.g. `steadfast share=1`). */
  variants: readonly string[];
  /** Other builds of Steadfast (`steadfast @<sha>`), which `baseline` is compared with. */
  builds?: readonly string[];
  peers: readonly string[];
  /** Fresh drains per `freshKey(name, processes)`, one per round. */
  fresh: ReadonlyMap<string, readonly DrainResult[]>;
  /** Churned 1-process drains per system. */
  churned: ReadonlyMap<string, ChurnOutcome>;
  churnTotals: ReadonlyMap<string, number>;
}

/** The key of `DrainReportInput.fresh`. */
export function freshKey(name: string, processes: number): string {
  return `${name}\u0000${processes}`;
}

/** Cores the machine spent outside the measured groups (other sessions' work, the kernel). */
export function otherCores(cpu: CpuUsage): number {
  const measured = Object.values(cpu.cores).reduce((sum, cores) => sum + cores, 0);
  return Math.max(0, cpu.machineCores - measured);
}

/** CPU µs one call cost in `group` (`workers`, `postgres`, `upstream`) during `result`. */
export function microsPerCall(result: DrainResult, group: string): number {
  return ((result.cpu.cores[group] ?? 0) * result.cpu.wallMs * 1000) / result.calls;
}

/** One line about a drain: rate, duration, cores per group. */
export function describeDrain(result: DrainResult): string {
  const { cores, machineCores } = result.cpu;
  const shown = (value: number | undefined): string => (value ?? 0).toFixed(2);
  return `${formatRate(result.callsPerSecond)} calls/s (${result.seconds.toFixed(2)} s; cores: workers ${shown(cores.workers)}, postgres ${shown(cores.postgres)}, upstream ${shown(cores.upstream)}, other ${shown(otherCores(result.cpu))}, machine ${shown(machineCores)})`;
}

/** Prints the throughput, CPU and churn tables and the targets. */
export function printDrainReport(input: DrainReportInput): void {
  printThroughput(input);
  printCpu(input);
  if ((input.builds ?? []).length > 0) printBuilds(input);
  if (input.churned.size > 0) printChurn(input);
  printTargets(input);
}

/** Which rate of a drain a table shows. */
type RateKind = "callsPerSecond" | "steadyCallsPerSecond";

function printThroughput(input: DrainReportInput): void {
  printRates(input, "callsPerSecond", "drain, calls/s (median)", true);
  console.log(
    "\nThe same drains once warm: the last 80% of deliveries, from the arrival ending the first 20%",
  );
  printRates(input, "steadyCallsPerSecond", "steady, calls/s (median)", false);
}

function printRates(input: DrainReportInput, kind: RateKind, title: string, ranges: boolean): void {
  const { processCounts } = input;
  const rate = (name: string, n: number): number => freshRate(input, name, n, kind);
  const header = [title, ...processCounts.map((n) => `${n} process${n > 1 ? "es" : ""}`)];
  const rows = input.systems.map((name) => [
    name,
    ...processCounts.map((n) => formatRate(rate(name, n))),
  ]);
  for (const name of [input.baseline, ...input.variants]) {
    rows.push([
      `${name} / best peer`,
      ...processCounts.map((n) => formatRatio(rate(name, n) / bestPeerRate(input, n, kind))),
    ]);
  }
  for (const name of input.systems) {
    rows.push([
      `${name}: x of 1 process`,
      ...processCounts.map((n) => formatRatio(rate(name, n) / rate(name, 1))),
    ]);
  }
  console.log(
    formatGrid(
      header,
      rows.filter((row) => row.slice(1).some((cell) => cell !== "")),
    ),
  );
  if (!ranges) return;
  const spreads = input.systems.flatMap((name) =>
    processCounts.flatMap((n) => {
      const rates = (input.fresh.get(freshKey(name, n)) ?? []).map((r) => r[kind]);
      return rates.length > 1
        ? [`${name} x${n}: ${formatRate(Math.min(...rates))}-${formatRate(Math.max(...rates))}`]
        : [];
    }),
  );
  if (spreads.length > 0) console.log(`ranges over rounds: ${spreads.join("; ")}`);
}

function printCpu(input: DrainReportInput): void {
  console.log(
    `\nCPU per call (µs) in the median fresh drain, from go to the last delivery; cores: busy = workers + postgres + upstream, other = the rest of the machine (other sessions' work); ceiling = ${MACHINE_CORES} cores / total µs per call`,
  );
  const header = [
    "system",
    "procs",
    "calls/s",
    "workers µs",
    "postgres µs",
    "upstream µs",
    "total µs",
    "busy cores",
    "other cores",
    "ceiling/s",
  ];
  const rows: string[][] = [];
  for (const name of input.systems) {
    for (const n of input.processCounts) {
      const result = medianResult(input.fresh.get(freshKey(name, n)));
      if (!result) continue;
      const [workers, postgres, upstream] = ["workers", "postgres", "upstream"].map((group) =>
        microsPerCall(result, group),
      ) as [number, number, number];
      const total = workers + postgres + upstream;
      const { cores } = result.cpu;
      const busy = (cores.workers ?? 0) + (cores.postgres ?? 0) + (cores.upstream ?? 0);
      rows.push([
        name,
        String(n),
        formatRate(result.callsPerSecond),
        ...[workers, postgres, upstream, total].map((micros) => micros.toFixed(0)),
        busy.toFixed(2),
        otherCores(result.cpu).toFixed(2),
        formatRate((MACHINE_CORES * 1e6) / total),
      ]);
    }
  }
  console.log(formatGrid(header, rows));
}

/** This build over each other build: rates (higher is better) and CPU per call (lower is better). */
function printBuilds(input: DrainReportInput): void {
  const current = input.baseline;
  console.log(
    `\n${current} (this build) over each other build, median fresh drains: rate ratios above 1 and CPU ratios below 1 favour this build`,
  );
  const header = ["build", ...input.processCounts.map((n) => `${n} process${n > 1 ? "es" : ""}`)];
  const rows: string[][] = [];
  for (const other of input.builds ?? []) {
    const ratio = (value: (result: DrainResult) => number): string[] =>
      input.processCounts.map((n) => {
        const mine = medianResult(input.fresh.get(freshKey(current, n)));
        const theirs = medianResult(input.fresh.get(freshKey(other, n)));
        return mine && theirs ? formatRatio(value(mine) / value(theirs)) : "";
      });
    rows.push([`calls/s, ${current} / ${other}`, ...ratio((r) => r.callsPerSecond)]);
    rows.push([`steady calls/s, ${current} / ${other}`, ...ratio((r) => r.steadyCallsPerSecond)]);
    for (const group of ["postgres", "workers"]) {
      rows.push([
        `${group} µs per call, ${current} / ${other}`,
        ...ratio((r) => microsPerCall(r, group)),
      ]);
    }
  }
  console.log(formatGrid(header, rows));
}

function printChurn(input: DrainReportInput): void {
  console.log(
    "\n1-process drain, fresh (VACUUM ANALYZEd) vs churned (a new schema, the churn below pushed through it by one worker process, no manual VACUUM or ANALYZE), run in pairs: change = median over rounds of churned / fresh; CPU µs per call in the median drains",
  );
  const header = [
    "system",
    "churn calls",
    "churn rate/s",
    "fresh/s",
    "churned/s",
    "change",
    "steady change",
    "postgres µs",
    "workers µs",
    "other cores",
  ];
  const rows = [...input.churned].map(([name, outcome]) => {
    const before = medianResult(outcome.fresh)!;
    const after = medianResult(outcome.churned)!;
    const pair = (group: string): string =>
      `${microsPerCall(before, group).toFixed(0)} -> ${microsPerCall(after, group).toFixed(0)}`;
    return [
      name,
      formatRate(input.churnTotals.get(name) ?? Number.NaN),
      formatRate(outcome.churnPerSecond),
      formatRate(median(outcome.fresh.map((d) => d.callsPerSecond))),
      formatRate(median(outcome.churned.map((d) => d.callsPerSecond))),
      formatPercent(pairedChange(outcome, "callsPerSecond")),
      formatPercent(pairedChange(outcome, "steadyCallsPerSecond")),
      pair("postgres"),
      pair("workers"),
      `${otherCores(before.cpu).toFixed(2)} -> ${otherCores(after.cpu).toFixed(2)}`,
    ];
  });
  console.log(formatGrid(header, rows));
}

/** Median over rounds of (churned / fresh - 1), in percent. */
function pairedChange(outcome: ChurnOutcome, kind: RateKind): number {
  return median(
    outcome.churned.map((churned, i) => (churned[kind] / outcome.fresh[i]![kind] - 1) * 100),
  );
}

function printTargets(input: DrainReportInput): void {
  console.log("\nTargets (issue 4):");
  const one = freshRate(input, input.baseline, 1);
  check("8,000 calls/s with one process", one, (v) => v >= 8_000, " calls/s");
  check("twice the best peer with one process", one / bestPeerRate(input, 1), (v) => v >= 2, "x");
  for (const n of input.processCounts) {
    check(
      `ahead of both peers with ${n} process${n > 1 ? "es" : ""}`,
      freshRate(input, input.baseline, n) / bestPeerRate(input, n),
      (v) => v > 1,
      "x",
    );
  }
  const after = input.churned.get(input.baseline);
  if (after) {
    check(
      "churned within 10% of fresh (one process, paired rounds)",
      pairedChange(after, "callsPerSecond"),
      (v) => v >= -10,
      "%",
    );
  }
}

function check(label: string, value: number, ok: (value: number) => boolean, unit: string): void {
  if (!Number.isFinite(value)) {
    console.log(`  n/a      ${label}`);
    return;
  }
  const shown = unit === " calls/s" ? formatRate(value) : value.toFixed(2);
  console.log(`  ${ok(value) ? "met    " : "not met"}  ${label}: ${shown}${unit}`);
}

function freshRate(
  input: DrainReportInput,
  name: string,
  processes: number,
  kind: RateKind = "callsPerSecond",
): number {
  const results = input.fresh.get(freshKey(name, processes));
  return results && results.length > 0 ? median(results.map((r) => r[kind])) : Number.NaN;
}

function bestPeerRate(
  input: DrainReportInput,
  processes: number,
  kind: RateKind = "callsPerSecond",
): number {
  const rates = input.peers
    .map((peer) => freshRate(input, peer, processes, kind))
    .filter(Number.isFinite);
  return rates.length > 0 ? Math.max(...rates) : Number.NaN;
}

/** The result whose rate is the median (the lower middle one for an even count). */
function medianResult(results: readonly DrainResult[] | undefined): DrainResult | undefined {
  if (!results || results.length === 0) return undefined;
  const sorted = [...results].sort((a, b) => a.callsPerSecond - b.callsPerSecond);
  return sorted[(sorted.length - 1) >> 1];
}

function formatRate(value: number): string {
  return Number.isFinite(value) ? Math.round(value).toLocaleString("en-US") : "";
}

function formatPercent(value: number): string {
  return `${value.toFixed(1)}%`;
}

function formatRatio(value: number): string {
  return Number.isFinite(value) ? `${value.toFixed(2)}x` : "";
}
