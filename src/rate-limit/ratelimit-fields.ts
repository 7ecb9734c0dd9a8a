/**
 * The `RateLimit-Policy` and `RateLimit` response fields of draft-ietf-httpapi-ratelimit-headers
 * (revision -11, May 2026), as Structured Field lists (RFC 9651) of one item each:
 *
 *     RateLimit-Policy: "default";q=100;w=60
 *     RateLimit: "default";r=99;t=1
 *
 * `q` is the quota (requests) and `w` its window in seconds; `r` the requests available now and
 * `t` the seconds within which no more than `r` can be used (section 4.1.2: the time until one
 * more becomes available, under GCRA). A burst other than the quota is shown as a vendor
 * parameter, `steadfast-burst=20` (section 3.1 asks for such names to be prefixed). No partition key (`pk`): a key is often a credential or a
 * user id, which the draft (section 6.1) asks servers not to send back.
 */
import type { Allowance } from "./gcra.ts";

/** A quota policy as the fields describe it. */
export interface QuotaPolicy {
  /** The policy's name (`"default"`), which ties `RateLimit` to `RateLimit-Policy`. */
  readonly name: string;
  /** Requests per window (`q`). */
  readonly limit: number;
  /** The window, whole seconds (`w`). */
  readonly windowSeconds: number;
  /** Requests allowed back to back from a full allowance. */
  readonly burst: number;
}

/** Names of the response fields, lower-case (as `Headers` gives them). */
export const RATELIMIT_POLICY_FIELD = "ratelimit-policy";
/** See `RATELIMIT_POLICY_FIELD`. */
export const RATELIMIT_FIELD = "ratelimit";

/**
 * What a policy name may hold: 1 to 64 letters, digits, `.`, `_` or `-`. A subset of what an
 * sf-string allows, chosen so that names need no escaping and read the same as tokens.
 */
export const POLICY_NAME_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * The `RateLimit-Policy` item of `policy`, with `steadfast-burst` when the burst is not the quota.
 *
 * @example rateLimitPolicyField({ name: "default", limit: 100, windowSeconds: 60, burst: 100 }) // '"default";q=100;w=60'
 * @example rateLimitPolicyField({ name: "api", limit: 600, windowSeconds: 60, burst: 20 }) // '"api";q=600;w=60;steadfast-burst=20'
 */
export function rateLimitPolicyField(policy: QuotaPolicy): string {
  const item = `"${policy.name}";q=${policy.limit};w=${policy.windowSeconds}`;
  return policy.burst === policy.limit ? item : `${item};steadfast-burst=${policy.burst}`;
}

/**
 * The `RateLimit` item of `policy` after a decision.
 *
 * @example rateLimitField(policy, { remaining: 99, resetSeconds: 1 }) // '"default";r=99;t=1'
 */
export function rateLimitField(policy: QuotaPolicy, allowance: Allowance): string {
  return `"${policy.name}";r=${allowance.remaining};t=${allowance.resetSeconds}`;
}

/**
 * The response headers of a decision: `RateLimit-Policy` and `RateLimit` always, and
 * `Retry-After` (delay-seconds) when the request was refused.
 */
export function rateLimitHeaders(
  policy: QuotaPolicy,
  allowance: Allowance,
): Record<string, string> {
  const headers: Record<string, string> = {
    [RATELIMIT_POLICY_FIELD]: rateLimitPolicyField(policy),
    [RATELIMIT_FIELD]: rateLimitField(policy, allowance),
  };
  if (allowance.retryAfterSeconds !== undefined)
    headers["retry-after"] = String(allowance.retryAfterSeconds);
  return headers;
}

/**
 * `response` with `headers` added. `RateLimit-Policy` and `RateLimit` are appended (a list may
 * span several fields, RFC 9651 section 3.1, so two limits in a row both show); others are set.
 * A response whose headers are immutable (one from `fetch`) is copied, its body streamed through.
 */
export function withRateLimitHeaders(
  response: Response,
  headers: Readonly<Record<string, string>>,
): Response {
  const apply = (target: Headers): void => {
    for (const [name, value] of Object.entries(headers)) {
      if (name === RATELIMIT_FIELD || name === RATELIMIT_POLICY_FIELD) target.append(name, value);
      else target.set(name, value);
    }
  };
  try {
    apply(response.headers);
    return response;
  } catch {
    // Immutable headers (a fetch response, Response.error()): answer a copy.
    const copy = new Response(response.body, response);
    apply(copy.headers);
    return copy;
  }
}
