import type { Command } from "commander";
import { CliError } from "./cli-error.ts";
import type { CliIo } from "./cli-io.ts";
import {
  parseDurationFlag,
  parseIntegerFlag,
  resolveServeConfig,
  SERVE_SETTINGS,
  settingHint,
} from "./config.ts";

/** Flags of `steadfast purge`, as commander parses them. */
interface PurgeFlags {
  olderThan: string;
  batchSize?: string;
  db?: string;
  dataDir?: string;
}

/** Most calls (or runs) `steadfast purge` deletes per transaction unless `--batch-size` says. */
const DEFAULT_BATCH_SIZE = 500;

/**
 * Registers `steadfast purge --older-than <duration>`: deletes, now and once, the ended calls
 * (with their attempts and callback deliveries) and ended runs (with their steps) that ended
 * longer ago than the duration, as the engine's retention does in the background
 * (`STEADFAST_RETENTION`), and prints what it deleted. Like `migrate`, it opens the database
 * itself (`--db`, `--data-dir`, their variables), applying pending migrations first; it may run
 * while servers and workers use it (batches of `--batch-size`, paused between). Calls whose
 * idempotency key is still held, whose callback is being delivered, or whose parent run is live
 * are kept, as in the background (core/retention-log.ts). SIGINT or SIGTERM stops it between two
 * batches; what was deleted is printed.
 */
export function registerPurgeCommand(program: Command, io: CliIo): void {
  const s = SERVE_SETTINGS;
  program
    .command("purge")
    .description(
      "delete ended calls and runs older than a duration, now (servers do it in the background after --retention)",
    )
    .requiredOption(
      "--older-than <duration>",
      "delete what ended longer ago than this, such as 30d, 12h or 2w",
    )
    .option(
      "--batch-size <n>",
      `calls (or runs) deleted per transaction, 1 to 10000 (default ${DEFAULT_BATCH_SIZE})`,
    )
    .option(`${s.db.flag} <url>`, `database ${settingHint(s.db)}`)
    .option(`${s.dataDir.flag} <dir>`, `data directory ${settingHint(s.dataDir)}`)
    .addHelpText(
      "after",
      `
Kept whatever their age: a call whose idempotency key is still held or whose callback is being
delivered, and a call or run started by a run that is still live. Calls go with their attempts
and callback deliveries, runs with their steps. Pending migrations are applied first; servers
and workers may keep running meanwhile. Ctrl-C stops it between two batches. See
docs/retention.md.`,
    )
    .action(async (flags: PurgeFlags) => {
      const olderThanMs = parseDurationFlag("--older-than", flags.olderThan);
      const batchSize =
        flags.batchSize === undefined
          ? DEFAULT_BATCH_SIZE
          : parseIntegerFlag("--batch-size", flags.batchSize, 1, 10_000);
      const config = resolveServeConfig(
        {
          ...(flags.db === undefined ? {} : { db: flags.db }),
          ...(flags.dataDir === undefined ? {} : { dataDir: flags.dataDir }),
        },
        io.env,
        io.cwd,
      );
      // Loaded only when `purge` runs, as `migrate` loads the store.
      const [{ openStore }, { purgeEnded }, { SystemClock }] = await Promise.all([
        import("../steadfast.ts"),
        import("../engine/retention.ts"),
        import("../engine/system-clock.ts"),
      ]);
      const stop = new AbortController();
      const offs = (["SIGINT", "SIGTERM"] as const).map((signal) =>
        io.onSignal(signal, () => {
          io.err(`steadfast: ${signal}, stopping after the batch under way\n`);
          stop.abort();
        }),
      );
      const clock = new SystemClock();
      const now = clock.now();
      const endedBefore = now - olderThanMs;
      try {
        const store = await openStore(config.db);
        try {
          await store.migrate();
          const purged = await purgeEnded({
            store,
            clock,
            endedBefore,
            now,
            batchSize,
            signal: stop.signal,
          });
          io.out(
            `deleted ${count(purged.calls, "call")} (and ${count(purged.callbacks, "callback delivery", "callback deliveries")}) ` +
              `and ${count(purged.runs, "run")} that ended before ${new Date(endedBefore).toISOString()}` +
              `${stop.signal.aborted ? " (stopped early)" : ""}\n`,
          );
        } finally {
          await store.close();
        }
      } catch (error) {
        throw new CliError(
          `cannot purge: ${error instanceof Error ? error.message : String(error)}`,
          { cause: error },
        );
      } finally {
        for (const off of offs) off();
      }
    });
}

function count(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}
