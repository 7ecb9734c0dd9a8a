// The peer half of issue 2's benchmark: bare no-queue loops, then BullMQ, graphile-worker and
// pg-boss, each with a worker calling fetch() at concurrency 50, against one local upstream.
// Prints a side-by-side table (medians over rounds); never fails on time.
// Run: node_modules/.bin/node bench/peers/run-peers.ts [--quick] [--upstream-process] [--rounds N] [--baseline NAME]
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { formatNumber, formatTable, median, type Row } from "../lib/stats.ts";
import { startUpstreamProcess } from "../lib/upstream-process.ts";
import { startUpstream } from "../lib/upstream.ts";
import { FULL_SIZES, QUICK_SIZES, measureCeilings, measurePeer, peers } from "./measure-peers.ts";

const { values } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    "upstream-process": { type: "boolean", default: false },
    rounds: { type: "string", default: "1" },
    baseline: { type: "string", default: "bullmq" },
  },
});
const sizes = values.quick ? QUICK_SIZES : FULL_SIZES;
const rounds = Number(values.rounds);

console.log(
  `sizes: enqueue ${sizes.enqueueTotal}, drain ${sizes.drainTotal}, latency ${sizes.latencyRatePerSecond}/s for ${sizes.latencySeconds} s; rounds: ${rounds}`,
);
console.log(`upstream: ${values["upstream-process"] ? "child process" : "this process"}`);
console.log(`load average before: ${formatLoad()}`);
for (const peer of peers) console.log(`${peer.name}: ${peer.settings}`);

// In this process by default; in a child process (as bench/calls.ts runs it) with the flag.
const upstream = values["upstream-process"] ? await startUpstreamProcess() : await startUpstream();
const samples: Row[] = [];
try {
  for (let round = 1; round <= rounds; round++) {
    samples.push(...(await measureCeilings(upstream, sizes)));
    for (const peer of peers) {
      const rows = await measurePeer(peer, upstream, sizes);
      samples.push(...rows);
      console.log(`round ${round}: ${peer.name} done`);
    }
  }
} finally {
  await upstream.close();
}
console.log(`load average after: ${formatLoad()}\n`);
console.log(formatTable(medians(samples), values.baseline));

/** One row per (name, metric) with the median value over rounds, and the range when rounds > 1. */
function medians(rows: readonly Row[]): Row[] {
  const groups = new Map<string, Row[]>();
  for (const row of rows) {
    const key = `${row.metric}\u0000${row.name}`;
    groups.set(key, [...(groups.get(key) ?? []), row]);
  }
  return [...groups.values()].map((group) => {
    const values = group.map((row) => row.value);
    const range = `range ${formatNumber(Math.min(...values))}-${formatNumber(Math.max(...values))}`;
    const note = [group[0]!.note, group.length > 1 ? range : undefined].filter(Boolean).join("; ");
    return { ...group[0]!, value: median(values), note };
  });
}

function formatLoad(): string {
  return loadavg()
    .map((load) => load.toFixed(2))
    .join(" ");
}
