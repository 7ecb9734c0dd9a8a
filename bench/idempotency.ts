// Issue 13's benchmark: an orders endpoint on node:http (read the JSON body, answer 201 JSON with
// a Location) bare and behind `nodeIdempotency` from steadfast/idempotency on SQLite
// (synchronous FULL, the default, and NORMAL), PostgreSQL and Redis; and the same endpoint on
// Express 5, bare, behind `express-idempotency` (the most used npm idempotency middleware for
// Express: its in-memory default and its Redis adapter) and behind Steadfast's
// `expressIdempotency` on Redis, in one run. Each contender's server runs in this process, one at
// a time; autocannon runs in a child process (its programmatic API, bench/lib/unique-key-load.ts)
// so the load generator and the server each have a core, and sends every request with an
// Idempotency-Key never sent before. Figures: req/s (autocannon's mean of per-second counts) and
// p50/p99 latency, never pass/fail; a contender that answers anything but 2xx, or answers more
// requests than its handler ran (a replay: a key was not unique), stops the run.
//
// Run: npm run bench:idempotency -- [--quick] [--only name,name]
// (names: bare, idempotency-sqlite, idempotency-sqlite-normal, idempotency-pg, idempotency-redis,
// express-bare, express-idempotency, express-idempotency-redis, express-steadfast-redis)
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import {
  createIdempotency,
  expressIdempotency,
  nodeIdempotency,
  SqliteIdempotencyStore,
  type Idempotency,
} from "../src/idempotency/index.ts";
import {
  ORDER_BODY,
  orderApp,
  orderListener,
  type Contender,
  type Session,
  type Skipped,
} from "./lib/order-endpoint.ts";
import { databaseUrl, dropSchema } from "./lib/postgres.ts";
import { deleteRedisKeys, REDIS_URL } from "./lib/redis.ts";
import { formatLoad, printRunHeader, selectContenders } from "./lib/contenders.ts";
import { formatNumber, formatTable, type Row } from "./lib/stats.ts";
import { loadWithUniqueKeys, type LoadReport } from "./lib/unique-key-load.ts";
import {
  expressBare,
  expressIdempotencyMemory,
  expressIdempotencyRedis,
} from "./peers/express-idempotency.ts";

const { values } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    only: { type: "string" },
  },
});
/** Seconds of measured load per contender (the issue's 10 s; 2 s with `--quick`). */
const DURATION_S = values.quick ? 2 : 10;
/** Seconds of unmeasured load per contender before its measurement (JIT, pools, caches). */
const WARMUP_S = values.quick ? 1 : 2;
/** autocannon connections (the issue's 50), each with one request in flight. */
const CONNECTIONS = 50;
/** The PostgreSQL database the idempotency schema is made in (the tests' database). */
const PG_DATABASE = "test";
/** The issue's target: the SQLite store keeps at least this share of the bare endpoint's req/s. */
const SQLITE_TARGET = 0.7;
/** This run's mark on every key and schema it makes, so they can be found and removed. */
const RUN_ID = randomUUID().slice(0, 8);

/** Steadfast's middleware options in every contender: the defaults, a key required. */
const IDEMPOTENCY_OPTIONS = { principal: () => "bench", required: true } as const;
const IDEMPOTENCY_SETTINGS =
  "createIdempotency defaults (every outcome stored, 60 s lease, 24 h retention, purge every 60 s), principal 'bench', key required; stores the response before it answers";

/** The orders listener behind `nodeIdempotency(idempotency, ...)`. */
function behindNodeIdempotency(idempotency: Idempotency, dispose: () => Promise<unknown>): Session {
  const endpoint = orderListener();
  return {
    ...endpoint,
    listener: nodeIdempotency(idempotency, endpoint.listener),
    async close() {
      try {
        await idempotency.close();
      } finally {
        await dispose();
      }
    },
  };
}

/** The bare endpoint on node:http: the baseline of the issue's target. */
const bare: Contender = {
  name: "bare",
  store: "none",
  settings:
    "node:http listener: body read and JSON.parse'd, res.writeHead(201, JSON + Location) and res.end(JSON)",
  open: () => Promise.resolve({ ...orderListener(), close: () => Promise.resolve() }),
};

/** Behind `nodeIdempotency` on a temp SQLite file with `synchronous` FULL (the default) or NORMAL. */
function idempotencySqlite(synchronous: "FULL" | "NORMAL"): Contender {
  return {
    name: synchronous === "FULL" ? "idempotency-sqlite" : "idempotency-sqlite-normal",
    store: "sqlite",
    settings: `nodeIdempotency, SqliteIdempotencyStore on a temp file (WAL, synchronous ${synchronous}${synchronous === "FULL" ? ", the default" : ": no fsync per commit"}); ${IDEMPOTENCY_SETTINGS}`,
    async open() {
      const dir = mkdtempSync(join(tmpdir(), "steadfast-bench-idem-"));
      const store = SqliteIdempotencyStore.open({
        path: join(dir, "idempotency.db"),
        synchronous,
      });
      const dispose = async () => {
        try {
          await store.close();
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      };
      try {
        return behindNodeIdempotency(
          await createIdempotency({ ...IDEMPOTENCY_OPTIONS, store }),
          dispose,
        );
      } catch (error) {
        await dispose();
        throw error;
      }
    },
  };
}

/** Behind `nodeIdempotency` on the local PostgreSQL, a fresh schema dropped at close. */
const idempotencyPostgres: Contender = {
  name: "idempotency-pg",
  store: "postgres",
  settings: `nodeIdempotency, store ${databaseUrl(PG_DATABASE)}?schema=<fresh> (dropped at close), default pool of 10; ${IDEMPOTENCY_SETTINGS}`,
  async open() {
    const url = databaseUrl(PG_DATABASE);
    const schema = `idem_bench_${RUN_ID}`;
    const dispose = () => dropSchema(url, schema);
    try {
      const idempotency = await createIdempotency({
        ...IDEMPOTENCY_OPTIONS,
        store: `${url}?schema=${schema}`,
      });
      return behindNodeIdempotency(idempotency, dispose);
    } catch (error) {
      await dispose();
      throw error;
    }
  },
};

/** A Redis store URL whose records' keys start with `keyPrefix` (deleted at close). */
function redisStoreUrl(keyPrefix: string): string {
  const url = new URL(REDIS_URL);
  url.searchParams.set("prefix", keyPrefix);
  return url.toString();
}

/** Behind `nodeIdempotency` on the local Redis, its records deleted at close. */
const idempotencyRedis: Contender = {
  name: "idempotency-redis",
  store: "redis",
  settings: `nodeIdempotency, store ${REDIS_URL} (one ioredis connection, records under a fresh prefix, deleted at close); ${IDEMPOTENCY_SETTINGS}`,
  async open({ keyPrefix }) {
    const idempotency = await createIdempotency({
      ...IDEMPOTENCY_OPTIONS,
      store: redisStoreUrl(keyPrefix),
    });
    return behindNodeIdempotency(idempotency, () => deleteRedisKeys(keyPrefix));
  },
};

/** Steadfast's `expressIdempotency` on Redis, on the Express endpoint of the Express peers. */
const expressSteadfastRedis: Contender = {
  name: "express-steadfast-redis",
  store: "redis",
  settings: `Express 5, app.use('/orders', expressIdempotency(idempotency)) before the route, store ${REDIS_URL} (as idempotency-redis): the Express peers' endpoint with Steadfast's middleware; ${IDEMPOTENCY_SETTINGS}`,
  async open({ keyPrefix }) {
    const idempotency = await createIdempotency({
      ...IDEMPOTENCY_OPTIONS,
      store: redisStoreUrl(keyPrefix),
    });
    const app = orderApp({
      mount: (express) => express.use("/orders", expressIdempotency(idempotency)),
    });
    return {
      ...app,
      async close() {
        try {
          await idempotency.close();
        } finally {
          await deleteRedisKeys(keyPrefix);
        }
      },
    };
  },
};

/** A contender's figures, or why it did not run. */
type Outcome = { report: LoadReport; runs: number; failures: number } | Skipped;

/** Opens `contender` behind a node:http server on 127.0.0.1, warms it up, then measures it. */
async function measure(contender: Contender): Promise<Outcome> {
  const keyPrefix = `steadfast-bench-${RUN_ID}-${contender.name}-`;
  const session = await contender.open({ keyPrefix });
  if ("skipped" in session) return session;
  const server = createServer(session.listener).listen(0, "127.0.0.1");
  try {
    await once(server, "listening");
    const { port } = server.address() as AddressInfo;
    const load = (durationS: number) =>
      loadWithUniqueKeys({
        url: `http://127.0.0.1:${port}/orders`,
        connections: CONNECTIONS,
        durationS,
        body: ORDER_BODY,
        keyPrefix,
      });
    await load(WARMUP_S);
    const runsBefore = session.runs();
    const report = await load(DURATION_S);
    const runs = session.runs() - runsBefore;
    // Failures answered to a client would have stopped the run (non-2xx): these were answered to
    // no one, requests whose connection autocannon closed at the end of a load.
    const failures = session.failures();
    // Requests cut off at the end may have run without an answer counted, never the reverse: an
    // answer with no run is a replay, so a key was sent twice.
    if (runs < report.requests.total) {
      throw new Error(
        `${contender.name}: ${report.requests.total} answers but the handler ran ${runs} times: some keys were not unique (replays)`,
      );
    }
    return { report, runs, failures };
  } finally {
    server.close();
    server.closeAllConnections();
    await session.close();
  }
}

/** Every contender's figures are also printed as a ratio to each of these (when they ran). */
const BASELINES = ["bare", "express-bare"];
const all: Contender[] = [
  bare,
  idempotencySqlite("FULL"),
  idempotencySqlite("NORMAL"),
  idempotencyPostgres,
  idempotencyRedis,
  expressBare,
  expressIdempotencyMemory,
  expressIdempotencyRedis,
  expressSteadfastRedis,
];
const contenders = selectContenders(all, values.only);

printRunHeader();
console.log(
  `autocannon (child process, programmatic API) ${CONNECTIONS} connections, ${WARMUP_S} s warm-up then ${DURATION_S} s measured per contender; POST /orders ${ORDER_BODY}, each request with a fresh Idempotency-Key (<prefix><random UUID>, set in setupRequest); server in this process`,
);
for (const contender of contenders)
  console.log(`- ${contender.name} (keys in ${contender.store}): ${contender.settings}`);

const rows: Row[] = [];
const reqPerSecond = new Map<string, number>();
for (const contender of contenders) {
  const outcome = await measure(contender);
  if ("skipped" in outcome) {
    console.log(`${contender.name}: skipped: ${outcome.skipped}`);
    continue;
  }
  const { report } = outcome;
  reqPerSecond.set(contender.name, report.requests.average);
  const note = `${formatNumber(report.requests.total)} requests, keys in ${contender.store}`;
  rows.push(
    { name: contender.name, metric: "req/s", value: report.requests.average, unit: "req/s", note },
    { name: contender.name, metric: "p50", value: report.latency.p50, unit: "ms", note },
    { name: contender.name, metric: "p99", value: report.latency.p99, unit: "ms", note },
  );
  console.log(
    `${contender.name}: ${formatNumber(report.requests.average)} req/s, p50 ${formatNumber(report.latency.p50)} ms, p99 ${formatNumber(report.latency.p99)} ms (handler ran ${formatNumber(outcome.runs)} times${outcome.failures > 0 ? `; ${outcome.failures} requests failed with no client left to answer, at the end of a load` : ""})`,
  );
}
console.log();
console.log(formatTable(rows, BASELINES));
console.log(`load average after: ${formatLoad()}`);

const bareRate = reqPerSecond.get("bare");
if (bareRate !== undefined) {
  console.log(`Target (issue 13): the SQLite store keeps >= ${SQLITE_TARGET * 100}% of bare req/s`);
  for (const name of ["idempotency-sqlite", "idempotency-sqlite-normal"]) {
    const rate = reqPerSecond.get(name);
    if (rate === undefined) continue;
    const share = rate / bareRate;
    console.log(
      `  ${share >= SQLITE_TARGET ? "met    " : "not met"}  ${name}: ${(share * 100).toFixed(1)}% (${formatNumber(rate)} of ${formatNumber(bareRate)} req/s)`,
    );
  }
}
process.exit(0);
