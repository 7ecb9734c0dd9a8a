// Issue 2's benchmark: Steadfast's accept, drain and latency, side by side with BullMQ (Redis),
// graphile-worker and pg-boss (PostgreSQL) and the no-queue ceilings, in one run. Figures, never
// pass/fail. The upstream runs in its own process for every contender.
//
// Run: npm run bench -- [--quick] [--rounds N] [--no-peers]
import { parseArgs } from "node:util";
import {
  measurePeer,
  measureCeilings,
  METRICS,
  FULL_SIZES,
  QUICK_SIZES,
  peers,
} from "./peers/measure-peers.ts";
import { formatLoad } from "./lib/contenders.ts";
import { formatNumber, formatTable, median, type Row } from "./lib/stats.ts";
import { startUpstreamProcess } from "./lib/upstream-process.ts";
import { BARE_ACCEPT_SERVER, measureHttpAccept } from "./steadfast/http-accept.ts";
import { steadfastPeer } from "./steadfast/steadfast-peer.ts";

const { values } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    rounds: { type: "string", default: "1" },
    "no-peers": { type: "boolean", default: false },
  },
});
const sizes = values.quick ? QUICK_SIZES : FULL_SIZES;
const rounds = Number(values.rounds);
const BASELINE = "steadfast c=256";
const contenders = [
  steadfastPeer(256, BASELINE),
  steadfastPeer(50),
  steadfastPeer(256, "steadfast c=256 share=1", 1),
  ...(values["no-peers"] ? [] : peers),
];
const HTTP_ACCEPT = "accept over HTTP POST /v1/fetch (64 in flight)";
const BARE_HONO = "bare Hono server";

console.log(
  `Node ${process.version}, ${new Date().toISOString()}; load average before: ${formatLoad()}`,
);
console.log(
  `sizes: enqueue ${sizes.enqueueTotal}, drain ${sizes.drainTotal}, latency ${sizes.latencyRatePerSecond}/s for ${sizes.latencySeconds} s; rounds ${rounds}`,
);
for (const contender of contenders) console.log(`- ${contender.name}: ${contender.settings}`);

const upstream = await startUpstreamProcess();
const samples: Row[] = [];
try {
  for (let round = 1; round <= rounds; round++) {
    samples.push(...(await measureCeilings(upstream, sizes)));
    const bareHttp = await measureHttpAccept(
      upstream.url,
      sizes.enqueueTotal,
      64,
      BARE_ACCEPT_SERVER,
    );
    samples.push({
      name: BARE_HONO,
      metric: HTTP_ACCEPT,
      value: bareHttp,
      unit: "req/s",
      note: "parses the body, answers 202, stores nothing: the ceiling",
    });
    const http = await measureHttpAccept(upstream.url, sizes.enqueueTotal);
    samples.push({
      name: BASELINE,
      metric: HTTP_ACCEPT,
      value: http,
      unit: "calls/s",
      note: "server in a child process, engine off",
    });
    for (const contender of contenders) {
      samples.push(...(await measurePeer(contender, upstream, sizes)));
      console.log(`round ${round}: ${contender.name} done`);
    }
  }
} finally {
  await upstream.close();
}
const rows = medians(samples);
console.log(`load average after: ${formatLoad()}\n`);
console.log(formatTable(rows, BASELINE));
console.log("\nTargets (issue 2):");
const get = (name: string, metric: string): number | undefined =>
  rows.find((r) => r.name === name && r.metric === metric)?.value;
const drain = get(BASELINE, METRICS.drain) ?? 0;
const undici = get("bare undici request() x64", METRICS.drain) ?? Number.NaN;
const bestPeer = Math.max(
  0,
  ...rows
    .filter(
      (r) =>
        r.metric === METRICS.drain && !r.name.startsWith("steadfast") && !r.name.startsWith("bare"),
    )
    .map((r) => r.value),
);
const httpAccept = get(BASELINE, HTTP_ACCEPT) ?? 0;
const bareHono = get(BARE_HONO, HTTP_ACCEPT) ?? Number.NaN;
check("(a) accept over HTTP >= 20,000/s", httpAccept, (v) => v >= 20_000);
console.log(
  `           (the bare Hono ceiling of this run: ${formatNumber(bareHono)}/s; Steadfast reached ${formatNumber((100 * httpAccept) / bareHono)}% of it)`,
);
check(
  "(a) accept in-process (bulk) >= 60,000/s",
  get(BASELINE, METRICS.enqueueBatch) ?? 0,
  (v) => v >= 60_000,
);
check("(b) drain >= 8,000/s", drain, (v) => v >= 8_000);
if (bestPeer > 0) check("(b) drain >= 2x the best peer", drain / bestPeer, (v) => v >= 2, "x");
check("(b) drain >= 80% of the bare undici loop", (100 * drain) / undici, (v) => v >= 80, "%");
check("(c) p50 < 1 ms", get(BASELINE, METRICS.p50) ?? Number.NaN, (v) => v < 1, " ms");
check("(c) p99 < 4 ms", get(BASELINE, METRICS.p99) ?? Number.NaN, (v) => v < 4, " ms");

function check(label: string, value: number, ok: (value: number) => boolean, unit = ""): void {
  console.log(`  ${ok(value) ? "met    " : "not met"}  ${label}: ${formatNumber(value)}${unit}`);
}

function medians(all: readonly Row[]): Row[] {
  const groups = new Map<string, Row[]>();
  for (const row of all) {
    const key = `${row.metric}\u0000${row.name}`;
    groups.set(key, [...(groups.get(key) ?? []), row]);
  }
  return [...groups.values()].map((group) => {
    const values = group.map((row) => row.value);
    const range =
      group.length > 1
        ? `range ${formatNumber(Math.min(...values))}-${formatNumber(Math.max(...values))}`
        : undefined;
    return {
      ...group[0]!,
      value: median(values),
      note: [group[0]!.note, range].filter(Boolean).join("; "),
    };
  });
}
