import { Command } from "commander";
import packageJson from "../../package.json" with { type: "json" };
import { registerCallsCommand } from "./calls-command.ts";
import type { EngineOverrides } from "../server/start-worker.ts";
import type { CliIo } from "./cli-io.ts";
import { registerDestinationsCommand } from "./destinations-command.ts";
import { registerFetchCommand } from "./fetch-command.ts";
import { registerIdempotencyCheckCommand } from "./idempotency-check-command.ts";
import { registerKeysCommand } from "./keys-command.ts";
import { registerPurgeCommand } from "./purge-command.ts";
import { registerRunsCommand } from "./runs-command.ts";
import { registerServe, type StartServer } from "./serve.ts";
import { registerWorkerCommands } from "./worker-command.ts";

/** Options of `buildProgram`. */
export interface ProgramOptions {
  /** Replaces the real `startServer` (tests). */
  startServer?: StartServer;
  /**
   * Engine settings for `serve` and `worker` in process-level tests only
   * (`test/steadfast-with-faults.ts`): crash windows, short breaker open periods. The
   * `steadfast` command never sets them, and no environment variable does (issue 10, item 6).
   */
  engine?: EngineOverrides;
}

/**
 * The `steadfast` commander program: `serve`, `worker`, `migrate`, `purge`, `fetch`, `calls ...`,
 * `runs ...`, `events send`, `destinations ...`, `keys ...`, `idempotency-check`. Errors are not printed
 * here: commander's own (bad flags) go through `outputError` as one line, and commander throws
 * instead of exiting (`exitOverride`) so `main` picks the exit code.
 *
 * @example
 * await buildProgram(processIo()).parseAsync(["node", "steadfast", "calls", "list"]);
 */
export function buildProgram(io: CliIo, options: ProgramOptions = {}): Command {
  const program = new Command("steadfast")
    .description("Durable execution for API calls: persisted, retried, recorded, never lost.")
    .version(packageJson.version, "-v, --version", "print the version")
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.out(text),
      writeErr: (text) => io.err(text),
      outputError: (text, write) => write(oneLine(text)),
    });
  registerServe(program, io, options.startServer, options.engine);
  registerWorkerCommands(program, io, options.engine);
  registerFetchCommand(program, io);
  registerCallsCommand(program, io);
  registerRunsCommand(program, io);
  registerDestinationsCommand(program, io);
  registerKeysCommand(program, io);
  registerIdempotencyCheckCommand(program, io);
  registerPurgeCommand(program, io);
  program.addHelpText(
    "after",
    `
Client commands (fetch, calls, runs, events, destinations, keys) find the server through --url
or STEADFAST_URL (default http://127.0.0.1:7480) and the API key through --api-key,
STEADFAST_API_KEY, or the <data-dir>/api-key file \`steadfast serve\` writes. See docs/cli.md.`,
  );
  return program;
}

// Commander writes "error: unknown option '--prot'\n(Did you mean --port?)\n": make it one line.
function oneLine(text: string): string {
  const joined = text
    .trim()
    .replace(/^error:\s*/i, "")
    .replace(/\s*\n\s*\(Did you mean/g, " (did you mean")
    .replace(/\s*\n\s*/g, "; ");
  return `steadfast: ${joined}\n`;
}
