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
// How deep the fields of a line are walked (error causes nest); deeper values are dropped, never
// written unredacted.
const MAX_DEPTH = 16;
// How many objects one line's fields may hold before the rest is dropped: bounds the work.
const MAX_OBJECTS = 10_000;
const TRUNCATED = "[truncated]";

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
    serializers: { err: (error: Error) => redactFields(error) },
    formatters: {
      log: (fields: Record<string, unknown>) => redactFields(fields) as Record<string, unknown>,
    },
    hooks: {
      logMethod(this: Logger, args: unknown[], method: (...args: unknown[]) => void): void {
        // The first object is the line's fields (redacted by `formatters.log`, and an Error
        // there is pino's `err`); later ones are format arguments, written as JSON.
        method.apply(
          this,
          args.map((arg, i) =>
            typeof arg === "string" ? redactText(arg) : i > 0 ? redactFields(arg) : arg,
          ),
        );
      },
    },
  };
  return destination === undefined ? pino(settings) : pino(settings, destination);
}

/**
 * `value` as it would be written (JSON), with every string in it redacted, at any depth: errors
 * serialised as pino does (`stdSerializers.err`), objects with `toJSON` (a `URL`, a `Date`, a
 * `Buffer`) through it, and any other object by its own enumerable fields, as `JSON.stringify`
 * would. Cycles become `[Circular]`; objects deeper than `MAX_DEPTH`, or past `MAX_OBJECTS` in
 * one line, become `[truncated]`.
 */
function redactFields(value: unknown): unknown {
  return redactValue(value, "", 0, new Set(), { objects: MAX_OBJECTS });
}

function redactValue(
  value: unknown,
  key: string,
  depth: number,
  ancestors: Set<object>,
  budget: { objects: number },
): unknown {
  if (typeof value === "string") return URL_FIELDS.has(key) ? redactUrl(value) : redactText(value);
  if (typeof value !== "object" || value === null) return value;
  if (ancestors.has(value)) return "[Circular]";
  if (depth >= MAX_DEPTH || --budget.objects < 0) return TRUNCATED;
  let shown: object = value;
  if (value instanceof Error) shown = stdSerializers.err(value);
  else if (typeof (value as { toJSON?: unknown }).toJSON === "function") {
    const json: unknown = (value as { toJSON: () => unknown }).toJSON();
    if (json !== value) return redactValue(json, key, depth, ancestors, budget);
  }
  ancestors.add(value);
  try {
    if (Array.isArray(shown))
      return shown.map((item) => redactValue(item, key, depth + 1, ancestors, budget));
    const out: Record<string, unknown> = {};
    for (const [name, field] of Object.entries(shown))
      out[name] = redactValue(field, name, depth + 1, ancestors, budget);
    return out;
  } finally {
    ancestors.delete(value);
  }
}
