/**
 * Errors the REST client throws: `SteadfastApiError` when the server answers with an error
 * (RFC 9457 problem details), `SteadfastConnectionError` when it cannot be reached at all.
 * Both carry a brand so the guards work across copies of the package, and both are
 * `SteadfastError`s with a `code` (`isSteadfastError`), like every error the package raises.
 */
import { SteadfastError } from "../core/errors.ts";
import { redactText, redactUrl } from "../core/redact.ts";

const API_ERROR = Symbol.for("steadfast.client.api-error");
const CONNECTION_ERROR = Symbol.for("steadfast.client.connection-error");

/** One field-level problem of a `422` answer (`errors[]` of the problem details). */
export interface ProblemFieldError {
  /** Dotted path of the field, such as `retry.maxAttempts` or `Idempotency-Key`. */
  field: string;
  /** What is wrong and how to fix it. */
  message: string;
}

/** An `application/problem+json` body (RFC 9457) as the Steadfast API sends it. */
export interface ProblemDetails {
  /** A URI naming the problem type. */
  type?: string;
  /** Short, human-readable summary of the problem type. */
  title: string;
  /** HTTP status code. */
  status: number;
  /** What went wrong with this request, and usually the fix. */
  detail?: string;
  /** Machine-readable code such as `not_found` or `invalid_request`. */
  code: string;
  /** Field-level problems, for validation errors. */
  errors?: ProblemFieldError[];
  /** Id to quote when reporting a server-side problem. */
  correlationId?: string;
  /** Any other member the server sent. */
  [member: string]: unknown;
}

/**
 * The server answered with an error status. Carries the problem details (`status`, `code`,
 * `title`, `detail`, `errors`); the message joins the detail and every field problem, so it names
 * the field and the fix.
 *
 * @example
 * try {
 *   await client.get("call_01J...");
 * } catch (error) {
 *   if (isSteadfastApiError(error) && error.code === "not_found") console.log("no such call");
 *   else throw error;
 * }
 */
export class SteadfastApiError extends SteadfastError<string> {
  /** HTTP status of the answer. */
  readonly status: number;
  /** Short summary of the problem type. */
  readonly title: string;
  /** The server's explanation, when it gave one. */
  readonly detail: string | undefined;
  /** Field-level problems; empty unless the request was invalid. */
  readonly errors: readonly ProblemFieldError[];
  /** Id to quote when reporting a server-side problem, when the server sent one. */
  readonly correlationId: string | undefined;
  /** The problem details as received. */
  readonly problem: ProblemDetails;
  readonly [API_ERROR] = true;

  constructor(problem: ProblemDetails) {
    // `code`: the server's (`not_found`, `invalid_request`, ...); `http_<status>` when the body
    // was not problem details.
    super(problem.code, apiErrorMessage(problem), { issues: problem.errors ?? [] });
    this.name = "SteadfastApiError";
    this.status = problem.status;
    this.title = problem.title;
    this.detail = problem.detail;
    this.errors = problem.errors ?? [];
    this.correlationId = problem.correlationId;
    this.problem = problem;
  }
}

/**
 * The server could not be reached (refused, DNS failure, reset before an answer). Code
 * `connection_failed`.
 */
export class SteadfastConnectionError extends SteadfastError<"connection_failed"> {
  /** The base URL the client was configured with, credentials redacted. */
  readonly baseUrl: string;
  readonly [CONNECTION_ERROR] = true;

  constructor(baseUrl: string, cause: unknown) {
    const shown = redactUrl(baseUrl);
    super(
      "connection_failed",
      `cannot reach Steadfast at ${shown} (${redactText(describeCause(cause))}): is \`steadfast serve\` running, and is the URL right?`,
      { cause },
    );
    this.name = "SteadfastConnectionError";
    this.baseUrl = shown;
  }
}

/** True for a `SteadfastApiError`, from this copy of the package or another. */
export function isSteadfastApiError(value: unknown): value is SteadfastApiError {
  return (
    typeof value === "object" &&
    value !== null &&
    (value as Record<symbol, unknown>)[API_ERROR] === true
  );
}

/** True for a `SteadfastConnectionError`, from this copy of the package or another. */
export function isSteadfastConnectionError(value: unknown): value is SteadfastConnectionError {
  return (
    typeof value === "object" &&
    value !== null &&
    (value as Record<symbol, unknown>)[CONNECTION_ERROR] === true
  );
}

/**
 * The message of a `SteadfastApiError`: the detail (or title), each field problem the detail does
 * not already mention, then the status and code, and the correlation id for server-side errors:
 * `No call call_01J... for this API key (HTTP 404 not_found)`.
 */
function apiErrorMessage(problem: ProblemDetails): string {
  let text = problem.detail ?? problem.title;
  // The server's detail usually already names each field; only what it leaves out is added.
  const missing = (problem.errors ?? []).filter(
    (issue) => !text.includes(issue.field) && !text.includes(issue.message),
  );
  if (missing.length > 0) {
    text += `: ${missing.map((issue) => `${issue.field}: ${issue.message}`).join("; ")}`;
  }
  text += ` (HTTP ${problem.status} ${problem.code})`;
  if (problem.status >= 500 && problem.correlationId !== undefined) {
    text += `; correlation id ${problem.correlationId}`;
  }
  return text;
}

// undici's "fetch failed" hides the useful part in `cause` (ECONNREFUSED, ENOTFOUND, ...).
function describeCause(cause: unknown): string {
  let current: unknown = cause;
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    const code = (current as Error & { code?: unknown }).code;
    if (typeof code === "string" && code !== "") {
      return current.message.includes(code) ? current.message : `${code}: ${current.message}`;
    }
    if (current.cause === undefined) return current.message;
    current = current.cause;
  }
  return String(current);
}
