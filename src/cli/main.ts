import { CommanderError } from "commander";
import { isSteadfastError } from "../core/errors.ts";
import { CliError } from "./cli-error.ts";
import { processIo, type CliIo } from "./cli-io.ts";
import { buildProgram, type ProgramOptions } from "./program.ts";

/**
 * Runs the `steadfast` CLI with `argv` (as in `process.argv`: node, script, then arguments) and
 * resolves with the exit code. Expected failures (a bad flag, an error answer from the server, an
 * unreachable server) print one line, `steadfast: <message>`, and give 1; anything else is a bug
 * and prints its stack.
 *
 * @example
 * process.exitCode = await main(process.argv);
 */
export async function main(
  argv: readonly string[],
  io: CliIo = processIo(),
  options: ProgramOptions = {},
): Promise<number> {
  const program = buildProgram(io, options);
  try {
    await program.parseAsync([...argv]);
    return 0;
  } catch (error) {
    return report(error, io);
  }
}

function report(error: unknown, io: CliIo): number {
  // Commander has already printed its message (or the help) through `outputError`.
  if (error instanceof CommanderError) return error.exitCode;
  if (error instanceof CliError) {
    io.err(`steadfast: ${error.message}\n`);
    return error.exitCode;
  }
  // Every error the package raises (the client's included) is a SteadfastError: one line.
  if (isSteadfastError(error)) {
    io.err(`steadfast: ${error.message}\n`);
    return 1;
  }
  const stack = error instanceof Error ? (error.stack ?? error.message) : String(error);
  io.err(`steadfast: unexpected error, please report it with the lines below\n${stack}\n`);
  return 1;
}
