import type { Command } from "commander";
import { CliError } from "./cli-error.ts";
import type { CliIo } from "./cli-io.ts";
import {
  resolveServeConfig,
  SERVE_SETTINGS,
  settingHint,
  type ServeConfig,
  type ServeFlags,
} from "./config.ts";

/** What `steadfast serve` needs of a running server. */
export interface RunningServer {
  url: string;
  port: number;
  /** Graceful stop: the engine stops claiming, finishes or releases in-flight work. */
  close(): Promise<void>;
}

/** Starts the server; `src/server/start-server.ts` in production. */
export type StartServer = (config: ServeConfig) => Promise<RunningServer>;

// Loaded only when `serve` runs, so `--help` and the client commands do not pay for the server,
// the engine and the store.
async function loadStartServer(): Promise<StartServer> {
  const specifier = "../server/start-server.ts";
  const module = (await import(specifier)) as { startServer: StartServer };
  return module.startServer;
}

/** Registers `steadfast serve`. `start` replaces the real server (tests). */
export function registerServe(program: Command, io: CliIo, start?: StartServer): void {
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
      `${s.maxBodyBytes.flag} <n>`,
      `largest API request body, bytes ${settingHint(s.maxBodyBytes)}`,
    )
    .option(`${s.leaseMs.flag} <ms>`, `claim lease, ms ${settingHint(s.leaseMs)}`)
    .option(
      `${s.logLevel.flag} <level>`,
      `trace|debug|info|warn|error|fatal|silent ${settingHint(s.logLevel)}`,
    )
    .addHelpText(
      "after",
      `
API keys come from ${s.apiKeys.env}=tenant:key,... (environment only). Without it, the server
creates a key at first start, prints it once and writes it to <data-dir>/api-key (mode 0600).

SIGTERM or Ctrl-C stops gracefully (in-flight calls finish or are released); a second one exits at once.`,
    );
  command.action(async (flags: ServeFlags) => {
    const config = resolveServeConfig(flags, io.env, io.cwd);
    const startServer = start ?? (await loadStartServer());
    let server: RunningServer;
    try {
      server = await startServer(config);
    } catch (error) {
      throw describeStartError(error, config);
    }
    io.out(`listening on ${server.url}\n`);
    await untilStopped(server, io);
  });
}

/**
 * Resolves after the first SIGTERM or SIGINT has closed the server; exits the process with 0 then
 * (1 if closing failed). A second signal while closing exits at once with 1.
 */
function untilStopped(server: RunningServer, io: CliIo): Promise<void> {
  return new Promise<void>(() => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) {
        io.err(`steadfast: ${signal} again, exiting without waiting for in-flight work\n`);
        io.exit(1);
      }
      stopping = true;
      io.err(`steadfast: ${signal}, shutting down (send it again to exit at once)\n`);
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

function describeStartError(error: unknown, config: ServeConfig): unknown {
  const code = (error as { code?: unknown }).code;
  const where = `${config.host}:${config.port}`;
  if (code === "EADDRINUSE") {
    return new CliError(
      `cannot listen on ${where}: the address is in use (another steadfast serve?); pick another --port or STEADFAST_PORT`,
      { cause: error },
    );
  }
  if (code === "EACCES") {
    return new CliError(`cannot listen on ${where}: permission denied; use a port above 1023`, {
      cause: error,
    });
  }
  if (code === "EADDRNOTAVAIL") {
    return new CliError(
      `cannot listen on ${where}: no such address on this machine; check --host or STEADFAST_HOST`,
      { cause: error },
    );
  }
  return error;
}
