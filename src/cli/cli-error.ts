/**
 * An expected failure of a CLI command (a bad flag or environment value, a missing API key, an
 * unreadable file). `main` prints its message as one line, `steadfast: <message>`, without a stack
 * trace, and exits with `exitCode`.
 */
export class CliError extends Error {
  /** Process exit code. Default 1. */
  readonly exitCode: number;

  constructor(message: string, options: { exitCode?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "CliError";
    this.exitCode = options.exitCode ?? 1;
  }
}
