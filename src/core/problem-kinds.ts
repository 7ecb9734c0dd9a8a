/**
 * Problem details (RFC 9457): the one table mapping an error `code` to its HTTP status and title,
 * for every answer Steadfast makes as `application/problem+json`: the server's (server/problem.ts)
 * and a durable endpoint's (engine/endpoints/endpoint-problems.ts).
 */
import type { ErrorCode } from "./errors.ts";

/**
 * Codes of problems raised by HTTP itself rather than by our code: a wrong method on a known route,
 * requests node:http's parser refuses before any route sees them (`clientError`), and requests
 * over a rate limit (`steadfast/rate-limit`, answered before any route runs).
 */
export const HttpProblemCodes = [
  "method_not_allowed",
  "rate_limited",
  "bad_request",
  "request_timeout",
  "headers_too_large",
  "expectation_failed",
] as const;

/** Every `code` the API answers with: the core's `ErrorCode`s plus `HttpProblemCodes`. */
export type ProblemCode = ErrorCode | (typeof HttpProblemCodes)[number];

/** Status and title of one problem type. */
export interface ProblemKind {
  status: number;
  title: string;
}

/** The one table: problem code to HTTP status and title. */
export const PROBLEM_KINDS = {
  bad_request: { status: 400, title: "Malformed HTTP request" },
  invalid_json: { status: 400, title: "Malformed JSON" },
  unauthorized: { status: 401, title: "Unauthorized" },
  forbidden: { status: 403, title: "Forbidden" },
  not_found: { status: 404, title: "Not found" },
  method_not_allowed: { status: 405, title: "Method not allowed" },
  not_acceptable: { status: 406, title: "Not acceptable" },
  request_timeout: { status: 408, title: "Request timeout" },
  invalid_state: { status: 409, title: "Invalid state" },
  event_id_reused: { status: 409, title: "Event id reused" },
  payload_too_large: { status: 413, title: "Payload too large" },
  unsupported_media_type: { status: 415, title: "Unsupported media type" },
  expectation_failed: { status: 417, title: "Expectation failed" },
  invalid_request: { status: 422, title: "Invalid request" },
  idempotency_key_reused: { status: 422, title: "Idempotency key reused" },
  invalid_url: { status: 422, title: "Invalid URL" },
  blocked_destination: { status: 422, title: "Blocked destination" },
  rate_limited: { status: 429, title: "Too many requests" },
  headers_too_large: { status: 431, title: "Request header fields too large" },
  internal: { status: 500, title: "Internal server error" },
  shutting_down: { status: 503, title: "Shutting down" },
  store_unavailable: { status: 503, title: "Store unavailable" },
} as const satisfies Record<ProblemCode, ProblemKind>;

/** Media type of every error answer (RFC 9457 section 3). */
export const PROBLEM_CONTENT_TYPE = "application/problem+json";

/** Base of the problem type URIs: `https://steadfast.dev/problems/<code>`. */
export const PROBLEM_TYPE_BASE = "https://steadfast.dev/problems/";

/** The members every problem body of Steadfast carries (RFC 9457 section 3.1, plus `code`). */
export interface ProblemJson {
  /** A URI naming the problem type: `PROBLEM_TYPE_BASE + code` unless a caller chose its own. */
  type: string;
  title: string;
  status: number;
  /** What went wrong with this request, and usually the fix. */
  detail: string;
  /** Stable and machine-readable (`idempotency_key_reused`). */
  code: string;
  /** Extension members (`errors`, `correlationId`, `runId`...). */
  [member: string]: unknown;
}

/**
 * The `application/problem+json` response of `problem`: its status, the problem media type, and
 * `headers` (`Retry-After`...) added. Every problem answer Steadfast makes is sent through here.
 *
 * @example problemJsonResponse({ type, title: "Not found", status: 404, detail, code: "not_found" })
 */
export function problemJsonResponse(
  problem: ProblemJson,
  headers: Readonly<Record<string, string>> = {},
): Response {
  return new Response(JSON.stringify(problem), {
    status: problem.status,
    headers: { ...headers, "content-type": PROBLEM_CONTENT_TYPE },
  });
}

/**
 * The problem type URI of `code` for middleware with an app's documentation (issue 13):
 * `<docsUrl>#<code>`, or `PROBLEM_TYPE_BASE + code` without one.
 *
 * @example docsProblemType("rate_limited", "https://api.example/docs/limits") // "https://api.example/docs/limits#rate_limited"
 */
export function docsProblemType(code: string, docsUrl: string | undefined): string {
  return docsUrl === undefined ? PROBLEM_TYPE_BASE + code : `${docsUrl}#${code}`;
}

/**
 * The `Link: <docsUrl>; rel="help"` header pointing at the app's documentation, as headers to
 * spread into a problem answer's (none without `docsUrl`).
 *
 * @example docsHelpLink("https://api.example/docs") // { link: '<https://api.example/docs>; rel="help"' }
 */
export function docsHelpLink(docsUrl: string | undefined): Readonly<Record<string, string>> {
  return docsUrl === undefined ? {} : { link: `<${docsUrl}>; rel="help"` };
}
