import type { ExchangeOutcome, RetryOnRule, TransportErrorCode } from "./call.ts";

/**
 * True for the statuses retried by default: 408, 425, 429, and 5xx except 501 and 505, which say
 * the server will never support the request (issue 3, which widened ARCHITECTURE.md section 4's
 * 500/502/503/504). The engine and `steadfast/resilience` share this one rule.
 */
export function isRetryableStatus(status: number): boolean {
  if (status === 408 || status === 425 || status === 429) return true;
  return status >= 500 && status <= 599 && status !== 501 && status !== 505;
}

/** Transport errors that are never worth retrying: the same request would fail the same way. */
const PERMANENT_ERRORS: ReadonlySet<TransportErrorCode> = new Set([
  "blocked_destination",
  "tls",
  "invalid_request",
]);

/** What an attempt's outcome means, before limits and idempotency are considered. */
export type Classification =
  | { kind: "success" }
  | { kind: "transient"; reason: string }
  | { kind: "permanent"; reason: string };

/**
 * Classifies an attempt's outcome: 2xx is success; by default network errors and the statuses of
 * `isRetryableStatus` are transient and everything else (other 4xx, 3xx, 501, 505) permanent.
 * `retryOn`, when given, replaces the default set: numbers are exact statuses, `"5xx"` any 500-599,
 * `"network"` any transport error except a blocked destination, a TLS failure or a request our
 * client refuses to send (`invalid_request`): those are never retried.
 *
 * @example classifyOutcome({ type: "response", status: 503 }) // { kind: "transient", reason: "status 503" }
 */
export function classifyOutcome(
  outcome: ExchangeOutcome,
  retryOn?: readonly RetryOnRule[],
): Classification {
  if (outcome.type === "error") {
    const reason = `${outcome.code}: ${outcome.message}`;
    if (PERMANENT_ERRORS.has(outcome.code)) return { kind: "permanent", reason };
    const retryNetwork = retryOn === undefined || retryOn.includes("network");
    return retryNetwork ? { kind: "transient", reason } : { kind: "permanent", reason };
  }
  const { status } = outcome;
  if (status >= 200 && status < 300) return { kind: "success" };
  const reason = `status ${status}`;
  const transient =
    retryOn === undefined
      ? isRetryableStatus(status)
      : retryOn.includes(status) || (retryOn.includes("5xx") && status >= 500 && status < 600);
  return transient ? { kind: "transient", reason } : { kind: "permanent", reason };
}

/**
 * How an outcome counts toward the health of what it was sent to: a destination shared by every
 * tenant's calls (its breaker, error rate, latency and retry budget) in the engine, a dependency
 * behind a `circuitBreaker()` in `steadfast/resilience`. `success` and `failure` say something
 * about its health; `ignore` says nothing about it and must teach it nothing.
 */
export type HealthVerdict = "success" | "failure" | "ignore";

/**
 * The one rule for how an HTTP status counts toward the health of the server that answered
 * (issue 10), for the engine's destinations and `steadfast/resilience`'s breaker alike:
 *
 * - `failure`: 408 and 5xx but 501 and 505 (`isRetryableStatus` without 425 and 429): the server
 *   is failing, or too slow.
 * - `ignore`: 429 Too Many Requests and 425 Too Early. They are about the client (its quota, its
 *   credential, its use of TLS early data), not the server's health: counted as failures, one
 *   tenant's exhausted API key would open a breaker every tenant shares; as successes, one
 *   client's flood of them would hide a failing server.
 * - `success`: any other answer (2xx, 3xx, other 4xx, 501, 505): the server answered. A 501 or
 *   505 says it will never support this request, which its sender chose.
 *
 * @example statusHealth(503) // "failure"
 * @example statusHealth(429) // "ignore"
 */
export function statusHealth(status: number): HealthVerdict {
  if (status === 429 || status === 425) return "ignore";
  return isRetryableStatus(status) ? "failure" : "success";
}

/**
 * The shortest timeout whose expiry counts against a destination, ms. A connect, read or total
 * limit under a second is the caller's own impatience (or a deadline about to pass), not a sign
 * that the destination is unhealthy: the attempt still times out and the call decides as usual,
 * but the destination learns nothing from it.
 */
export const MIN_TELLING_TIMEOUT_MS = 1_000;

/** The limits an attempt ran with, the call's deadline applied (the transport's `SendOptions`). */
export interface AttemptLimits {
  connectTimeoutMs: number;
  readTimeoutMs: number;
  totalTimeoutMs: number;
}

/** What an attempt produced, as `destinationVerdict` reads it (an `AttemptOutcome` or a send result). */
export type OutcomeEvidence =
  { type: "response"; status: number } | { type: "error"; code: TransportErrorCode };

/**
 * The one rule for whether an attempt's outcome counts against its destination (issue 10): the
 * engine's destination gate feeds the breaker, the health figures and the retry budget only with
 * what this returns.
 *
 * - A response counts as `statusHealth` says: a `failure` for 408 and 5xx but 501 and 505,
 *   `ignore` for 429 and 425, else a `success` (the destination answered). A body over the
 *   capture cap is cut by us; the response still counts by its status.
 * - `ignore`: what happened on our side. Our own abort (shutdown, lost lease, cancellation), a
 *   destination our guard blocks, a request our client refuses to send (`invalid_request`), a
 *   failure inside our own process (`internal`), and a timeout whose limit was under
 *   `MIN_TELLING_TIMEOUT_MS` (a tiny `timeout`, or a deadline that left the attempt little time)
 *   or under `typicalLatencyMs`, the time the destination usually takes to answer: a caller that
 *   gives it less than that is impatient; the destination is not failing.
 * - Every other transport error is a `failure`: DNS, refused or timed-out connections, TLS, reads
 *   that time out, resets, answers that are not HTTP, and errors we cannot place (`unknown`).
 *
 * `typicalLatencyMs` is the destination's recent median answer time
 * (`DestinationHealth.answerMedianMs`), `undefined` when it answered nothing lately: then the
 * floor alone applies. Answers only: with timeouts in it, one tenant's many short timeouts would
 * pull the typical latency down to their own limit and so count themselves in.
 *
 * @example destinationVerdict({ type: "error", code: "connect_timeout" }, { connectTimeoutMs: 100, ... }) // "ignore"
 * @example destinationVerdict({ type: "error", code: "read_timeout" }, { readTimeoutMs: 1_000, ... }, 2_000) // "ignore"
 */
export function destinationVerdict(
  outcome: OutcomeEvidence,
  limits: AttemptLimits,
  typicalLatencyMs?: number,
): HealthVerdict {
  if (outcome.type === "response") return statusHealth(outcome.status);
  switch (outcome.code) {
    case "aborted":
    case "blocked_destination":
    case "invalid_request":
    case "internal":
      return "ignore";
    case "connect_timeout":
      return telling(limits.connectTimeoutMs, typicalLatencyMs);
    case "read_timeout":
      return telling(limits.readTimeoutMs, typicalLatencyMs);
    case "total_timeout":
      return telling(limits.totalTimeoutMs, typicalLatencyMs);
    default:
      return "failure";
  }
}

/** Whether a timeout of `limitMs` says the destination is failing (see `destinationVerdict`). */
function telling(limitMs: number, typicalLatencyMs: number | undefined): HealthVerdict {
  if (limitMs < MIN_TELLING_TIMEOUT_MS) return "ignore";
  return typicalLatencyMs !== undefined && limitMs < typicalLatencyMs ? "ignore" : "failure";
}

/** Methods whose repetition has the effect of one request (RFC 9110 section 9.2.2). */
const IDEMPOTENT_METHODS: ReadonlySet<string> = new Set([
  "GET",
  "HEAD",
  "OPTIONS",
  "TRACE",
  "PUT",
  "DELETE",
]);

/** True for methods that are idempotent by definition. */
export function isIdempotentMethod(method: string): boolean {
  return IDEMPOTENT_METHODS.has(method.toUpperCase());
}
