// Steadfast as a DrainTarget (bench/lib/process-drain.ts): calls accepted through the in-process
// API into a fresh PostgreSQL schema, drained by `steadfast worker` processes. Of this build, or
// of another one checked out beside it (bench/steadfast/baseline-checkout.ts).
import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { createSteadfast } from "../../src/steadfast.ts";
import type { DrainTarget } from "../lib/process-drain.ts";
import { dropSchema, ensureDatabase, vacuumAnalyzeSchema } from "../lib/postgres.ts";
import { BENCH_ID_HEADER } from "../lib/upstream.ts";
import { REPOSITORY } from "./baseline-checkout.ts";

const DATABASE = "bench_steadfast";
const WORKER_CHILD = join("bench", "steadfast", "steadfast-worker-child.ts");

/** Options of `steadfastDrainTarget`. */
export interface SteadfastDrainOptions {
  /** Printed in tables. Default `steadfast`. */
  name?: string;
  /**
   * Run the real `bin/steadfast.js worker` instead of the gated child; its boot (Node start-up,
   * imports, migrations check, first connections) is then part of the timed drain.
   */
  viaCli?: boolean;
  /** Share of a worker's slots one destination may use (bench-only override of the 0.5 default). */
  shareOfConcurrency?: number;
  /**
   * The Steadfast checkout whose code fills the schema (its migrations, its `createSteadfast`) and
   * runs the workers (its gated worker child, else its `bin/steadfast.js worker`, boot timed).
   * Default: this repository.
   */
  root?: string;
}

/**
 * Steadfast on PostgreSQL: a fresh schema per session, filled by `createSteadfast` with its
 * engine off (1,000 concurrent `fetch()` calls per batch, sharing group commits), drained by
 * worker processes configured like `steadfast worker` through STEADFAST_* variables: default
 * concurrency (256), default pool (10 connections + 1 LISTEN), private networks allowed.
 */
export function steadfastDrainTarget(options: SteadfastDrainOptions = {}): DrainTarget {
  const share = options.shareOfConcurrency;
  if (options.viaCli && share !== undefined) {
    throw new Error(
      "steadfastDrainTarget: `steadfast worker` has no share setting; drop viaCli or shareOfConcurrency",
    );
  }
  const root = options.root ?? REPOSITORY;
  // A baseline older than the gated child runs its CLI.
  const viaCli = options.viaCli === true || !existsSync(join(root, WORKER_CHILD));
  const how = viaCli
    ? "`node bin/steadfast.js worker` per process, boot timed"
    : "the `steadfast worker` engine per process, started on go";
  return {
    name: options.name ?? "steadfast",
    settings: `${how}; concurrency 256 (default), one destination may use ${share ?? 0.5} of it${share === undefined ? " (default)" : " (bench-only override)"}, pool 10 + LISTEN (default); fresh schema, filled through createSteadfast (engine off)`,
    async open({ upstreamUrl }) {
      const url = await ensureDatabase(DATABASE);
      const schema = `sf_drain_${randomUUID().slice(0, 8)}`;
      const db = `${url}?schema=${schema}`;
      const { createSteadfast: create } = (await import(
        pathToFileURL(join(root, "src", "steadfast.ts")).href
      )) as { createSteadfast: typeof createSteadfast };
      const producer = await create({
        db,
        allowPrivateNetworks: true,
        startEngine: false,
      });
      const env: Record<string, string> = {
        STEADFAST_DB: db,
        STEADFAST_ALLOW_PRIVATE_NETWORKS: "true",
        STEADFAST_LOG_LEVEL: "warn",
        ...(share === undefined ? {} : { BENCH_SHARE_OF_CONCURRENCY: String(share) }),
      };
      return {
        database: DATABASE,
        async enqueue(jobs) {
          await Promise.all(
            jobs.map((job) =>
              producer.fetch({ url: upstreamUrl, headers: { [BENCH_ID_HEADER]: job.id } }),
            ),
          );
        },
        vacuumAnalyze: () => vacuumAnalyzeSchema(url, schema),
        worker: viaCli
          ? {
              modulePath: join(root, "bin", "steadfast.js"),
              args: ["worker"],
              env,
              gated: false,
            }
          : {
              modulePath: join(root, WORKER_CHILD),
              env,
              gated: true,
            },
        async close() {
          await producer.close();
          await dropSchema(url, schema);
        },
      };
    },
  };
}
