// Summaries and the side-by-side table every benchmark prints.
import { formatGrid } from "./text-table.ts";

/**
 * The `p`-th percentile (0..100) of `samples` by nearest rank on a sorted copy: the smallest
 * sample with at least p% of samples at or below it. Throws on an empty list.
 */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) throw new Error("percentile of no samples");
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/** The median of `samples` (mean of the two middle values for an even count). */
export function median(samples: readonly number[]): number {
  if (samples.length === 0) throw new Error("median of no samples");
  const sorted = [...samples].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** p50, p95 and p99 of a list of latencies, in the list's unit (milliseconds here). */
export interface LatencySummary {
  count: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** Summarises latency samples (milliseconds) as p50/p95/p99/max. */
export function summarizeLatency(samplesMs: readonly number[]): LatencySummary {
  return {
    count: samplesMs.length,
    p50Ms: percentile(samplesMs, 50),
    p95Ms: percentile(samplesMs, 95),
    p99Ms: percentile(samplesMs, 99),
    maxMs: Math.max(...samplesMs),
  };
}

/** One figure of one contender, e.g. `{ name: "bullmq", metric: "drain", value: 3200, unit: "calls/s" }`. */
export interface Row {
  name: string;
  metric: string;
  value: number;
  unit: string;
  /** Free text printed after the ratio (settings, caveats). */
  note?: string;
}

/**
 * Formats rows as a fixed-width table grouped by metric (in first-seen order), with one ratio
 * column `value / baseline value` per baseline, for the same metric, where a baseline names a
 * row's `name`. Rows whose metric a baseline lacks get no ratio in its column. For throughput a
 * ratio above 1 beats the baseline; for latency, below 1 does.
 *
 * @example
 * console.log(formatTable([{ name: "a", metric: "drain", value: 2, unit: "calls/s" }], "a"));
 */
export function formatTable(rows: readonly Row[], baseline: string | readonly string[]): string {
  const baselines = typeof baseline === "string" ? [baseline] : baseline;
  const metrics = [...new Set(rows.map((row) => row.metric))];
  const header = ["metric", "name", "value", "unit", ...baselines.map((b) => `vs ${b}`), "note"];
  const lines: string[][] = [];
  for (const metric of metrics) {
    const group = rows.filter((row) => row.metric === metric);
    const bases = baselines.map((name) => group.find((row) => row.name === name));
    for (const row of group) {
      const ratios = bases.map((base) =>
        base && base.value !== 0 ? `${(row.value / base.value).toFixed(2)}x` : "",
      );
      lines.push([metric, row.name, formatNumber(row.value), row.unit, ...ratios, row.note ?? ""]);
    }
  }
  return formatGrid(header, lines, (column) => column === 2);
}

/** Whole numbers with thousands separators from 100 up; two decimals below (for milliseconds). */
export function formatNumber(value: number): string {
  return Math.abs(value) >= 100 ? Math.round(value).toLocaleString("en-US") : value.toFixed(2);
}
