import type { Logger } from "pino";
import { createLogger } from "./logger.ts";
import type { Clock, Random } from "../core/ports.ts";
import type { DestinationSettings } from "../engine/destinations/destination-settings.ts";
import type { FaultInjector } from "../engine/fault-points.ts";
import { createSteadfast, type Steadfast, type SteadfastOptions } from "../steadfast.ts";
import type { ServerConfig } from "./start-server.ts";

/** What `startWorker` needs: the engine settings of `ServerConfig` (no port, host or keys). */
export type WorkerConfig = Pick<
  ServerConfig,
  | "db"
  | "allowPrivateNetworks"
  | "allowedCidrs"
  | "concurrency"
  | "leaseMs"
  | "logLevel"
  | "retentionMs"
>;

/**
 * Engine settings the `steadfast` command never takes, for process-level tests only (passed by
 * `test/steadfast-with-faults.ts`): crash windows, and per-destination protection such as short
 * breaker open periods. No flag and no environment variable sets them (issue 10, item 6).
 */
export interface EngineOverrides {
  /** Crash windows (`parseFaults`). Default none. */
  faults?: FaultInjector;
  /** Per-destination protection (`SteadfastOptions.destinations`). Default the engine's. */
  destinations?: Partial<DestinationSettings>;
}

/** A running engine-only process. */
export interface RunningWorker {
  steadfast: Steadfast;
  /** The worker id written on this engine's claims. */
  workerId: string;
  /** Graceful stop: claims nothing more, finishes or releases in-flight work, closes the store. */
  close(): Promise<void>;
}

/**
 * Starts an engine without the HTTP API (`steadfast worker`): it executes calls that any
 * `steadfast serve` or in-process `createSteadfast` sharing the same database accepted. Useful
 * with PostgreSQL, where any number of workers share one database.
 *
 * @example
 * const worker = await startWorker({ db: "postgres://localhost/steadfast", allowPrivateNetworks: false, allowedCidrs: [], concurrency: 256, logLevel: "info" });
 * process.once("SIGTERM", () => void worker.close());
 */
export async function startWorker(
  config: WorkerConfig,
  deps: { clock?: Clock; random?: Random; logger?: Logger } & EngineOverrides = {},
): Promise<RunningWorker> {
  const logger =
    deps.logger ?? createLogger({ level: config.logLevel, service: "steadfast-worker" });
  const steadfast = await createSteadfast(engineOptions(config, logger, deps));
  logger.info(
    { workerId: steadfast.engine.workerId, db: steadfast.store.dialect },
    "steadfast worker running",
  );
  return {
    steadfast,
    workerId: steadfast.engine.workerId,
    close: () => steadfast.close(),
  };
}

/**
 * The `createSteadfast` options of an engine process (`serve` or `worker`) from its settings:
 * one place, so that both kinds of process run the same engine.
 */
export function engineOptions(
  config: WorkerConfig & { startEngine?: boolean; authCacheTtlMs?: number },
  logger: Logger,
  deps: { clock?: Clock; random?: Random } & EngineOverrides = {},
): SteadfastOptions {
  return {
    db: config.db,
    allowPrivateNetworks: config.allowPrivateNetworks,
    allowedCidrs: config.allowedCidrs,
    settingNames: {
      allowPrivateNetworks: "--allow-private-networks (STEADFAST_ALLOW_PRIVATE_NETWORKS=true)",
      allowedCidrs: "--allowed-cidrs (STEADFAST_ALLOWED_CIDRS)",
    },
    concurrency: config.concurrency,
    logger: logger.child({ component: "engine" }),
    ...(config.leaseMs === undefined ? {} : { leaseMs: config.leaseMs }),
    ...(config.retentionMs === undefined ? {} : { retentionMs: config.retentionMs }),
    ...(config.startEngine === undefined ? {} : { startEngine: config.startEngine }),
    ...(deps.clock === undefined ? {} : { clock: deps.clock }),
    ...(config.authCacheTtlMs === undefined ? {} : { authCacheTtlMs: config.authCacheTtlMs }),
    ...(deps.random === undefined ? {} : { random: deps.random }),
    // Tests only: `steadfast serve` and `worker` never pass these (issue 10, item 6).
    ...(deps.faults === undefined ? {} : { faults: deps.faults }),
    ...(deps.destinations === undefined ? {} : { destinations: deps.destinations }),
  };
}

/** Applies pending migrations to `db` and closes it (`steadfast migrate`). */
export async function migrateDatabase(db: string): Promise<{ dialect: string }> {
  const { openStore } = await import("../steadfast.ts");
  const store = await openStore(db);
  try {
    await store.migrate();
    return { dialect: store.dialect };
  } finally {
    await store.close();
  }
}
