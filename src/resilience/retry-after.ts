/**
 * Reading "not before" hints from response headers: `Retry-After` (RFC 9110 section 10.2.3:
 * delay-seconds or an HTTP-date) and the rate-limit reset headers (`RateLimit-Reset` and
 * `X-RateLimit-Reset`, delta seconds, or epoch seconds as GitHub sends; and the `t=` / `reset=`
 * parameter of the structured `RateLimit` field of draft-ietf-httpapi-ratelimit-headers).
 */

/** Something headers can be read from: a `Headers`, a `Map`, or a plain record. */
export type HeadersLike =
  | { get(name: string): string | null | undefined }
  | Record<string, string | readonly string[] | number | undefined>;

/** A hint found in headers. */
export interface RetryAfterHint {
  /** Wait asked for, in ms (never negative). */
  delayMs: number;
  /** The header it came from. */
  source: "retry-after" | "ratelimit-reset";
}

// Values above this are epoch seconds, not a delta (about 2001-09-09); a delta that long is
// not a plausible wait.
const EPOCH_SECONDS_THRESHOLD = 1_000_000_000;

/** Reads one header, case-insensitively. */
export function getHeader(headers: HeadersLike, name: string): string | undefined {
  if (typeof (headers as { get?: unknown }).get === "function") {
    const value = (headers as { get(name: string): unknown }).get(name);
    return typeof value === "string" ? value : undefined;
  }
  const record = headers as Record<string, unknown>;
  const direct = record[name];
  const value =
    direct !== undefined
      ? direct
      : record[Object.keys(record).find((key) => key.toLowerCase() === name) ?? ""];
  if (typeof value === "string") return value;
  if (typeof value === "number") return String(value);
  if (Array.isArray(value) && typeof value[0] === "string") return value[0];
  return undefined;
}

/**
 * Parses a `Retry-After` value into a delay in ms from `nowMs`. Accepts delay-seconds and
 * HTTP-dates; a date in the past gives 0. Anything else gives `undefined`.
 */
export function parseRetryAfter(value: string, nowMs: number): number | undefined {
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  // RFC 9110 section 5.6.7: HTTP-date. Date.parse reads IMF-fixdate and the obsolete forms.
  if (!/[a-z]/i.test(trimmed)) return undefined;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

/**
 * Parses a rate-limit reset value (delta seconds, or epoch seconds when implausibly large for a
 * delta) into a delay in ms from `nowMs`.
 */
export function parseRateLimitReset(value: string, nowMs: number): number | undefined {
  const trimmed = value.trim();
  if (!/^\d+(\.\d+)?$/.test(trimmed)) return undefined;
  const seconds = Number(trimmed);
  if (seconds >= EPOCH_SECONDS_THRESHOLD) return Math.max(0, seconds * 1000 - nowMs);
  return Math.ceil(seconds * 1000);
}

/** The `reset` of a structured `RateLimit` field (`t=50` or `reset=50`), in ms. */
function parseStructuredRateLimit(value: string): number | undefined {
  const match = /(?:^|[;,\s])(?:t|reset)=(\d+)/.exec(value);
  return match === null ? undefined : Number(match[1]) * 1000;
}

/**
 * The wait a response asks for: `Retry-After` first, then the rate-limit reset headers.
 * `undefined` when none is present or readable.
 */
export function retryAfterFromHeaders(
  headers: HeadersLike,
  nowMs: number,
): RetryAfterHint | undefined {
  const retryAfter = getHeader(headers, "retry-after");
  if (retryAfter !== undefined) {
    const delayMs = parseRetryAfter(retryAfter, nowMs);
    if (delayMs !== undefined) return { delayMs, source: "retry-after" };
  }
  for (const name of ["ratelimit-reset", "x-ratelimit-reset"]) {
    const value = getHeader(headers, name);
    if (value === undefined) continue;
    const delayMs = parseRateLimitReset(value, nowMs);
    if (delayMs !== undefined) return { delayMs, source: "ratelimit-reset" };
  }
  const structured = getHeader(headers, "ratelimit");
  if (structured !== undefined) {
    const delayMs = parseStructuredRateLimit(structured);
    if (delayMs !== undefined) return { delayMs, source: "ratelimit-reset" };
  }
  return undefined;
}
