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
const PERMANENT_ERRORS: ReadonlySet<TransportErrorCode> = new Set(["blocked_destination", "tls"]);

/** What an attempt's outcome means, before limits and idempotency are considered. */
export type Classification =
  | { kind: "success" }
  | { kind: "transient"; reason: string }
  | { kind: "permanent"; reason: string };

/**
 * Classifies an attempt's outcome: 2xx is success; by default network errors and the statuses of
 * `isRetryableStatus` are transient and everything else (other 4xx, 3xx, 501, 505) permanent.
 * `retryOn`, when given, replaces the default set: numbers are exact statuses, `"5xx"` any 500-599,
 * `"network"` any transport error except a blocked destination or a TLS failure.
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
