import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import type { Logger } from "pino";
import { createLogger } from "./logger.ts";
import { SteadfastError } from "../core/errors.ts";
import type { Clock, Random } from "../core/ports.ts";
import { createSteadfast, type Steadfast } from "../steadfast.ts";
import { engineOptions, type EngineOverrides } from "./start-worker.ts";
import { bootstrapApiKeys } from "./api-keys.ts";
import { createApp } from "./app.ts";
import { refuseMalformedRequests } from "./client-error.ts";
import { createMetrics } from "./metrics.ts";
import { openTenantQuota, type TenantRateLimitConfig } from "./tenant-rate-limit.ts";
import type { Quota } from "../rate-limit/quota.ts";

/** Configuration of `steadfast serve` (the CLI resolves flags and `STEADFAST_*` variables into it). */
export interface ServerConfig {
  /** TCP port; 0 picks a free one. Conventional default 7480. */
  port: number;
  /** Address to bind. Conventional default `127.0.0.1` (ARCHITECTURE.md section 6). */
  host: string;
  /** Database: `sqlite:<path>` or `:memory:`. Conventional default `sqlite:./.steadfast/steadfast.db`. */
  db: string;
  /** Directory for the generated `api-key` file. Conventional default `./.steadfast`. */
  dataDir: string;
  /** Raw `STEADFAST_API_KEYS` (`tenant:key,tenant:key`). Without it a key is generated on first start. */
  apiKeys?: string;
  /** Allow calls to private, loopback, link-local and metadata addresses. */
  allowPrivateNetworks: boolean;
  /** CIDRs allowed even though private. */
  allowedCidrs: string[];
  /** Attempts in flight at once. Conventional default 256. */
  concurrency: number;
  /** Largest request body, bytes; larger is `413`. Conventional default 1,048,576. */
  maxBodyBytes: number;
  /** Claim lease, ms. Default 30,000. */
  /** Run the engine in this process (default true); false serves the API only. */
  startEngine?: boolean;
  /**
   * Tenants whose keys may read and change `/v1/destinations`, which every tenant's calls share.
   * Default `["default"]` (`DEFAULT_OPERATOR_TENANTS`): the tenant of the key a fresh install
   * generates.
   */
  operatorTenants?: string[];
  leaseMs?: number;
  /**
   * How long ended calls and runs are kept before they are deleted, ms; 0 keeps them for ever.
   * Default 7 days (`SteadfastOptions.retentionMs`).
   */
  retentionMs?: number;
  /** pino level: `fatal`, `error`, `warn`, `info`, `debug`, `trace` or `silent`. */
  logLevel: string;
  /** On `close`, how long open HTTP requests may finish before their connections are cut, ms. Default 10,000. */
  shutdownGraceMs?: number;
  /** How long a checked API key is trusted before the database is asked again (and a key revoked elsewhere refused), ms. Default 5,000; at most 60,000. */
  authCacheTtlMs?: number;
  /**
   * Each tenant's quota of `/v1` requests (`429` over it; docs/rate-limit.md). Default: none,
   * no limit.
   */
  rateLimit?: TenantRateLimitConfig;
}

/** Dependencies `startServer` would otherwise make itself, and test-only engine settings. */
export interface ServerDeps extends EngineOverrides {
  /** Default `SystemClock`. */
  clock?: Clock;
  /** Default a CSPRNG-backed random. */
  random?: Random;
  /** Default pino writing JSON to stdout at `config.logLevel`, secrets redacted (`createLogger`). */
  logger?: Logger;
  /** Where operator lines (a generated key, keys revoked at start) go. Default standard error, away from the log stream on standard output. */
  print?: (line: string) => void;
}

/** A listening server. */
export interface RunningServer {
  /** `http://<host>:<port>`. */
  url: string;
  /** The bound port (useful with `port: 0`). */
  port: number;
  steadfast: Steadfast;
  /**
   * Graceful stop: `/v1` requests get `503`, waits answer at once, the listener stops accepting,
   * open requests get `shutdownGraceMs` to finish, then the engine stops and the store closes.
   * Idempotent.
   */
  close(): Promise<void>;
}

/**
 * Starts Steadfast with its HTTP API: opens and migrates the database, starts the engine, makes
 * sure API keys exist (`bootstrapApiKeys`), and listens with keep-alive. The CLI's
 * `steadfast serve` calls this and `close()` on SIGTERM or SIGINT.
 *
 * @example
 * const server = await startServer({
 *   port: 7480, host: "127.0.0.1", db: "sqlite:./.steadfast/steadfast.db", dataDir: "./.steadfast",
 *   allowPrivateNetworks: false, allowedCidrs: [], concurrency: 256, maxBodyBytes: 1_048_576, logLevel: "info",
 * });
 * console.log(server.url); // http://127.0.0.1:7480
 * process.once("SIGTERM", () => void server.close());
 */
export async function startServer(
  config: ServerConfig,
  deps: ServerDeps = {},
): Promise<RunningServer> {
  const logger = deps.logger ?? createLogger({ level: config.logLevel, service: "steadfast" });
  const print = deps.print ?? ((line: string) => void process.stderr.write(`${line}\n`));
  const steadfast = await createSteadfast(engineOptions(config, logger, deps));
  const metrics = createMetrics({
    events: steadfast.engine.events,
    inFlight: () => steadfast.engine.inFlight,
    destinations: () => {
      const now = steadfast.clock.now();
      return steadfast.engine.destinations.list().map(({ state }) => ({
        breaker: state.breaker.state,
        paused: state.pause !== undefined && state.pause.until > now,
      }));
    },
  });
  const shutdown = new AbortController();
  let server: Server;
  let rateLimit: Quota | undefined;
  try {
    if (config.rateLimit !== undefined) {
      rateLimit = await openTenantQuota(
        config.rateLimit,
        config.db,
        steadfast.clock,
        logger.child({ component: "rate-limit" }),
      );
    }
    await bootstrapApiKeys(steadfast.keys, {
      ...(config.apiKeys === undefined ? {} : { apiKeys: config.apiKeys }),
      db: config.db,
      dataDir: config.dataDir,
      print,
    });
    const app = createApp({
      calls: steadfast.calls,
      runs: steadfast.runs,
      keys: steadfast.keys,
      destinations: steadfast.destinations,
      ...(config.operatorTenants === undefined ? {} : { operatorTenants: config.operatorTenants }),
      maxBodyBytes: config.maxBodyBytes,
      metrics: metrics.registry,
      logger: logger.child({ component: "http" }),
      signal: shutdown.signal,
      ...(rateLimit === undefined ? {} : { rateLimit }),
      // Unready while the database is unreachable (PostgreSQL reconnecting): a load balancer
      // sends requests elsewhere meanwhile; accepted work is never lost.
      health: () => ({
        ok: steadfast.store.isReady(),
        details: { store: steadfast.store.dialect, inFlight: steadfast.engine.inFlight },
      }),
    });
    server = await listen(app.fetch, config);
    // Malformed HTTP (node's parser refuses it before any route) is answered as problem+json too.
    refuseMalformedRequests(server, { logger: logger.child({ component: "http" }) });
  } catch (error) {
    metrics.close();
    await rateLimit?.close();
    await steadfast.close();
    throw error;
  }
  const port = (server.address() as AddressInfo).port;
  const url = `http://${config.host.includes(":") ? `[${config.host}]` : config.host}:${port}`;
  logger.info({ url, db: steadfast.store.dialect }, "steadfast listening");

  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    steadfast,
    close() {
      closing ??= (async () => {
        logger.info("steadfast shutting down");
        shutdown.abort();
        await closeHttp(server, config.shutdownGraceMs ?? 10_000);
        metrics.close();
        await rateLimit?.close();
        await steadfast.close();
        logger.info("steadfast stopped");
      })();
      return closing;
    },
  };
}

/**
 * Listens on `config.host:config.port`; rejects with a `SteadfastError` `listen_failed` and an
 * actionable message when it cannot.
 */
function listen(
  fetch: (request: Request) => Response | Promise<Response>,
  config: ServerConfig,
): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = serve({
      fetch,
      port: config.port,
      hostname: config.host,
      // Longer than the usual 60 s idle timeout of load balancers, so they close first (no
      // request lands on a connection the server is closing). Node enables keep-alive by default.
      serverOptions: { keepAliveTimeout: 65_000 },
    }) as Server;
    server.once("listening", () => resolve(server));
    server.once("error", (error: NodeJS.ErrnoException) => {
      const where = `${config.host}:${config.port}`;
      if (error.code === "EADDRINUSE") {
        reject(
          listenFailed(
            `Cannot listen on ${where}: the port is in use; stop the other process or choose another port (--port, STEADFAST_PORT)`,
            error,
          ),
        );
      } else if (error.code === "EACCES") {
        reject(
          listenFailed(
            `Cannot listen on ${where}: permission denied; use a port above 1023`,
            error,
          ),
        );
      } else {
        reject(listenFailed(`Cannot listen on ${where}: ${error.message}`, error));
      }
    });
  });
}

function listenFailed(message: string, cause: unknown): SteadfastError<"listen_failed"> {
  return new SteadfastError("listen_failed", message, { cause });
}

/**
 * Stops accepting connections and lets open requests finish for `graceMs`, then cuts what is
 * left. A keep-alive connection that goes idle after `close()` is not closed by Node itself, so
 * idle connections are closed again until the server is down.
 */
async function closeHttp(server: Server, graceMs: number): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const sweep = setInterval(() => server.closeIdleConnections(), 25);
  const cut = setTimeout(() => server.closeAllConnections(), graceMs);
  try {
    await closed;
  } finally {
    clearInterval(sweep);
    clearTimeout(cut);
  }
}
