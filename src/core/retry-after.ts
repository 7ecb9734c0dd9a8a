/**
 * The one reader of "not before" hints in response headers, for the engine and for
 * `steadfast/resilience`:
 * - `Retry-After` (RFC 9110 section 10.2.3): delay-seconds or an HTTP-date;
 * - `RateLimit-Reset` and `X-RateLimit-Reset`: delta seconds, or an epoch time when the number is
 *   too large to be a delta (epoch seconds as GitHub and Twitter send, epoch ms as some APIs do);
 * - the `t=` (or older `reset=`) parameter of the structured `RateLimit` field
 *   (draft-ietf-httpapi-ratelimit-headers).
 *
 * `Retry-After` wins over the others: it is the standard and says exactly what the server wants.
 */

/** Something headers can be read from: a `Headers`, a `Map`, or a plain record. */
export type HeadersLike =
  | { get(name: string): string | null | undefined }
  | Record<string, string | readonly string[] | number | undefined>;

/** A hint found in headers. */
export interface RetryAfterHint {
  /** Wait asked for, in ms (never negative, at most `Number.MAX_SAFE_INTEGER`). */
  delayMs: number;
  /** The header it came from: `retry-after`, or `ratelimit-reset` for any of the rate-limit headers. */
  source: "retry-after" | "ratelimit-reset";
}

// A reset value at or above this is an epoch time in seconds, not a delta (about 2001-09-09): a
// delta that long is not a plausible wait.
const EPOCH_SECONDS_THRESHOLD = 1_000_000_000;
// At or above this, an epoch time in ms (1e12 seconds would be 31,000 years).
const EPOCH_MS_THRESHOLD = 1_000_000_000_000;

/** Reads one header, case-insensitively. `name` must be lower-case. */
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
 * Parses a `Retry-After` value into a delay in ms from `nowMs`. Accepts delay-seconds (however
 * large: callers cap the wait) and HTTP-dates; a date in the past gives 0. Anything else (a
 * negative or fractional number, a word) gives `undefined`.
 *
 * @example parseRetryAfter("120", now) // 120_000
 */
export function parseRetryAfter(value: string, nowMs: number): number | undefined {
  const trimmed = value.trim();
  // delay-seconds = 1*DIGIT
  if (/^\d+$/.test(trimmed)) return clampMs(Number(trimmed) * 1000);
  // RFC 9110 section 5.6.7: HTTP-date. Date.parse reads IMF-fixdate and the obsolete RFC 850 and
  // asctime forms; the letter test keeps bare numbers such as "-1" or "1.5" from reading as dates.
  if (!/[a-z]/i.test(trimmed)) return undefined;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

/**
 * Parses a rate-limit reset value into a delay in ms from `nowMs`: delta seconds (fractions
 * allowed), epoch seconds from 1e9, epoch ms from 1e12. A reset in the past gives 0.
 *
 * @example parseRateLimitReset("30", now) // 30_000
 * @example parseRateLimitReset(String(Math.floor(now / 1000) + 30), now) // about 30_000
 */
export function parseRateLimitReset(value: string, nowMs: number): number | undefined {
  const trimmed = value.trim();
  if (!/^\d+(\.\d+)?$/.test(trimmed)) return undefined;
  const number = Number(trimmed);
  if (number >= EPOCH_MS_THRESHOLD) return clampMs(Math.ceil(number - nowMs));
  if (number >= EPOCH_SECONDS_THRESHOLD) return clampMs(Math.ceil(number * 1000 - nowMs));
  return Math.ceil(number * 1000);
}

/**
 * The reset of a structured `RateLimit` field, in ms. The current draft sends one item per quota
 * policy (`"burst";r=0;t=7, "day";r=900;t=3600`): the wait is the longest `t` of the exhausted
 * policies (`r=0`), else the first `t`. The older form (`limit=10, remaining=0, reset=7`) has
 * one `reset`.
 */
function parseStructuredRateLimit(value: string): number | undefined {
  let first: number | undefined;
  let exhausted: number | undefined;
  for (const item of value.split(",")) {
    const reset = /(?:^|[;\s])(?:t|reset)=(\d+)(?=\s*(?:;|$))/.exec(item);
    if (reset === null) continue;
    const seconds = Number(reset[1]);
    first ??= seconds;
    if (/(?:^|[;\s])r=0(?=\s*(?:;|$))/.test(item)) exhausted = Math.max(exhausted ?? 0, seconds);
  }
  const seconds = exhausted ?? first;
  return seconds === undefined ? undefined : clampMs(seconds * 1000);
}

/**
 * The wait a response asks for: `Retry-After` first, then `RateLimit-Reset`,
 * `X-RateLimit-Reset`, and the `RateLimit` field. `undefined` when none is present or readable.
 *
 * @example retryAfterFromHeaders({ "retry-after": "2" }, now) // { delayMs: 2000, source: "retry-after" }
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

function clampMs(ms: number): number {
  return Math.max(0, Math.min(ms, Number.MAX_SAFE_INTEGER));
}
