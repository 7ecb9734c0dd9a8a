/**
 * The server's and the worker's logger: pino, JSON lines on standard output, with every string it
 * writes passed through the one redactor (`core/redact.ts`). Messages and errors from undici, pg
 * or Node may quote a URL with its credentials (Node's `ERR_INVALID_URL` carries the whole input
 * in `input`); none reaches the log as it was.
 */
import { pino, stdSerializers, type DestinationStream, type Logger } from "pino";
import { redactText, redactUrl } from "../core/redact.ts";

/** Options of `createLogger`. */
export interface LoggerOptions {
  /** pino level: `fatal`, `error`, `warn`, `info`, `debug`, `trace` or `silent`. */
  level: string;
  /** The `service` field of every line (`steadfast`, `steadfast-worker`). */
  service: string;
}

// Fields that hold a whole URL (possibly relative or invalid): redacted as one.
const URL_FIELDS: ReadonlySet<string> = new Set(["url", "input", "href", "connectionString"]);
// How deep an error's fields are walked (causes nest).
const MAX_DEPTH = 6;

/**
 * A pino logger whose messages, fields and serialised errors are redacted. Writes to
 * `destination` (default standard output).
 *
 * @example
 * const logger = createLogger({ level: "info", service: "steadfast" });
 */
export function createLogger(options: LoggerOptions, destination?: DestinationStream): Logger {
  const settings = {
    level: options.level,
    base: { service: options.service },
    serializers: { err: (error: Error) => redactValue(stdSerializers.err(error), "", 0) },
    formatters: {
      log: (fields: Record<string, unknown>) =>
        redactValue(fields, "", 0) as Record<string, unknown>,
    },
    hooks: {
      logMethod(this: Logger, args: unknown[], method: (...args: unknown[]) => void): void {
        method.apply(
          this,
          args.map((arg) => (typeof arg === "string" ? redactText(arg) : arg)),
        );
      },
    },
  };
  return destination === undefined ? pino(settings) : pino(settings, destination);
}

function redactValue(value: unknown, key: string, depth: number): unknown {
  if (typeof value === "string") return URL_FIELDS.has(key) ? redactUrl(value) : redactText(value);
  if (typeof value !== "object" || value === null || depth >= MAX_DEPTH) return value;
  if (Array.isArray(value)) return value.map((item) => redactValue(item, key, depth + 1));
  // Only records (our log fields, pino's serialised errors, whose prototype derives from a plain
  // object): an instance of a class (an Error not yet serialised, a Buffer) is kept as is.
  const prototype: unknown = Object.getPrototypeOf(value);
  if (prototype !== null && (value as { constructor?: unknown }).constructor !== Object)
    return value;
  const out: Record<string, unknown> = {};
  for (const [name, field] of Object.entries(value))
    out[name] = redactValue(field, name, depth + 1);
  return out;
}
