/**
 * The `application/problem+json` answers (RFC 9457) of the rate limit, with their status and
 * title from the one table (`core/problem-kinds.ts`) that Steadfast's own API answers from too.
 * The `type` is the app's rate limit documentation when configured (`docsUrl`), with the code as
 * its fragment, else Steadfast's problem type. A `429` names the policy it broke in
 * `violated-policies`, the extension member of the draft's quota-exceeded problem type
 * (draft-ietf-httpapi-ratelimit-headers-11, section 5.1).
 */
import {
  docsHelpLink,
  docsProblemType,
  PROBLEM_KINDS,
  problemJsonResponse,
  type ProblemKind,
} from "../core/problem-kinds.ts";
import type { QuotaPolicy } from "./ratelimit-fields.ts";

/** Status and title of each problem the rate limit answers. */
export const RATE_LIMIT_PROBLEMS = {
  rate_limited: PROBLEM_KINDS.rate_limited,
  store_unavailable: PROBLEM_KINDS.store_unavailable,
} as const satisfies Record<string, ProblemKind>;

/** One of `RATE_LIMIT_PROBLEMS`' codes. */
export type RateLimitProblemCode = keyof typeof RATE_LIMIT_PROBLEMS;

/** The problem type URI of `code`: `<docsUrl>#<code>`, or `https://steadfast.dev/problems/<code>`. */
export function rateLimitProblemType(
  code: RateLimitProblemCode,
  docsUrl: string | undefined,
): string {
  return docsProblemType(code, docsUrl);
}

/**
 * The `detail` of a `429`: the limit, in words, and when to come back. Steadfast's API says the
 * same (`server/tenant-rate-limit.ts`).
 *
 * @example rateLimitedDetail({ name: "default", limit: 100, windowSeconds: 60, burst: 100 }, 2)
 * // "Too many requests: the limit is 100 requests per 60 seconds (up to 100 at once); retry in 2 seconds."
 */
export function rateLimitedDetail(policy: QuotaPolicy, retryAfterSeconds: number): string {
  const per = policy.windowSeconds === 1 ? "second" : `${policy.windowSeconds} seconds`;
  const requests = policy.limit === 1 ? "request" : "requests";
  const wait = retryAfterSeconds === 1 ? "1 second" : `${retryAfterSeconds} seconds`;
  return `Too many requests: the limit is ${policy.limit} ${requests} per ${per} (up to ${policy.burst} at once); retry in ${wait}.`;
}

/** The problem answer of `code` with `detail`, extension `members`, and `headers` added. */
export function rateLimitProblem(
  code: RateLimitProblemCode,
  detail: string,
  docsUrl: string | undefined,
  headers: Readonly<Record<string, string>> = {},
  members: Readonly<Record<string, unknown>> = {},
): Response {
  const { status, title } = RATE_LIMIT_PROBLEMS[code];
  const type = rateLimitProblemType(code, docsUrl);
  const link = docsHelpLink(docsUrl);
  return problemJsonResponse(
    { type, title, status, detail, code, ...members },
    { ...headers, ...link },
  );
}
