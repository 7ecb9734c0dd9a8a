// Issue 10, item 10's benchmark: how long after a `kill -9` the calls a process had in flight are
// resumed, on SQLite and on PostgreSQL, by the restarted process and by another process of the
// fleet. Figures, never pass/fail.
//
// Each measurement: a `steadfast serve` child process accepts N calls to a local upstream that
// holds the first request of each call without answering (so all N are in flight), then:
//   - restart:          the process is killed (SIGKILL) and started again on the same database;
//   - takeover, killed: a `steadfast worker` already running on the same database takes over;
//   - takeover, silent: the process is frozen (SIGSTOP) instead: it still exists, its heartbeat
//                       stops, as for a host that vanished; the worker takes over after
//                       workerTimeoutMs (5 s).
// Timed: from the kill (or freeze) to the restarted process listening, to the first and to the
// last call sent again. Without process liveness, every one of these waited for the lease (30 s).
//
// Run: npm run bench:resume -- [--quick] [--calls N] [--rounds N] [--stores sqlite,postgres]
//        [--lease-ms MS]
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { parseArgs } from "node:util";
import pg from "pg";
import { Pool } from "undici";
import {
  holdFirstRequestOfEach,
  startFlakyUpstream,
  type FlakyUpstream,
} from "../src/testing/flaky-upstream.ts";
import { epochMs } from "./lib/clock.ts";
import { dropSchema, ensureDatabase } from "./lib/postgres.ts";
import { median } from "./lib/stats.ts";
import { formatGrid } from "./lib/text-table.ts";

const { values: args } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    calls: { type: "string" },
    rounds: { type: "string" },
    stores: { type: "string", default: "sqlite,postgres" },
    "lease-ms": { type: "string", default: "30000" },
    scenarios: { type: "string" },
  },
});
const CALLS = Number(args.calls ?? (args.quick ? 50 : 500));
const ROUNDS = Number(args.rounds ?? (args.quick ? 1 : 3));
const LEASE_MS = Number(args["lease-ms"]);
const STORES = args.stores.split(",").map((s) => s.trim()) as ("sqlite" | "postgres")[];
const KEY = "bench-resume-key-0123456789";
const ROOT = join(import.meta.dirname, "..");
/** Longest a measurement may take: past the lease, resuming did not work at all. */
const GIVE_UP_MS = LEASE_MS + 30_000;

type Scenario = "restart" | "takeover, killed" | "takeover, silent";
const ALL_SCENARIOS: readonly Scenario[] = ["restart", "takeover, killed", "takeover, silent"];
const SCENARIOS: readonly Scenario[] =
  args.scenarios === undefined
    ? ALL_SCENARIOS
    : args.scenarios.split(",").map((name) => {
        const scenario = ALL_SCENARIOS.find((s) => s.includes(name.trim()));
        if (scenario === undefined)
          throw new Error(`--scenarios: ${name} is none of ${ALL_SCENARIOS.join(" | ")}`);
        return scenario;
      });

interface Sample {
  /** From the kill to the restarted process listening (restart only). */
  listeningMs?: number;
  firstResumedMs: number;
  allResumedMs: number;
}

interface Child {
  process: ChildProcess;
  url: string;
  exited: Promise<unknown>;
  /** What it printed (errors only: the log level is `error`). */
  output(): string;
}

/** Starts `steadfast <command>` and resolves once its output matches `ready`. */
async function startSteadfast(
  command: "serve" | "worker",
  env: Record<string, string>,
): Promise<Child> {
  const child = spawn(process.execPath, [join(ROOT, "bin/steadfast.js"), command], {
    cwd: ROOT,
    env: { ...process.env, STEADFAST_PORT: "0", STEADFAST_LOG_LEVEL: "error", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const exited = once(child, "exit");
  const ready = command === "serve" ? /listening on (http:\/\/\S+)/ : /worker (\S+) running/;
  let output = "";
  const url = await new Promise<string>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      const match = ready.exec(output);
      if (match?.[1] !== undefined) resolve(match[1]);
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    void exited.then(() => reject(new Error(`steadfast ${command} exited early:\n${output}`)));
  });
  return { process: child, url, exited, output: () => output };
}

async function kill(child: Child, signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
  if (child.process.exitCode !== null || child.process.signalCode !== null) return;
  child.process.kill(signal);
  if (signal === "SIGKILL") await child.exited;
}

/** Submits `CALLS` calls through `server`, 32 at a time, and waits until all are in flight. */
async function putInFlight(server: Child, upstream: FlakyUpstream): Promise<void> {
  const pool = new Pool(server.url, { connections: 32 });
  let next = 0;
  const submitter = async (): Promise<void> => {
    while (next < CALLS) {
      const i = next++;
      const response = await pool.request({
        method: "POST",
        path: "/v1/fetch",
        headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
        body: JSON.stringify({ url: `${upstream.url}/work/${i}`, method: "POST", body: { i } }),
      });
      await response.body.text();
      if (response.statusCode !== 202) throw new Error(`submit answered ${response.statusCode}`);
    }
  };
  await Promise.all(Array.from({ length: 32 }, submitter));
  await pool.close();
  await upstream.waitForRequests(CALLS);
}

/** Waits until the upstream has received every call a second time; times from `since`. */
async function resumed(upstream: FlakyUpstream, since: number): Promise<Sample> {
  let firstAt: number | undefined;
  for (;;) {
    const again = upstream.requests.length - CALLS;
    if (again > 0) firstAt ??= epochMs();
    if (again >= CALLS)
      return { firstResumedMs: firstAt! - since, allResumedMs: epochMs() - since };
    if (epochMs() - since > GIVE_UP_MS)
      throw new Error(`only ${again} of ${CALLS} calls resumed after ${GIVE_UP_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

async function measure(store: "sqlite" | "postgres", scenario: Scenario): Promise<Sample> {
  const upstream = await startFlakyUpstream(holdFirstRequestOfEach("idempotency-key"));
  const dir = mkdtempSync(join(tmpdir(), "steadfast-bench-resume-"));
  const schema = `steadfast_bench_resume_${process.pid}`;
  const pgUrl = store === "postgres" ? await ensureDatabase("bench_steadfast") : undefined;
  if (pgUrl !== undefined) await dropSchema(pgUrl, schema);
  const env: Record<string, string> = {
    STEADFAST_DATA_DIR: dir,
    STEADFAST_DB:
      pgUrl === undefined ? `sqlite:${join(dir, "steadfast.db")}` : `${pgUrl}?schema=${schema}`,
    STEADFAST_API_KEYS: `bench:${KEY}`,
    STEADFAST_ALLOW_PRIVATE_NETWORKS: "true",
    STEADFAST_LEASE_MS: String(LEASE_MS),
    // One destination may use half of it (the default share): all calls fit in flight.
    STEADFAST_CONCURRENCY: String(Math.max(256, 2 * CALLS)),
  };
  const children: Child[] = [];
  try {
    const first = await startSteadfast("serve", env);
    children.push(first);
    await putInFlight(first, upstream);
    if (scenario === "restart") {
      const killedAt = epochMs();
      await kill(first);
      const second = await startSteadfast("serve", env);
      children.push(second);
      const listeningMs = epochMs() - killedAt;
      return { listeningMs, ...(await resumed(upstream, killedAt)) };
    }
    const peer = await startSteadfast("worker", env);
    children.push(peer);
    const stoppedAt = epochMs();
    await kill(first, scenario === "takeover, killed" ? "SIGKILL" : "SIGSTOP");
    return await resumed(upstream, stoppedAt);
  } catch (error) {
    // What the processes said and where the calls stand: why they were not resumed.
    for (const [i, child] of children.entries())
      console.log(`process ${i} printed:\n${child.output().slice(-4_000)}`);
    console.log(`calls in the database:\n${await callStates(env.STEADFAST_DB!, schema)}`);
    throw error;
  } finally {
    for (const child of children) await kill(child);
    await upstream.close();
    rmSync(dir, { recursive: true, force: true });
    if (pgUrl !== undefined) await dropSchema(pgUrl, schema);
  }
}

/** The calls by status, owner and wait code, and the workers, for a failed measurement. */
async function callStates(db: string, schema: string): Promise<string> {
  // Live calls' state is in their work rows (SQLite migration 0009, PostgreSQL 0008).
  const calls =
    "SELECT coalesce(w.status, c.status) AS status, w.worker_id, w.wait_code, count(*) AS n " +
    "FROM calls c LEFT JOIN work w ON w.id = c.id GROUP BY 1, 2, 3 ORDER BY 1, 2, 3";
  const workers = "SELECT id, pid, heartbeat_at, stopped_at FROM workers ORDER BY id";
  if (db.startsWith("sqlite:")) {
    const sqlite = new DatabaseSync(db.slice("sqlite:".length), { readOnly: true });
    try {
      return JSON.stringify([sqlite.prepare(calls).all(), sqlite.prepare(workers).all()]);
    } finally {
      sqlite.close();
    }
  }
  const client = new pg.Client({ connectionString: db.replace(/\?.*$/, "") });
  await client.connect();
  try {
    await client.query(`SET search_path TO ${pg.escapeIdentifier(schema)}`);
    const locks = await client.query(
      "SELECT pid, state, xact_start, left(query, 80) AS query FROM pg_stat_activity " +
        "WHERE datname = current_database() AND pid <> pg_backend_pid()",
    );
    return JSON.stringify(
      [(await client.query(calls)).rows, (await client.query(workers)).rows, locks.rows],
      null,
      1,
    );
  } finally {
    await client.end();
  }
}

const seconds = (ms: number | undefined): string =>
  ms === undefined ? "" : `${(ms / 1000).toFixed(2)} s`;

console.log(
  `Node ${process.version}, ${new Date().toISOString()}; load average before: ` +
    loadavg()
      .map((n) => n.toFixed(2))
      .join(" "),
);
console.log(
  `${CALLS} calls in flight at the kill, lease ${LEASE_MS} ms (without process liveness, each ` +
    `figure was about the lease), heartbeat 1 s, workerTimeoutMs 5 s; ${ROUNDS} round(s), medians`,
);
const rows: string[][] = [];
for (const store of STORES) {
  for (const scenario of SCENARIOS) {
    const samples: Sample[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const label = `${store}, ${scenario}, round ${round + 1}/${ROUNDS}`;
      let sample: Sample;
      try {
        sample = await measure(store, scenario);
      } catch (error) {
        console.log(`${label}: FAILED`);
        throw error;
      }
      console.log(
        `${label}: ` +
          (sample.listeningMs === undefined ? "" : `listening ${seconds(sample.listeningMs)}, `) +
          `first resumed ${seconds(sample.firstResumedMs)}, all ${seconds(sample.allResumedMs)}`,
      );
      samples.push(sample);
    }
    const med = (pick: (s: Sample) => number | undefined): number | undefined => {
      const values = samples.map(pick).filter((v): v is number => v !== undefined);
      return values.length === 0 ? undefined : median(values);
    };
    const all = samples.map((s) => s.allResumedMs);
    rows.push([
      store,
      scenario,
      seconds(med((s) => s.listeningMs)),
      seconds(med((s) => s.firstResumedMs)),
      seconds(med((s) => s.allResumedMs)),
      ROUNDS > 1 ? `${seconds(Math.min(...all))}-${seconds(Math.max(...all))}` : "",
    ]);
  }
}
console.log(
  formatGrid(
    ["store", "after kill -9 (or freeze)", "listening", "first resumed", "all resumed", "range"],
    rows,
    (column) => column > 1,
  ),
);
console.log(
  "load average after: " +
    loadavg()
      .map((n) => n.toFixed(2))
      .join(" "),
);
