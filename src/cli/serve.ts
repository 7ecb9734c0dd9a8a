import type { Command } from "commander";
import type { EngineOverrides } from "../server/start-worker.ts";
import { CliError } from "./cli-error.ts";
import type { CliIo } from "./cli-io.ts";
import {
  resolveServeConfig,
  SERVE_SETTINGS,
  settingHint,
  type ServeConfig,
  type ServeFlags,
} from "./config.ts";

/** What `steadfast serve` needs of a running server (`startServer`'s answer has more). */
export interface RunningServer {
  url: string;
  port: number;
  /** Graceful stop: the engine stops claiming, finishes or releases in-flight work. */
  close(): Promise<void>;
}

/** Starts the server; `startServer` of `src/server/start-server.ts` unless a test replaces it. */
export type StartServer = (config: ServeConfig) => Promise<RunningServer>;

/** Checks `STEADFAST_API_KEYS` entries; throws an `Error` naming the entry (never the key). */
type CheckApiKeys = (raw: string) => unknown;

// Loaded only when `serve` runs, so `--help` and the client commands do not pay for the server,
// the engine and the store.
async function loadServer(
  engine: EngineOverrides = {},
): Promise<{ startServer: StartServer; checkApiKeys: CheckApiKeys }> {
  const [{ startServer }, { parseApiKeys }] = await Promise.all([
    import("../server/start-server.ts"),
    import("../server/api-keys.ts"),
  ]);
  return {
    startServer: (config) => startServer(config, engine),
    checkApiKeys: parseApiKeys,
  };
}

/**
 * Registers `steadfast serve`. `start` replaces the real server (tests); `engine` arms crash
 * windows or shortens breaker open periods (process-level tests only).
 */
export function registerServe(
  program: Command,
  io: CliIo,
  start?: StartServer,
  engine?: EngineOverrides,
): void {
  const s = SERVE_SETTINGS;
  const command = program
    .command("serve")
    .description("run the Steadfast server: HTTP API and engine, in one process")
    .option(`${s.port.flag} <n>`, `port to listen on, 0 for any free one ${settingHint(s.port)}`)
    .option(`${s.host.flag} <host>`, `address to bind ${settingHint(s.host)}`)
    .option(`${s.db.flag} <url>`, `database, sqlite:<path> ${settingHint(s.db)}`)
    .option(`${s.dataDir.flag} <dir>`, `data directory ${settingHint(s.dataDir)}`)
    .option(
      `${s.concurrency.flag} <n>`,
      `most upstream requests in flight ${settingHint(s.concurrency)}`,
    )
    .option(
      s.allowPrivateNetworks.flag,
      `allow calls to private, loopback and link-local addresses ${settingHint(s.allowPrivateNetworks)}`,
    )
    .option(
      `--no-allow-private-networks`,
      "refuse private addresses even if the environment allows them",
    )
    .option(
      `${s.allowedCidrs.flag} <list>`,
      `comma-separated CIDRs allowed although private ${settingHint(s.allowedCidrs)}`,
    )
    .option(
      `${s.operatorTenants.flag} <list>`,
      `tenants whose keys may use /v1/destinations and /v1/keys ${settingHint(s.operatorTenants)}`,
    )
    .option(
      `${s.maxBodyBytes.flag} <n>`,
      `largest API request body, bytes ${settingHint(s.maxBodyBytes)}`,
    )
    .option(`${s.leaseMs.flag} <ms>`, `claim lease, ms ${settingHint(s.leaseMs)}`)
    .option(
      `${s.retention.flag} <duration>`,
      `keep ended calls and runs this long, or off ${settingHint(s.retention)}`,
    )
    .option(
      `${s.logLevel.flag} <level>`,
      `trace|debug|info|warn|error|fatal|silent ${settingHint(s.logLevel)}`,
    )
    .option(
      `${s.rateLimit.flag} <limit/window>`,
      `each tenant's quota of /v1 requests, such as 600/1m ${settingHint(s.rateLimit)}`,
    )
    .option(
      `${s.rateLimitBurst.flag} <n>`,
      `requests a tenant may send back to back ${settingHint(s.rateLimitBurst)}`,
    )
    .option(
      `${s.rateLimitStore.flag} <url>`,
      `where quotas are counted: memory, sqlite:<path>, postgres://, redis:// ${settingHint(s.rateLimitStore)}`,
    )
    .addHelpText(
      "after",
      `
API keys come from ${s.apiKeys.env}=tenant:key,... (environment only), which is authoritative
for the keys it manages: a start revokes those it no longer lists. Without it, the server creates
a key at first start and prints it once on standard error; with the default SQLite database it
also writes it to <data-dir>/api-key (mode 0600), never over an existing file. More keys:
steadfast keys create.

SIGTERM or Ctrl-C stops gracefully (in-flight calls finish or are released); another one a second
or more later exits at once (one within a second is the same request: npm and the process group
pass the same stop on twice).`,
    );
  command.action(async (flags: ServeFlags) => {
    const config = resolveServeConfig(flags, io.env, io.cwd);
    const server = start === undefined ? await loadServer(engine) : { startServer: start };
    if (config.apiKeys !== undefined && "checkApiKeys" in server) {
      try {
        server.checkApiKeys(config.apiKeys);
      } catch (error) {
        throw new CliError(error instanceof Error ? error.message : String(error), {
          cause: error,
        });
      }
    }
    let running: RunningServer;
    try {
      running = await server.startServer(config);
    } catch (error) {
      throw startError(error, config);
    }
    io.out(`listening on ${running.url}\n`);
    await untilStopped(running, io);
  });
}

/**
 * How long after the first stop signal another one is the same request, ms. One stop often
 * arrives twice at once: npm passes the signal it gets on to the server it started, and a
 * terminal's Ctrl-C or systemd's `KillMode=control-group` signals every process of the group,
 * the server and npm alike (issue 10, item 12).
 */
export const REPEATED_SIGNAL_WINDOW_MS = 1_000;

/**
 * Resolves after the first SIGTERM or SIGINT has closed the server; exits the process with 0 then
 * (1 if closing failed). A stop signal within `REPEATED_SIGNAL_WINDOW_MS` of the first is the same
 * request; a later one while closing exits at once with 1.
 */
export function untilStopped(server: Pick<RunningServer, "close">, io: CliIo): Promise<void> {
  return new Promise<void>(() => {
    let stoppingSince: number | undefined;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stoppingSince !== undefined) {
        if (io.now() - stoppingSince < REPEATED_SIGNAL_WINDOW_MS) return;
        io.err(`steadfast: ${signal} again, exiting without waiting for in-flight work\n`);
        io.exit(1);
        return;
      }
      stoppingSince = io.now();
      io.err(
        `steadfast: ${signal}, shutting down (send it again, a second or more later, to exit at once)\n`,
      );
      server.close().then(
        () => io.exit(0),
        (error: unknown) => {
          io.err(
            `steadfast: shutdown failed: ${error instanceof Error ? error.message : String(error)}\n`,
          );
          io.exit(1);
        },
      );
    };
    io.onSignal("SIGTERM", () => onSignal("SIGTERM"));
    io.onSignal("SIGINT", () => onSignal("SIGINT"));
  });
}

// The server's start-up errors are written for operators (port in use, database unreadable): one
// line, unless the log level asks for detail, then the stack too.
export function startError(error: unknown, config: Pick<ServeConfig, "logLevel">): unknown {
  if (config.logLevel === "debug" || config.logLevel === "trace") return error;
  const message = error instanceof Error ? error.message : String(error);
  return new CliError(`cannot start: ${message} (--log-level debug shows the stack)`, {
    cause: error,
  });
}
