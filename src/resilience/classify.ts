/**
 * One pure classification of outcomes (ARCHITECTURE.md section 4): is it worth retrying, may
 * the failed attempt have had an effect on the server, does it count against the dependency's
 * health, and did the server ask for a wait. Retry, the circuit breaker, the rate limiter and
 * fallback all read the same verdict.
 *
 * Retried by default: network errors, 408, 425, 429 and 5xx except 501 and 505 (those two say
 * the server will never support the request), timeouts of an attempt, and `RetryableError`.
 * Never: other 4xx, caller aborts, local rejections (open circuit, full bulkhead, rate limit,
 * budget, deadline), `TerminalError`, and errors we do not recognise (a bug in the function is
 * not transient; pass `retryOn` to widen).
 */
import type { RetryOnRule } from "../core/call.ts";
import {
  isIdempotentMethod,
  isRetryableStatus,
  statusHealth,
  type HealthVerdict,
} from "../core/classify-outcome.ts";
import { isRetryableError, isTerminalError } from "../core/errors.ts";
import { isResilienceError } from "./errors.ts";
import {
  retryAfterFromHeaders,
  type HeadersLike,
  type RetryAfterHint,
} from "../core/retry-after.ts";

/** What an attempt produced: a value, or a thrown error. */
export type Outcome<T = unknown> = { type: "result"; value: T } | { type: "error"; error: unknown };

/** The classification of one outcome. */
export interface Verdict {
  /** Worth another attempt. */
  readonly retryable: boolean;
  /** Short, loggable: `status 503`, `network ECONNRESET`, `timeout`, `status 404 is final`. */
  readonly reason: string;
  /**
   * The failed attempt may have reached the server and taken effect. False only when it
   * certainly did not (connection refused, DNS) or the server said it did not process it
   * (408, 425, 429, 503).
   */
  readonly mayHaveEffect: boolean;
  /**
   * How the outcome counts toward the dependency's health (the circuit breaker's default): one
   * rule with the engine's destinations (`statusHealth` in core/classify-outcome.ts). A status
   * counts as `statusHealth` says (408 and 5xx but 501 and 505 fail; 429 and 425 are ignored,
   * being about the client's quota or early data; other answers succeed); caller aborts and
   * rejections by other local policies are ignored; any other thrown error is a failure.
   */
  readonly health: HealthVerdict;
  /** Set when the server asked for a wait (`Retry-After`, rate-limit reset). */
  readonly retryAfter?: RetryAfterHint;
  /** The HTTP status, when the outcome carried one. */
  readonly status?: number;
  /** Network error rule (`ECONNRESET`, `connect_refused`...), when one matched. */
  readonly networkCode?: string;
}

const SUCCESS: Verdict = Object.freeze({
  retryable: false,
  reason: "success",
  mayHaveEffect: true,
  health: "success",
});

/** Network error codes for which the request certainly did not reach the server. */
const NOT_SENT_CODES: ReadonlySet<string> = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENETDOWN",
  "EHOSTDOWN",
  "UND_ERR_CONNECT_TIMEOUT",
  // Codes of the core Transport port (src/core/call.ts).
  "dns",
  "connect_refused",
  "connect_timeout",
]);

/** Network error codes after which the request may have reached the server. */
const MAYBE_SENT_CODES: ReadonlySet<string> = new Set([
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "ECONNABORTED",
  "ESOCKETTIMEDOUT",
  "UND_ERR_SOCKET",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  "read_timeout",
  "total_timeout",
  "reset",
]);

// One rule for the engine and the library: both live in core.
export { isIdempotentMethod, isRetryableStatus, statusHealth };

/** Classifies an outcome. `nowMs` turns HTTP-date `Retry-After` values into delays. */
export function classify(outcome: Outcome, nowMs: number): Verdict {
  return outcome.type === "result"
    ? classifyResult(outcome.value, nowMs)
    : classifyError(outcome.error, nowMs);
}

/**
 * Classifies a returned value. Only response-like values (a numeric `status`) can fail;
 * anything else is a success. Allocation-free for successes.
 */
export function classifyResult(value: unknown, nowMs: number): Verdict {
  if (typeof value !== "object" || value === null) return SUCCESS;
  const status = (value as { status?: unknown }).status;
  if (typeof status !== "number" || status < 400) return SUCCESS;
  return fromStatus(status, (value as { headers?: HeadersLike }).headers, nowMs);
}

/** Classifies a thrown error. */
export function classifyError(error: unknown, nowMs: number): Verdict {
  if (typeof error !== "object" || error === null) {
    return verdict(false, "unrecognised thrown value", true, "failure");
  }
  const e = error as ErrorLike;
  if (isResilienceError(error)) {
    if (error.kind === "TimeoutError") return verdict(true, "timeout", true, "failure");
    if (error.kind === "DeadlineExceededError")
      return verdict(false, "deadline exceeded", true, "failure");
    // Another local policy refused: the dependency was not asked.
    return verdict(false, `rejected by ${error.policy}`, false, "ignore");
  }
  if (e.name === "AbortError") return verdict(false, "aborted", true, "ignore");
  // By brand, not by name: a subclass that renames itself (StoreUnavailableError) is still one.
  if (isTerminalError(error)) return verdict(false, `terminal: ${error.code}`, true, "failure");
  if (isRetryableError(error)) {
    const { retryAfterMs } = error;
    const v = verdict(true, `retryable: ${error.code}`, e.sent !== false, "failure");
    return typeof retryAfterMs === "number"
      ? { ...v, retryAfter: { delayMs: Math.max(0, retryAfterMs), source: "retry-after" } }
      : v;
  }
  const status = statusOf(e);
  if (status !== undefined) {
    const v = fromStatus(status, e.response?.headers ?? e.headers, nowMs);
    return typeof e.retryable === "boolean" ? { ...v, retryable: e.retryable } : v;
  }
  const code = networkCode(e);
  if (code !== undefined) {
    const notSent = NOT_SENT_CODES.has(code) || e.sent === false;
    const v = verdict(true, `network ${code}`, !notSent, "failure");
    return { ...v, networkCode: code };
  }
  if (typeof e.retryable === "boolean") {
    return verdict(
      e.retryable,
      e.retryable ? "marked retryable" : "marked not retryable",
      e.sent !== false,
      "failure",
    );
  }
  return verdict(
    false,
    `unrecognised error${typeof e.name === "string" ? ` (${e.name})` : ""}`,
    e.sent !== false,
    "failure",
  );
}

/** True when an outcome counts against the dependency's health (`health` is `failure`). */
export function isFailure(outcome: Outcome, nowMs: number): boolean {
  return classify(outcome, nowMs).health === "failure";
}

/**
 * A predicate from `retryOn` rules (`[429, "5xx", "network"]`), as in the HTTP API's
 * `retry.retryOn`. Rules replace the default status and network choices; timeouts of an attempt
 * stay retryable.
 */
export function retryOnRules(
  rules: readonly RetryOnRule[],
): (outcome: Outcome, verdict: Verdict) => boolean {
  const statuses = new Set(rules.filter((rule): rule is number => typeof rule === "number"));
  const any5xx = rules.includes("5xx");
  const network = rules.includes("network");
  return (_outcome, v) => {
    if (v.status !== undefined)
      return statuses.has(v.status) || (any5xx && v.status >= 500 && v.status <= 599);
    if (v.networkCode !== undefined) return network;
    return v.retryable;
  };
}

interface ErrorLike {
  name?: unknown;
  code?: unknown;
  cause?: unknown;
  sent?: unknown;
  retryable?: unknown;
  status?: unknown;
  statusCode?: unknown;
  headers?: HeadersLike;
  response?: { status?: unknown; headers?: HeadersLike };
}

function verdict(
  retryable: boolean,
  reason: string,
  mayHaveEffect: boolean,
  health: HealthVerdict,
): Verdict {
  return { retryable, reason, mayHaveEffect, health };
}

function statusOf(e: ErrorLike): number | undefined {
  for (const candidate of [e.status, e.statusCode, e.response?.status]) {
    if (typeof candidate === "number" && candidate >= 100 && candidate <= 599) return candidate;
  }
  return undefined;
}

function networkCode(e: ErrorLike): string | undefined {
  // fetch wraps the socket error: TypeError("fetch failed", { cause: { code: "ECONNRESET" } }).
  let current: ErrorLike | undefined = e;
  for (let depth = 0; depth < 4 && current !== undefined; depth++) {
    const code = current.code;
    if (typeof code === "string" && (NOT_SENT_CODES.has(code) || MAYBE_SENT_CODES.has(code)))
      return code;
    const cause: unknown = current.cause;
    current = typeof cause === "object" && cause !== null ? cause : undefined;
  }
  return undefined;
}

function fromStatus(status: number, headers: HeadersLike | undefined, nowMs: number): Verdict {
  const retryable = isRetryableStatus(status);
  // The server says it did not process these (RFC 9110 15.5.9 and 15.6.4, RFC 8470, RFC 6585).
  const mayHaveEffect = !(status === 408 || status === 425 || status === 429 || status === 503);
  const health = statusHealth(status);
  const reason = retryable ? `status ${status}` : `status ${status} is final`;
  const base: Verdict = { retryable, reason, mayHaveEffect, health, status };
  if (!retryable || headers === undefined || typeof headers !== "object") return base;
  const retryAfter = retryAfterFromHeaders(headers, nowMs);
  return retryAfter === undefined ? base : { ...base, retryAfter };
}
