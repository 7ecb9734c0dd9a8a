import { z } from "zod";
import type { CallRequest, CallSpec, RetryPolicy, TimeoutPolicy } from "./call.ts";
import { TerminalError, type FieldIssue } from "./errors.ts";
import {
  HEADER_VALUE_PATTERN,
  headerNameProblem,
  headerValueProblem,
  METHOD_PATTERN,
  methodProblem,
  TOKEN_PATTERN,
} from "./http-fields.ts";
import { MAX_JSON_DEPTH, nestsDeeperThan } from "./json-depth.ts";

const DAY_MS = 86_400_000;

/** Defaults applied to a call's retry policy. */
export const DEFAULT_RETRY: RetryPolicy = {
  maxAttempts: 5,
  backoff: "exponential",
  initialDelayMs: 1_000,
  maxDelayMs: 60_000,
};

/** Defaults applied to a call's per-attempt timeouts. */
export const DEFAULT_TIMEOUT: TimeoutPolicy = {
  connectMs: 10_000,
  readMs: 30_000,
  totalMs: 60_000,
};

/**
 * The shortest per-attempt timeout accepted, ms. Shorter ones cannot complete a network exchange;
 * and any timeout under `MIN_TELLING_TIMEOUT_MS` (1 s) is honoured but never counted against
 * the destination (classify-outcome.ts).
 */
export const MIN_TIMEOUT_MS = 100;

const ms = (max: number) => z.number().int().min(0).max(max);

/**
 * A refinement for what `problem` refuses beyond `pattern` (the pattern goes into the OpenAPI
 * document; the rest is said in descriptions). A value the pattern refuses already passes it, so
 * each bad value gets one issue.
 */
function beyondPattern(
  pattern: RegExp,
  problem: (value: string) => string | undefined,
): (value: string) => boolean {
  return (value) => !pattern.test(value) || problem(value) === undefined;
}

/** The `retry` object of `POST /v1/fetch`. */
export const RetryInputSchema = z
  .strictObject({
    maxAttempts: z
      .number()
      .int()
      .min(1)
      .max(100)
      .optional()
      .describe(
        "Attempts in all, the first included; attempts cut off by the end of their process (interrupted) are not counted. Default 5.",
      ),
    backoff: z
      .enum(["exponential", "linear", "fixed"])
      .optional()
      .describe("Default exponential, with full jitter."),
    initialDelayMs: ms(DAY_MS).optional().describe("Base delay in ms. Default 1000."),
    maxDelayMs: ms(DAY_MS)
      .optional()
      .describe("Cap on any one delay, Retry-After included, in ms. Default 60000."),
    retryOn: z
      .array(z.union([z.number().int().min(100).max(599), z.literal("5xx"), z.literal("network")]))
      .max(50)
      .optional()
      .describe(
        "What is retried. Default: network errors, 408, 425, 429 and 5xx except 501 and 505.",
      ),
  })
  .describe("Retry policy.");

const timeoutMs = (max: number) =>
  ms(max).min(MIN_TIMEOUT_MS, {
    error: `must be at least ${MIN_TIMEOUT_MS} ms (a shorter timeout cannot complete a network exchange)`,
  });

/** The `timeout` object of `POST /v1/fetch`. Each at least `MIN_TIMEOUT_MS` (100 ms). */
export const TimeoutInputSchema = z
  .strictObject({
    connectMs: timeoutMs(300_000)
      .optional()
      .describe("Connect timeout per attempt, ms, 100 to 300000. Default 10000."),
    readMs: timeoutMs(DAY_MS)
      .optional()
      .describe("Longest silence per attempt, ms, at least 100. Default 30000."),
    totalMs: timeoutMs(DAY_MS)
      .optional()
      .describe("Whole attempt, ms, at least 100. Default 60000."),
  })
  .describe(
    "Per-attempt timeouts. A timeout under 1000 ms is honoured, but its expiry is not counted against the destination's health (its breaker is shared by every tenant).",
  );

/** The body of `POST /v1/fetch` (ARCHITECTURE.md section 5). Unknown fields are refused. */
export const FetchInputSchema = z
  .strictObject({
    url: z.string().min(1).max(8_192).describe("Absolute http or https URL of the upstream."),
    method: z
      .string()
      .regex(METHOD_PATTERN, "must be an HTTP method such as GET or POST")
      .refine(beyondPattern(METHOD_PATTERN, methodProblem), {
        error: (issue) => methodProblem(String(issue.input)),
      })
      .optional()
      .describe("HTTP method, 1 to 16 letters; CONNECT is refused. Default GET."),
    headers: z
      .record(
        z.string().regex(TOKEN_PATTERN, "must be a valid header name"),
        z
          .string()
          .max(16_384)
          .regex(HEADER_VALUE_PATTERN, {
            error: (issue) => headerValueProblem(String(issue.input)),
          })
          .refine(beyondPattern(HEADER_VALUE_PATTERN, headerValueProblem), {
            error: (issue) => headerValueProblem(String(issue.input)),
          }),
      )
      .optional()
      .describe(
        "Sent on every attempt. Values: visible ASCII, spaces, tabs and Latin-1 only, not only whitespace. Refused: Host, Content-Length, Transfer-Encoding, Expect, Connection, Keep-Alive, Upgrade, TE, Trailer, Proxy-Connection.",
      ),
    body: z
      .unknown()
      .optional()
      .describe(
        `A string is sent as is; any other JSON value is sent as JSON, nested at most ${MAX_JSON_DEPTH} levels.`,
      ),
    retry: RetryInputSchema.optional(),
    timeout: TimeoutInputSchema.optional(),
    deadlineMs: ms(30 * DAY_MS)
      .min(1)
      .optional()
      .describe("Deadline for the whole call from acceptance, ms."),
    delayMs: ms(30 * DAY_MS)
      .optional()
      .describe("Delay before the first attempt, ms. Default 0."),
    callback: z
      .strictObject({
        url: z.string().min(1).max(8_192).describe("Receives one signed POST when the call ends."),
      })
      .optional(),
  })
  .describe("A durable HTTP call.");

/** A validated `POST /v1/fetch` body. */
export type FetchInput = z.infer<typeof FetchInputSchema>;

/** Turns zod issues into field-level problems (`retry.maxAttempts: ...`). */
export function fieldIssues(error: z.ZodError): FieldIssue[] {
  return error.issues.map((issue) => {
    const path = issue.path.map(String).join(".");
    if (issue.code === "unrecognized_keys") {
      const keys = issue.keys.map((k) => (path === "" ? k : `${path}.${k}`));
      return {
        field: keys.join(", "),
        message: `unknown field${keys.length > 1 ? "s" : ""}; remove ${keys.length > 1 ? "them" : "it"} or check the spelling`,
      };
    }
    return { field: path === "" ? "(body)" : path, message: issue.message };
  });
}

/**
 * Validates a `POST /v1/fetch` body. Throws a `TerminalError` with code `invalid_request` and one
 * issue per bad field.
 */
export function parseFetchInput(value: unknown): FetchInput {
  // Before anything that recurses (validation, JSON.stringify, canonical JSON) sees the value.
  const deep =
    typeof value === "object" && value !== null
      ? Object.entries(value).filter(([, field]) => nestsDeeperThan(field, MAX_JSON_DEPTH))
      : [];
  if (deep.length > 0) {
    const issues = deep.map(([field]) => ({
      field,
      message: `nests arrays and objects deeper than ${MAX_JSON_DEPTH} levels, the limit; flatten it${field === "body" ? ", or send it as a string" : ""}`,
    }));
    throw new TerminalError(
      "invalid_request",
      `Invalid call: ${issues.map((i) => `${i.field}: ${i.message}`).join("; ")}`,
      { issues },
    );
  }
  const result = FetchInputSchema.safeParse(value);
  if (!result.success) {
    const issues = fieldIssues(result.error);
    throw new TerminalError(
      "invalid_request",
      `Invalid call: ${issues.map((i) => `${i.field}: ${i.message}`).join("; ")}`,
      { issues },
    );
  }
  return result.data;
}

/**
 * Applies defaults and normalises a validated input into the stored `CallSpec`: method upper-cased,
 * header names lower-cased, a JSON body serialised with `content-type: application/json` unless
 * one was given. Throws `invalid_request` for refused headers (http-fields.ts), a header given
 * twice in different cases, a body that is not JSON, or inconsistent timeouts.
 */
export function toCallSpec(input: FetchInput): CallSpec {
  const headers: Record<string, string> = {};
  const issues: FieldIssue[] = [];
  const given = new Map<string, string>();
  for (const [name, value] of Object.entries(input.headers ?? {})) {
    const lower = name.toLowerCase();
    const problem = headerNameProblem(name);
    const first = given.get(lower);
    if (problem !== undefined) {
      issues.push({ field: `headers.${name}`, message: problem });
    } else if (first !== undefined) {
      issues.push({
        field: `headers.${name}`,
        message: `repeats headers.${first} (header names ignore case); join the values with ", " in one header`,
      });
    } else {
      given.set(lower, name);
      headers[lower] = value;
    }
  }
  const request: CallRequest = {
    url: input.url,
    method: (input.method ?? "GET").toUpperCase(),
    headers,
  };
  if (typeof input.body === "string") {
    request.body = input.body;
  } else if (input.body !== undefined) {
    const json = serialiseBody(input.body);
    if (typeof json === "string") {
      request.body = json;
      headers["content-type"] ??= "application/json";
    } else issues.push(json);
  }
  const retry: RetryPolicy = {
    maxAttempts: input.retry?.maxAttempts ?? DEFAULT_RETRY.maxAttempts,
    backoff: input.retry?.backoff ?? DEFAULT_RETRY.backoff,
    initialDelayMs: input.retry?.initialDelayMs ?? DEFAULT_RETRY.initialDelayMs,
    maxDelayMs: input.retry?.maxDelayMs ?? DEFAULT_RETRY.maxDelayMs,
  };
  if (input.retry?.retryOn !== undefined) retry.retryOn = input.retry.retryOn;
  if (retry.maxDelayMs < retry.initialDelayMs) {
    issues.push({
      field: "retry.maxDelayMs",
      message: `must be at least retry.initialDelayMs (${retry.initialDelayMs})`,
    });
  }
  const timeout: TimeoutPolicy = {
    connectMs: input.timeout?.connectMs ?? DEFAULT_TIMEOUT.connectMs,
    readMs: input.timeout?.readMs ?? DEFAULT_TIMEOUT.readMs,
    totalMs: input.timeout?.totalMs ?? DEFAULT_TIMEOUT.totalMs,
  };
  if (input.timeout?.totalMs !== undefined) {
    // A total below the defaults of the phases inside it shrinks them rather than failing.
    timeout.connectMs = Math.min(timeout.connectMs, timeout.totalMs);
    timeout.readMs = Math.min(timeout.readMs, timeout.totalMs);
  }
  if (issues.length > 0) {
    throw new TerminalError(
      "invalid_request",
      `Invalid call: ${issues.map((i) => `${i.field}: ${i.message}`).join("; ")}`,
      { issues },
    );
  }
  const spec: CallSpec = { request, retry, timeout };
  if (input.deadlineMs !== undefined) spec.deadlineMs = input.deadlineMs;
  if (input.callback !== undefined) spec.callbackUrl = input.callback.url;
  return spec;
}

/**
 * `body` as JSON text, or the issue when it has none: only the in-process API can hand over such
 * a value (a `BigInt`, a `toJSON` that throws); a body parsed from HTTP always serialises.
 */
function serialiseBody(body: unknown): string | FieldIssue {
  try {
    const json: unknown = JSON.stringify(body);
    if (typeof json === "string") return json;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return {
      field: "body",
      message: `cannot be serialised as JSON (${reason}); send a JSON value or a string`,
    };
  }
  return { field: "body", message: "cannot be serialised as JSON; send a JSON value or a string" };
}
