import { readFileSync } from "node:fs";

/**
 * What CLI commands use of the outside world, so a test can run the program in-process with
 * its own environment and capture what it prints. `processIo()` is the real one.
 */
export interface CliIo {
  /** Environment variables (`STEADFAST_*`). */
  env: Readonly<Record<string, string | undefined>>;
  /** Directory relative paths resolve against. */
  cwd: string;
  /** Writes to standard output. */
  out: (text: string) => void;
  /** Writes to standard error. */
  err: (text: string) => void;
  /** Reads a file as UTF-8 (`-` is standard input). Throws the `fs` error as is. */
  readFile: (path: string) => string;
  /** Ends the process with `code` (used by `serve` after shutdown). */
  exit: (code: number) => never;
  /** Registers a handler for a process signal; returns a function that removes it. */
  onSignal: (signal: NodeJS.Signals, handler: () => void) => () => void;
  /** Monotonic time in ms (`performance.now()`): tells a repeated signal from a later one. */
  now: () => number;
}

/**
 * The `CliIo` of the running process. A reader that goes away (`steadfast calls list | head`)
 * ends the command quietly, as `cat` or `ls` do, instead of failing with EPIPE.
 */
export function processIo(): CliIo {
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code !== "EPIPE") throw error;
    process.exit(0);
  });
  return {
    env: process.env,
    cwd: process.cwd(),
    out: (text) => process.stdout.write(text),
    err: (text) => process.stderr.write(text),
    readFile: (path) => readFileSync(path === "-" ? 0 : path, "utf8"),
    exit: (code) => process.exit(code),
    onSignal: (signal, handler) => {
      process.on(signal, handler);
      return () => process.off(signal, handler);
    },
    now: () => performance.now(),
  };
}
