// Issue 12's benchmark: a node:http server whose handler does 3 trivial steps, plain (no
// Steadfast) versus a durable endpoint (`steadfast.endpoint` + `toNodeHandler`) on SQLite
// (synchronous FULL and NORMAL) and on PostgreSQL, and the same handler built on DBOS Transact
// (the local PostgreSQL), in one run. Each contender's server runs in this process, one at a
// time; autocannon runs in a child process (its CLI, `--json`) so the load generator and the
// server each have a core. Every request is a POST with a small JSON body and no Idempotency-Key
// (each one its own run). Figures: req/s (autocannon's mean of per-second counts) and p50/p99
// latency, never pass/fail; a contender that answers anything but 2xx stops the run.
//
// Run: npm run bench:endpoints -- [--quick] [--only name,name]
// (names: plain, plain-web, steadfast-sqlite-full, steadfast-sqlite-normal, steadfast-pg, dbos)
import { DBOS } from "@dbos-inc/dbos-sdk";
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type RequestListener } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs, promisify } from "node:util";
import pg from "pg";
import { toNodeHandler } from "../src/endpoints/node-adapter.ts";
import { createSteadfast, type Steadfast } from "../src/steadfast.ts";
import { databaseUrl, dropSchema } from "./lib/postgres.ts";
import { printRunHeader, selectContenders } from "./lib/contenders.ts";
import { formatNumber, formatTable, type Row } from "./lib/stats.ts";

const { values } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    only: { type: "string" },
  },
});
/** Seconds of measured load per contender (the 10 s; 2 s with `--quick`). */
const DURATION_S = values.quick ? 2 : 10;
/** Seconds of unmeasured load per contender before its measurement (JIT, pools, caches). */
const WARMUP_S = values.quick ? 1 : 2;
/** autocannon connections (the 50), each with one request in flight. */
const CONNECTIONS = 50;
/** The body every request carries. */
const BODY = JSON.stringify({ question: "life", user: "bench" });
/** The PostgreSQL database Steadfast makes its schema in (the tests' database). */
const PG_DATABASE = "test";
/** The fresh database DBOS keeps its system tables in (dropped before and after). */
const DBOS_DATABASE = "steadfast_bench_dbos_endpoints";
const AUTOCANNON = fileURLToPath(import.meta.resolve("autocannon/autocannon.js"));

/** The request body the handler reads. */
interface Question {
  question: string;
  user: string;
}

/** How a step runs: a plain call, `step.run`, or `DBOS.runStep`. */
type RunStep = <T>(name: string, fn: () => T) => Promise<T>;

/** The handler's work, the same for every contender: 3 trivial steps, each using the last. */
async function threeSteps(input: Question, run: RunStep): Promise<string> {
  const plan = await run("plan", () => `look up "${input.question}"`);
  const found = await run("search", () => `${plan} for ${input.user}`);
  return run("answer", () => `${found}: 42`);
}

/** A server's request listener and how to let go of what it holds once the server closed. */
interface Session {
  listener: RequestListener;
  close(): Promise<void>;
}

/** One contender: its name, where its state lives, and how to open its handler. */
interface Contender {
  name: string;
  database: string;
  settings: string;
  open(): Promise<Session>;
}

const plainStep: RunStep = (_name, fn) => Promise.resolve(fn());

/** The plain handler on node:http directly: read the body, parse it, 3 steps, write JSON. */
const plain: Contender = {
  name: "plain",
  database: "none",
  settings:
    "node:http listener: body read and JSON.parse'd, 3 plain function calls (awaited), res.end(JSON)",
  open: () =>
    Promise.resolve({
      listener: jsonListener((input) => threeSteps(input, plainStep)),
      close: () => Promise.resolve(),
    }),
};

/** The plain handler as a web `(Request) => Promise<Response>` through `toNodeHandler`. */
const plainWeb: Contender = {
  name: "plain-web",
  database: "none",
  settings:
    "the same 3 plain calls in a web (Request) => Promise<Response> handler mounted with toNodeHandler (the adapter's cost, no Steadfast engine)",
  open: () =>
    Promise.resolve({
      listener: toNodeHandler(async (request) => {
        const input = (await request.json()) as Question;
        return Response.json({ answer: await threeSteps(input, plainStep) });
      }),
      close: () => Promise.resolve(),
    }),
};

/** A durable endpoint on `sf`: the 3 steps as `step.run`, mounted with `toNodeHandler`. */
function endpointSession(sf: Steadfast, dispose: () => void | Promise<void>): Session {
  const endpoint = sf.endpoint("bench", async (request, { step }) => {
    const input = (await request.json()) as Question;
    const run: RunStep = (name, fn) => step.run(name, fn);
    return Response.json({ answer: await threeSteps(input, run) });
  });
  return {
    listener: toNodeHandler(endpoint),
    async close() {
      try {
        await sf.close();
      } finally {
        await dispose();
      }
    },
  };
}

/** The durable endpoint on a temp SQLite file with `synchronous` FULL (the default) or NORMAL. */
function steadfastSqlite(synchronous: "FULL" | "NORMAL"): Contender {
  return {
    name: `steadfast-sqlite-${synchronous.toLowerCase()}`,
    database: "sqlite",
    settings: `steadfast.endpoint + toNodeHandler, createSteadfast in this process on a temp SQLite file (WAL, group commit, sqliteSynchronous ${synchronous}${synchronous === "FULL" ? ", the default" : ": no fsync per commit"}), default options`,
    async open() {
      const dir = mkdtempSync(join(tmpdir(), "steadfast-bench-ep-"));
      const dispose = () => rmSync(dir, { recursive: true, force: true });
      try {
        const sf = await createSteadfast({
          db: `sqlite:${join(dir, "steadfast.db")}`,
          sqliteSynchronous: synchronous,
        });
        return endpointSession(sf, dispose);
      } catch (error) {
        dispose();
        throw error;
      }
    },
  };
}

/** The durable endpoint on the local PostgreSQL, a fresh schema dropped at close. */
const steadfastPostgres: Contender = {
  name: "steadfast-pg",
  database: "postgres",
  settings: `steadfast.endpoint + toNodeHandler, createSteadfast in this process on ${databaseUrl(PG_DATABASE)}, a fresh schema (dropped at close), default pool + LISTEN, default options`,
  async open() {
    const url = databaseUrl(PG_DATABASE);
    const schema = `sf_ep_bench_${randomUUID().slice(0, 8)}`;
    const dispose = () => dropSchema(url, schema);
    try {
      const sf = await createSteadfast({ db: `${url}?schema=${schema}` });
      return endpointSession(sf, dispose);
    } catch (error) {
      await dispose();
      throw error;
    }
  },
};

/** DBOS's workflow: the 3 steps as `DBOS.runStep`, registered before `DBOS.launch`. */
const dbosWorkflow = DBOS.registerWorkflow(
  (input: Question) =>
    threeSteps(input, (name, fn) => DBOS.runStep(() => Promise.resolve(fn()), { name })),
  { name: "endpoint-bench" },
);

/** The handler built on DBOS Transact: the node:http listener calls the workflow and awaits it. */
const dbos: Contender = {
  name: "dbos",
  database: "postgres",
  settings: `@dbos-inc/dbos-sdk in this process, system database ${DBOS_DATABASE} (fresh, dropped at close), default pool; node:http listener calling a registered workflow of 3 DBOS.runStep`,
  async open() {
    await dropDatabase(DBOS_DATABASE);
    DBOS.setConfig({
      name: "steadfast-bench-endpoints",
      systemDatabaseUrl: databaseUrl(DBOS_DATABASE),
      logLevel: "error",
    });
    await DBOS.launch();
    return {
      listener: jsonListener((input) => dbosWorkflow(input)),
      async close() {
        await DBOS.shutdown();
        await dropDatabase(DBOS_DATABASE);
      },
    };
  },
};

/**
 * A node:http listener that reads the body, parses it as JSON, and answers `200 {"answer": ...}`
 * from `answer`, or `500` if it throws.
 */
function jsonListener(answer: (input: Question) => Promise<string>): RequestListener {
  return (request, response) => {
    readJson(request)
      .then(answer)
      .then(
        (text) => {
          response.writeHead(200, { "content-type": "application/json" });
          response.end(JSON.stringify({ answer: text }));
        },
        (error: unknown) => {
          response.writeHead(500, { "content-type": "text/plain" });
          response.end(String(error));
        },
      );
  };
}

async function readJson(request: IncomingMessage): Promise<Question> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString("utf8")) as Question;
}

async function dropDatabase(database: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl("postgres") });
  await client.connect();
  try {
    await client.query(`drop database if exists ${pg.escapeIdentifier(database)} with (force)`);
  } finally {
    await client.end();
  }
}

/** What this benchmark reads of autocannon's `--json` report. */
interface LoadReport {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number };
  non2xx: number;
  errors: number;
  timeouts: number;
}

/** autocannon (a child process) POSTing `BODY` to `url` for `seconds` over `CONNECTIONS`. */
async function load(url: string, seconds: number): Promise<LoadReport> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [
      AUTOCANNON,
      "--json",
      ["-c", String(CONNECTIONS)],
      ["-d", String(seconds)],
      ["-m", "POST"],
      ["-H", "content-type=application/json"],
      ["-b", BODY],
      url,
    ].flat(),
    { maxBuffer: 16 * 1024 * 1024 },
  );
  const report = JSON.parse(stdout) as LoadReport;
  const failed = report.non2xx + report.errors + report.timeouts;
  if (failed > 0) {
    throw new Error(
      `${url}: ${report.non2xx} non-2xx, ${report.errors} errors, ${report.timeouts} timeouts of ${report.requests.total} requests`,
    );
  }
  return report;
}

/** Opens `contender` behind a node:http server on 127.0.0.1, warms it up, then measures it. */
async function measure(contender: Contender): Promise<LoadReport> {
  const session = await contender.open();
  const server = createServer(session.listener).listen(0, "127.0.0.1");
  try {
    await once(server, "listening");
    const { port } = server.address() as AddressInfo;
    const url = `http://127.0.0.1:${port}/bench`;
    await load(url, WARMUP_S);
    return await load(url, DURATION_S);
  } finally {
    server.close();
    server.closeAllConnections();
    await session.close();
  }
}

/** Every contender's figures are also printed as a ratio to each of these (when they ran). */
const BASELINES = ["plain", "dbos"];
const all: Contender[] = [
  plain,
  plainWeb,
  steadfastSqlite("FULL"),
  steadfastSqlite("NORMAL"),
  steadfastPostgres,
  dbos,
];
const contenders = selectContenders(all, values.only);

printRunHeader();
console.log(
  `autocannon (child process) ${CONNECTIONS} connections, ${WARMUP_S} s warm-up then ${DURATION_S} s measured per contender; POST ${BODY} (no Idempotency-Key: each request its own run); server in this process`,
);
for (const contender of contenders)
  console.log(`- ${contender.name} (${contender.database}): ${contender.settings}`);

const rows: Row[] = [];
for (const contender of contenders) {
  const report = await measure(contender);
  const note = `${formatNumber(report.requests.total)} requests, state in ${contender.database}`;
  rows.push(
    {
      name: contender.name,
      metric: "req/s",
      value: report.requests.average,
      unit: "req/s",
      note,
    },
    { name: contender.name, metric: "p50", value: report.latency.p50, unit: "ms", note },
    { name: contender.name, metric: "p99", value: report.latency.p99, unit: "ms", note },
  );
  console.log(
    `${contender.name}: ${formatNumber(report.requests.average)} req/s, p50 ${formatNumber(report.latency.p50)} ms, p99 ${formatNumber(report.latency.p99)} ms`,
  );
}
console.log();
console.log(formatTable(rows, BASELINES));
process.exit(0);
