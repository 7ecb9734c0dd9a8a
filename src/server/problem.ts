/**
 * Problem details (RFC 9457): the one error handler that answers every error as
 * `application/problem+json`, with the status and title of the one table (core/problem-kinds.ts,
 * re-exported here).
 */
import type { Context, ErrorHandler, NotFoundHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import type { Logger } from "pino";
import { isErrorCode, isSteadfastError, type FieldIssue } from "../core/errors.ts";
import { redactText, redactUrl } from "../core/redact.ts";
import { clientWentAway } from "./node-request.ts";
import type { ServerEnv } from "./server-env.ts";

export {
  HttpProblemCodes,
  PROBLEM_CONTENT_TYPE,
  PROBLEM_KINDS,
  PROBLEM_TYPE_BASE,
  type ProblemCode,
  type ProblemKind,
} from "../core/problem-kinds.ts";
import {
  PROBLEM_KINDS,
  PROBLEM_TYPE_BASE,
  problemJsonResponse,
  type ProblemCode,
  type ProblemKind,
} from "../core/problem-kinds.ts";

/** An `application/problem+json` body as the API sends it. */
export interface Problem {
  /** `https://steadfast.dev/problems/<code>`. */
  type: string;
  title: string;
  status: number;
  /** What went wrong with this request, and usually the fix. */
  detail: string;
  code: ProblemCode;
  /**
   * The request path the problem occurred on; absent when the request could not be parsed (the
   * path is then unknown, and the bytes sent are never echoed).
   */
  instance?: string;
  /** This request's id (also its `X-Request-Id` header); quote it when reporting a problem. */
  correlationId: string;
  /** One entry per invalid field, for validation problems. */
  errors?: FieldIssue[];
  /**
   * The quota policies a `429 rate_limited` broke, by name (the extension member of
   * draft-ietf-httpapi-ratelimit-headers-11's quota-exceeded problem, section 5.1).
   */
  "violated-policies"?: string[];
}

/** What `problemResponse` needs beyond the code. */
export interface ProblemInit {
  detail: string;
  issues?: readonly FieldIssue[];
  headers?: Record<string, string>;
  /** For `rate_limited`: the policies the request broke (`violated-policies`). */
  violatedPolicies?: readonly string[];
}

/** Where a problem occurred, for `problemDocument`. */
export interface ProblemOccurrence {
  /** The request's correlation id. */
  correlationId: string;
  /** The request path, when known. */
  instance?: string;
  issues?: readonly FieldIssue[];
}

/**
 * The problem body for `code`: type, title and status from `PROBLEM_KINDS`, with this
 * occurrence's detail, path and correlation id. Every problem the server sends is built here.
 */
export function problemDocument(
  code: ProblemCode,
  detail: string,
  occurrence: ProblemOccurrence,
): Problem {
  const kind: ProblemKind = PROBLEM_KINDS[code];
  const body: Problem = {
    type: PROBLEM_TYPE_BASE + code,
    title: kind.title,
    status: kind.status,
    // The backstop of the one redactor: a message quoting a URL never echoes its secrets.
    detail: redactText(detail),
    code,
    ...(occurrence.instance === undefined ? {} : { instance: occurrence.instance }),
    correlationId: occurrence.correlationId,
  };
  const issues = occurrence.issues ?? [];
  if (issues.length > 0)
    body.errors = issues.map((i) => ({
      field: shownField(i.field),
      message: redactText(i.message),
    }));
  return body;
}

/** Longest field name a problem quotes, characters; longer ones are cut (with `...`). */
export const MAX_PROBLEM_FIELD_LENGTH = 200;

// A field name quotes the request (an unknown JSON key may be anything: a URL with credentials,
// a pasted key), so it goes through the one redactor like every message, and is cut.
function shownField(field: string): string {
  const redacted = redactText(field);
  return redacted.length <= MAX_PROBLEM_FIELD_LENGTH
    ? redacted
    : `${redacted.slice(0, MAX_PROBLEM_FIELD_LENGTH)}...`;
}

/**
 * `path` fit to quote in an answer: a segment that holds a URL or an origin with `@` or `?` (a
 * destination, `https%3A%2F%2Fuser%3Apw%40host` or `user:pw@host`) goes through the URL
 * redactor, so credentials in it are not echoed.
 */
export function redactedPath(path: string): string {
  return path
    .split("/")
    .map((segment) => {
      let decoded = segment;
      try {
        if (segment.includes("%")) decoded = decodeURIComponent(segment);
      } catch {
        // Not percent-decodable: shown as it came, if it holds nothing that looks like a URL.
      }
      if (!/[@?]/.test(decoded)) return segment;
      // The one redactor reads a URL with or without its scheme, parseable or not.
      const redacted = redactUrl(decoded);
      return redacted === decoded ? segment : encodeURIComponent(redacted);
    })
    .join("/");
}

/** Builds the problem body for `code` in the context of request `c`. */
export function problemBody(
  c: Context<ServerEnv>,
  code: ProblemCode,
  detail: string,
  issues: readonly FieldIssue[] = [],
): Problem {
  return problemDocument(code, detail, {
    instance: redactedPath(c.req.path),
    correlationId: c.get("requestId"),
    issues,
  });
}

/** An `application/problem+json` response for `code`. */
export function problemResponse(
  c: Context<ServerEnv>,
  code: ProblemCode,
  init: ProblemInit,
): Response {
  const body = problemBody(c, code, init.detail, init.issues);
  if (init.violatedPolicies !== undefined) body["violated-policies"] = [...init.violatedPolicies];
  const headers: Record<string, string> = { ...init.headers };
  if (code === "unauthorized") {
    // RFC 6750 section 3: a 401 names the scheme; `invalid_token` when a key was sent but is wrong.
    headers["www-authenticate"] ??= 'Bearer realm="steadfast"';
  }
  return problemJsonResponse({ ...body }, headers);
}

/** The code of a problem for an HTTP status raised outside our own errors (Hono's `HTTPException`). */
function codeForStatus(status: number): ProblemCode {
  for (const [code, kind] of Object.entries(PROBLEM_KINDS) as [ProblemCode, ProblemKind][]) {
    if (kind.status === status) return code;
  }
  return status >= 500 ? "internal" : "invalid_request";
}

/**
 * The error handler (`app.onError`): a `SteadfastError` with one of the API's codes is answered
 * with its code's status and its message and field issues; anything else is a `500 internal` whose details (stack included) go to
 * the log only, under the request's correlation id.
 */
export function handleError(logger: Logger): ErrorHandler<ServerEnv> {
  return (error, c) => {
    // Only the API's codes have a status; any other SteadfastError here is a bug: a 500 below.
    if (isSteadfastError(error) && isErrorCode(error.code)) {
      const code: ProblemCode = error.code;
      // An outage refuses every request: one line each, not a stack each.
      if (code === "store_unavailable")
        logger.warn({ requestId: c.get("requestId"), code }, error.message);
      else if (PROBLEM_KINDS[code].status >= 500)
        logger.error({ err: error, requestId: c.get("requestId") }, error.message);
      const headers: Record<string, string> = {};
      if (code === "shutting_down") headers["retry-after"] = "5";
      if (code === "store_unavailable") headers["retry-after"] = "1";
      return problemResponse(c, code, { detail: error.message, issues: error.issues, headers });
    }
    if (error instanceof HTTPException && error.status < 500) {
      return problemResponse(c, codeForStatus(error.status), {
        detail: error.message || PROBLEM_KINDS[codeForStatus(error.status)].title,
      });
    }
    const requestId = c.get("requestId");
    if (clientWentAway(c, error)) {
      // Not an error of ours: the client closed the connection (aborted a wait, or went away
      // mid-body). The answer below is never delivered; it only labels the request in metrics.
      logger.debug(
        { requestId, method: c.req.method, path: redactedPath(c.req.path) },
        "client went away before the answer",
      );
      return problemResponse(c, "bad_request", {
        detail: "The client closed the connection before the request was read in full",
      });
    }
    logger.error(
      { err: error, requestId, method: c.req.method, path: redactedPath(c.req.path) },
      "unhandled error",
    );
    return problemResponse(c, "internal", {
      detail: `The server failed to handle this request. It has been logged; quote correlation id ${requestId} when reporting it.`,
    });
  };
}

/** The handler for unknown routes (`app.notFound`): a `404 not_found` problem. */
export const handleNotFound: NotFoundHandler<ServerEnv> = (c) => {
  c.set("unmatched", true);
  return problemResponse(c, "not_found", {
    detail: `No route ${c.req.method} ${redactedPath(c.req.path)}; see GET /openapi.json for the routes this server has`,
  });
};
