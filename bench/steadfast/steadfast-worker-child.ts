// One Steadfast worker process for bench/drain-postgres.ts: the engine `steadfast worker` runs,
// configured from the same STEADFAST_* variables by the same code (resolveServeConfig, then
// engineOptions), except that the engine starts on the parent's `go` instead of at boot, so the
// timed drain does not include Node's start-up and the store's first connections.
// BENCH_SHARE_OF_CONCURRENCY (bench only, not a product setting) overrides the share of the
// engine's slots one destination may use.
import { pino } from "pino";
import { resolveServeConfig } from "../../src/cli/config.ts";
import { engineOptions } from "../../src/server/start-worker.ts";
import { createSteadfast } from "../../src/steadfast.ts";
import { exitWith, serveGatedWorker } from "../lib/gated-worker.ts";

try {
  const config = resolveServeConfig({}, process.env, process.cwd());
  const logger = pino({ level: config.logLevel, base: { service: "steadfast-worker" } });
  const share = process.env.BENCH_SHARE_OF_CONCURRENCY;
  const steadfast = await createSteadfast({
    ...engineOptions({ ...config, startEngine: false }, logger),
    ...(share === undefined ? {} : { destinations: { shareOfConcurrency: Number(share) } }),
  });
  serveGatedWorker({
    start: () => steadfast.engine.start(),
    stop: () => steadfast.close(),
  });
} catch (error) {
  exitWith(error);
}
