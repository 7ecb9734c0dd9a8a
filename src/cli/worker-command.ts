import type { Command } from "commander";
import type { EngineOverrides } from "../server/start-worker.ts";
import type { CliIo } from "./cli-io.ts";
import { resolveServeConfig, SERVE_SETTINGS, settingHint, type ServeFlags } from "./config.ts";
import { startError, untilStopped } from "./serve.ts";

/**
 * Registers `steadfast worker` (the engine without the HTTP API) and `steadfast migrate` (apply
 * the database migrations and exit). Both read the same settings as `serve`. `engine` arms crash
 * windows or shortens breaker open periods in the worker (process-level tests only).
 */
export function registerWorkerCommands(
  program: Command,
  io: CliIo,
  engine: EngineOverrides = {},
): void {
  const s = SERVE_SETTINGS;
  program
    .command("worker")
    .description(
      "run the engine only (no HTTP API): executes calls accepted by any process on the same database",
    )
    .option(`${s.db.flag} <url>`, `database ${settingHint(s.db)}`)
    .option(`${s.dataDir.flag} <dir>`, `data directory ${settingHint(s.dataDir)}`)
    .option(
      `${s.concurrency.flag} <n>`,
      `most upstream requests in flight ${settingHint(s.concurrency)}`,
    )
    .option(
      s.allowPrivateNetworks.flag,
      `allow private destinations ${settingHint(s.allowPrivateNetworks)}`,
    )
    .option(
      `--no-allow-private-networks`,
      "refuse private addresses even if the environment allows them",
    )
    .option(
      `${s.allowedCidrs.flag} <list>`,
      `CIDRs allowed although private ${settingHint(s.allowedCidrs)}`,
    )
    .option(`${s.leaseMs.flag} <ms>`, `claim lease, ms ${settingHint(s.leaseMs)}`)
    .option(
      `${s.retention.flag} <duration>`,
      `keep ended calls and runs this long, or off ${settingHint(s.retention)}`,
    )
    .option(`${s.logLevel.flag} <level>`, `log level ${settingHint(s.logLevel)}`)
    .addHelpText(
      "after",
      "\nSIGTERM or Ctrl-C stops gracefully (in-flight calls finish or are released).",
    )
    .action(async (flags: ServeFlags) => {
      const config = resolveServeConfig(flags, io.env, io.cwd);
      const { startWorker } = await import("../server/start-worker.ts");
      let worker: Awaited<ReturnType<typeof startWorker>>;
      try {
        worker = await startWorker(config, engine);
      } catch (error) {
        throw startError(error, config);
      }
      io.out(`worker ${worker.workerId} running on ${worker.steadfast.store.dialect}\n`);
      await untilStopped(worker, io);
    });

  program
    .command("migrate")
    .description(
      "apply pending database migrations, then exit (serve and worker also migrate at start)",
    )
    .option(`${s.db.flag} <url>`, `database ${settingHint(s.db)}`)
    .option(`${s.dataDir.flag} <dir>`, `data directory ${settingHint(s.dataDir)}`)
    .action(async (flags: ServeFlags) => {
      const config = resolveServeConfig(flags, io.env, io.cwd);
      const { migrateDatabase } = await import("../server/start-worker.ts");
      try {
        const { dialect } = await migrateDatabase(config.db);
        io.out(`migrations applied (${dialect})\n`);
      } catch (error) {
        throw startError(error, config);
      }
    });
}
