import { z } from "zod";
import type { CallRequest, CallSpec, RetryPolicy, TimeoutPolicy } from "./call.ts";
import { TerminalError, type FieldIssue } from "./errors.ts";

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

/** Request headers Steadfast sets itself; a call may not set them. */
const RESERVED_HEADERS = new Set([
  "host",
  "content-length",
  "transfer-encoding",
  "connection",
  "upgrade",
  "te",
  "trailer",
  "keep-alive",
]);

const ms = (max: number) => z.number().int().min(0).max(max);

/** The `retry` object of `POST /v1/fetch`. */
export const RetryInputSchema = z
  .strictObject({
    maxAttempts: z
      .number()
      .int()
      .min(1)
      .max(100)
      .optional()
      .describe("Attempts in all, the first included. Default 5."),
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

/** The `timeout` object of `POST /v1/fetch`. */
export const TimeoutInputSchema = z
  .strictObject({
    connectMs: ms(300_000)
      .min(1)
      .optional()
      .describe("Connect timeout per attempt, ms. Default 10000."),
    readMs: ms(DAY_MS)
      .min(1)
      .optional()
      .describe("Longest silence per attempt, ms. Default 30000."),
    totalMs: ms(DAY_MS).min(1).optional().describe("Whole attempt, ms. Default 60000."),
  })
  .describe("Per-attempt timeouts.");

/** The body of `POST /v1/fetch` (ARCHITECTURE.md section 5). Unknown fields are refused. */
export const FetchInputSchema = z
  .strictObject({
    url: z.string().min(1).max(8_192).describe("Absolute http or https URL of the upstream."),
    method: z
      .string()
      .regex(/^[A-Za-z]{1,16}$/, "must be an HTTP method such as GET or POST")
      .optional()
      .describe("HTTP method. Default GET."),
    headers: z
      .record(
        z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, "must be a valid header name"),
        z.string().max(16_384),
      )
      .optional(),
    body: z
      .unknown()
      .optional()
      .describe("A string is sent as is; any other JSON value is sent as JSON."),
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
 * one was given. Throws `invalid_request` for reserved headers or inconsistent timeouts.
 */
export function toCallSpec(input: FetchInput): CallSpec {
  const headers: Record<string, string> = {};
  const issues: FieldIssue[] = [];
  for (const [name, value] of Object.entries(input.headers ?? {})) {
    const lower = name.toLowerCase();
    if (RESERVED_HEADERS.has(lower)) {
      issues.push({
        field: `headers.${name}`,
        message: "is set by Steadfast for each attempt; remove it",
      });
      continue;
    }
    headers[lower] = value;
  }
  const request: CallRequest = {
    url: input.url,
    method: (input.method ?? "GET").toUpperCase(),
    headers,
  };
  if (typeof input.body === "string") {
    request.body = input.body;
  } else if (input.body !== undefined) {
    request.body = JSON.stringify(input.body);
    headers["content-type"] ??= "application/json";
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
