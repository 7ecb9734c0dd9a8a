/**
 * How long an upstream asked us to wait, from `Retry-After` (RFC 9110 section 10.2.3: either
 * delay-seconds or an HTTP-date) or, failing that, `RateLimit-Reset` (IETF draft
 * "RateLimit header fields for HTTP": delta seconds). Returns ms from `nowMs`, or `undefined`
 * when neither header is present or parseable. A date in the past gives 0.
 *
 * @example retryAfterMs({ "retry-after": "2" }, now) // 2000
 */
export function retryAfterMs(
  headers: Readonly<Record<string, string>>,
  nowMs: number,
): number | undefined {
  const retryAfter = headers["retry-after"];
  if (retryAfter !== undefined) {
    const parsed = parseRetryAfter(retryAfter, nowMs);
    if (parsed !== undefined) return parsed;
  }
  const reset = headers["ratelimit-reset"];
  if (reset !== undefined) {
    const seconds = parseDeltaSeconds(reset);
    if (seconds !== undefined) return seconds * 1000;
  }
  return undefined;
}

/** Parses one `Retry-After` value (delay-seconds or HTTP-date) into ms from `nowMs`. */
export function parseRetryAfter(value: string, nowMs: number): number | undefined {
  const seconds = parseDeltaSeconds(value);
  if (seconds !== undefined) return seconds * 1000;
  // HTTP-date (IMF-fixdate, or the obsolete RFC 850 and asctime forms, which Date.parse reads).
  if (!/[a-z]/i.test(value)) return undefined;
  const at = Date.parse(value.trim());
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - nowMs);
}

function parseDeltaSeconds(value: string): number | undefined {
  const trimmed = value.trim();
  // delay-seconds = 1*DIGIT; RateLimit-Reset is the same shape.
  if (!/^\d{1,10}$/.test(trimmed)) return undefined;
  return Number(trimmed);
}
