import { SteadfastError } from "../core/errors.ts";

/**
 * An expected failure of a CLI command (a bad flag or environment value, a missing API key, an
 * unreadable file), code `cli_failed`. `main` prints its message as one line,
 * `steadfast: <message>`, without a stack trace, and exits with `exitCode`.
 */
export class CliError extends SteadfastError<"cli_failed"> {
  /** Process exit code. Default 1. */
  readonly exitCode: number;

  constructor(message: string, options: { exitCode?: number; cause?: unknown } = {}) {
    super("cli_failed", message, options.cause === undefined ? {} : { cause: options.cause });
    this.name = "CliError";
    this.exitCode = options.exitCode ?? 1;
  }
}
