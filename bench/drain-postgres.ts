// Issue 4's benchmark: drain throughput on PostgreSQL with the workers in 1, 2 and 4 separate
// processes, Steadfast beside pg-boss and graphile-worker doing the same deliveries, then the same
// 1-process drain again after a churn has pushed many calls through the tables with no manual
// VACUUM. Figures, never pass/fail. The upstream runs in its own process for every contender.
//
// Run: npm run bench:postgres-drain -- [--quick] [--processes 1,2,4] [--calls N] [--rounds N]
//        [--churn N] [--peer-churn N] [--no-peers] [--no-share-one] [--cli] [--no-bare]
//        [--baseline-ref REF]
//
// A baseline build (`--baseline-ref REF`, or STEADFAST_BASELINE_REF=REF): REF is checked out into
// a temporary git worktree and its `steadfast worker` drains beside this build's, labelled
// `steadfast @<short sha>`, on a schema of its own made by its own migrations; the report prints
// this build's rate and CPU per call over its. A tiny check of the setup:
//   STEADFAST_BASELINE_REF=main npm run bench:postgres-drain -- --calls 500 --processes 1 \
//     --rounds 1 --churn 0 --peer-churn 0 --no-peers --no-share-one --no-bare
import { loadavg } from "node:os";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import pg from "pg";
import { graphileWorkerDrainTarget } from "./peers/graphile-worker-drain-target.ts";
import { pgBossDrainTarget } from "./peers/pg-boss-drain-target.ts";
import {
  describeDrain,
  freshKey,
  printDrainReport,
  type ChurnOutcome,
} from "./lib/drain-report.ts";
import { databaseUrl, PG_SERVER_URL } from "./lib/postgres.ts";
import { connectPostgresBackends } from "./lib/postgres-backends.ts";
import {
  churnThrough,
  measureProcessDrain,
  type DrainResult,
  type DrainTarget,
  type ProcessUpstream,
} from "./lib/process-drain.ts";
import { startUpstreamProcess } from "./lib/upstream-process.ts";
import { bareUndiciLoop } from "./lib/bare-loop.ts";
import { cpuSince, cpuSnapshot } from "./lib/cpu-usage.ts";
import { checkOutBaseline, type BaselineCheckout } from "./steadfast/baseline-checkout.ts";
import { steadfastDrainTarget } from "./steadfast/steadfast-drain-target.ts";

const { values } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    processes: { type: "string" },
    calls: { type: "string" },
    rounds: { type: "string" },
    churn: { type: "string" },
    "peer-churn": { type: "string" },
    "no-peers": { type: "boolean", default: false },
    "no-share-one": { type: "boolean", default: false },
    cli: { type: "boolean", default: false },
    "no-bare": { type: "boolean", default: false },
    "baseline-ref": { type: "string" },
  },
});
const quick = values.quick;
const processCounts = (values.processes ?? (quick ? "1,2" : "1,2,4")).split(",").map(Number);
const callsPerDrain = Number(values.calls ?? (quick ? 2_000 : 10_000));
const rounds = Number(values.rounds ?? (quick ? 1 : 3));
const churnTotal = Number(values.churn ?? (quick ? 10_000 : 200_000));
const peerChurnTotal = Number(values["peer-churn"] ?? (quick ? 5_000 : 50_000));
/** Connections left to everything but the worker processes (producers, psql, other sessions). */
const RESERVED_CONNECTIONS = 25;
/** Most calls queued ahead of the deliveries during a churn. */
const CHURN_BACKLOG = 10_000;

const steadfast = steadfastDrainTarget();
const shareOne = steadfastDrainTarget({ name: "steadfast share=1", shareOfConcurrency: 1 });
const cli = steadfastDrainTarget({ name: "steadfast (CLI, boot timed)", viaCli: true });
const peers: DrainTarget[] = values["no-peers"]
  ? []
  : [pgBossDrainTarget(), graphileWorkerDrainTarget()];
const variants = [...(values["no-share-one"] ? [] : [shareOne]), ...(values.cli ? [cli] : [])];
const baselineRef = values["baseline-ref"] ?? process.env.STEADFAST_BASELINE_REF;
const checkout: BaselineCheckout | undefined =
  baselineRef === undefined || baselineRef === "" ? undefined : checkOutBaseline(baselineRef);
process.once("SIGINT", () => {
  checkout?.remove();
  process.exit(130);
});
const baselines: DrainTarget[] =
  checkout === undefined
    ? []
    : [steadfastDrainTarget({ name: `steadfast @${checkout.shortSha}`, root: checkout.root })];
const targets = [steadfast, ...baselines, ...variants, ...peers];
const churns = new Map<DrainTarget, number>([
  ...(churnTotal > 0 ? [[steadfast, churnTotal] as const] : []),
  ...(peerChurnTotal > 0 ? peers.map((peer) => [peer, peerChurnTotal] as const) : []),
]);

const server = await serverSettings();
const perProcessConnections = (processes: number): number =>
  Math.floor((server.maxConnections - RESERVED_CONNECTIONS) / processes);
const began = performance.now();
const elapsed = (): string => `${((performance.now() - began) / 1000).toFixed(0)} s`;

console.log(`Node ${process.version}, ${new Date().toISOString()}; load average ${formatLoad()}`);
console.log(
  `PostgreSQL ${server.version} at ${PG_SERVER_URL.replace(/\/\/[^@]*@/, "//")}: max_connections ${server.maxConnections}, shared_buffers ${server.sharedBuffers}, synchronous_commit ${server.synchronousCommit}, autovacuum ${server.autovacuum}`,
);
console.log(
  `${count(callsPerDrain)} calls per drain, processes ${processCounts.join(", ")}, ${rounds} round(s) interleaved (median); one upstream child process answering 200 at once`,
);
console.log(
  `fresh: a new schema filled, VACUUM ANALYZEd, then the workers set going; churned: a new schema, ${count(churnTotal)} calls (peers: ${count(peerChurnTotal)}) pushed through by one worker process with at most ${count(CHURN_BACKLOG)} queued, then the same drain with no manual VACUUM or ANALYZE, each round paired with a fresh 1-process drain run just before it${server.autovacuum === "off" ? " (autovacuum is off on this server, so no vacuum at all)" : " (autovacuum only)"}`,
);
for (const target of targets) console.log(`- ${target.name}: ${target.settings}`);
if (checkout !== undefined) {
  console.log(
    `  (steadfast @${checkout.shortSha} is ${checkout.ref}, checked out in ${checkout.root})`,
  );
}

const fresh = new Map<string, DrainResult[]>();
const churned = new Map<string, ChurnOutcome>();
const upstream = await startUpstreamProcess();
const backends = await connectPostgresBackends();
try {
  if (!values["no-bare"]) await printBareExchange(upstream);
  for (let round = 1; round <= rounds; round++) {
    for (const processes of processCounts) {
      for (const target of targets) {
        const result = await drainFresh(target, upstream, processes);
        const key = freshKey(target.name, processes);
        fresh.set(key, [...(fresh.get(key) ?? []), result]);
        console.log(
          `[${elapsed()}] round ${round}: ${target.name} x${processes} fresh: ${describeDrain(result)}`,
        );
      }
    }
  }
  for (const [target, total] of churns) {
    churned.set(target.name, await churnThenDrain(target, upstream, total));
  }
} finally {
  await upstream.close();
  await backends.close();
  checkout?.remove();
}

console.log(`\n[${elapsed()}] load average after: ${formatLoad()}\n`);
printDrainReport({
  processCounts,
  systems: targets.map((target) => target.name),
  baseline: steadfast.name,
  variants: variants.map((target) => target.name),
  builds: baselines.map((target) => target.name),
  peers: peers.map((peer) => peer.name),
  fresh,
  churned,
  churnTotals: new Map([...churns].map(([target, total]) => [target.name, total])),
});

async function drainFresh(
  target: DrainTarget,
  upstream: ProcessUpstream,
  processes: number,
): Promise<DrainResult> {
  const session = await target.open({
    upstreamUrl: upstream.url,
    processes,
    maxConnectionsPerProcess: perProcessConnections(processes),
  });
  try {
    return await measureProcessDrain(session, upstream, {
      total: callsPerDrain,
      processes,
      vacuum: true,
      label: target.name,
      backends,
    });
  } finally {
    await session.close();
  }
}

async function churnThenDrain(
  target: DrainTarget,
  upstream: ProcessUpstream,
  total: number,
): Promise<ChurnOutcome> {
  const session = await target.open({
    upstreamUrl: upstream.url,
    processes: 1,
    maxConnectionsPerProcess: perProcessConnections(1),
  });
  try {
    const label = `${target.name} churn`;
    const churnPerSecond = await churnThrough(session, upstream, {
      total,
      backlog: CHURN_BACKLOG,
      label,
    });
    console.log(
      `[${elapsed()}] ${target.name}: churned ${count(total)} calls at ${count(churnPerSecond)}/s (producer alongside)`,
    );
    // Each churned drain is paired with a fresh one run just before it, so that both see the
    // same machine: other work on a shared machine moves a rate more than a cliff of 10% would.
    const outcome: ChurnOutcome = { churnPerSecond, fresh: [], churned: [] };
    for (let round = 1; round <= rounds; round++) {
      const fresh = await drainFresh(target, upstream, 1);
      outcome.fresh.push(fresh);
      console.log(
        `[${elapsed()}] round ${round}: ${target.name} x1 fresh: ${describeDrain(fresh)}`,
      );
      const churned = await measureProcessDrain(session, upstream, {
        total: callsPerDrain,
        processes: 1,
        vacuum: false,
        label,
        backends,
      });
      outcome.churned.push(churned);
      console.log(
        `[${elapsed()}] round ${round}: ${target.name} x1 churned: ${describeDrain(churned)}`,
      );
    }
    return outcome;
  } finally {
    await session.close();
  }
}

/**
 * The ceiling of any queue on this machine: the exchange alone, an undici loop to the same
 * upstream child with no queue and no database, and the machine CPU it takes per request (client,
 * upstream and kernel). Measured twice at 128 in flight; the first pass warms up and is dropped.
 */
async function printBareExchange(target: ProcessUpstream): Promise<void> {
  let line = "";
  for (let pass = 0; pass < 2; pass++) {
    const start = await cpuSnapshot(new Map());
    const total = 40_000;
    const perSecond = await bareUndiciLoop(target.url, { total, inFlight: 128 });
    const cpu = await cpuSince(start);
    const usPerRequest = (cpu.machineCores * cpu.wallMs * 1_000) / total;
    line = `bare exchange (undici loop to the same upstream, 128 in flight, no queue, no database): ${count(perSecond)} requests/s, ${count(usPerRequest)} us of machine CPU per request, ${cpu.machineCores.toFixed(2)} cores busy`;
    await target.resetAsync();
  }
  console.log(line);
}

function count(value: number): string {
  return Math.round(value).toLocaleString("en-US");
}

function formatLoad(): string {
  return loadavg()
    .map((n) => n.toFixed(2))
    .join(" ");
}

interface ServerSettings {
  version: string;
  maxConnections: number;
  sharedBuffers: string;
  synchronousCommit: string;
  autovacuum: string;
}

async function serverSettings(): Promise<ServerSettings> {
  const client = new pg.Client({ connectionString: databaseUrl("postgres") });
  await client.connect();
  try {
    const { rows } = await client.query<{ name: string; setting: string }>(
      "select name, current_setting(name) as setting from unnest($1::text[]) as name",
      [["server_version", "max_connections", "shared_buffers", "synchronous_commit", "autovacuum"]],
    );
    const get = (name: string): string => rows.find((row) => row.name === name)?.setting ?? "?";
    return {
      version: get("server_version"),
      maxConnections: Number(get("max_connections")),
      sharedBuffers: get("shared_buffers"),
      synchronousCommit: get("synchronous_commit"),
      autovacuum: get("autovacuum"),
    };
  } finally {
    await client.end();
  }
}
