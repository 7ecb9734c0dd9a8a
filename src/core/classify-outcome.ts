import type { AttemptOutcome, RetryOnRule, TransportErrorCode } from "./call.ts";

/** Statuses retried by default (ARCHITECTURE.md section 4). */
export const DEFAULT_RETRY_STATUSES: ReadonlySet<number> = new Set([
  408, 425, 429, 500, 502, 503, 504,
]);

/** Transport errors that are never worth retrying: the same request would fail the same way. */
const PERMANENT_ERRORS: ReadonlySet<TransportErrorCode> = new Set(["blocked_destination", "tls"]);

/** What an attempt's outcome means, before limits and idempotency are considered. */
export type Classification =
  | { kind: "success" }
  | { kind: "transient"; reason: string }
  | { kind: "permanent"; reason: string };

/**
 * Classifies an attempt's outcome: 2xx is success; by default network errors and 408, 425, 429,
 * 500, 502, 503, 504 are transient and everything else (other 4xx, 3xx, other 5xx) permanent.
 * `retryOn`, when given, replaces the default set: numbers are exact statuses, `"5xx"` any 500-599,
 * `"network"` any transport error except a blocked destination or a TLS failure.
 *
 * @example classifyOutcome({ type: "response", status: 503 }) // { kind: "transient", reason: "status 503" }
 */
export function classifyOutcome(
  outcome: AttemptOutcome,
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
      ? DEFAULT_RETRY_STATUSES.has(status)
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
