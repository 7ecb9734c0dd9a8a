/**
 * `createRateLimit` (issue 13): fair use for a web-standard handler. Each request takes one from
 * its key's quota (GCRA, `gcra.ts`); over the limit it is answered `429` problem+json with
 * `Retry-After`, and every answer, allowed or not, carries the `RateLimit-Policy` and
 * `RateLimit` fields of draft-ietf-httpapi-ratelimit-headers-11. Framework adapters wrap
 * `handle`. See docs/rate-limit.md.
 */
import { createQuota, type Quota, type QuotaDecision } from "./quota.ts";
import { rateLimitedDetail, rateLimitProblem } from "./rate-limit-problems.ts";
import {
  resolveRateLimitOptions,
  type RateLimitOptions,
  type ResolvedRateLimitOptions,
} from "./rate-limit-options.ts";
import { withRateLimitHeaders, type QuotaPolicy } from "./ratelimit-fields.ts";

/** The next handler: what runs when a request is within its quota. */
export type NextHandler = (request: Request) => Promise<Response>;

/** The middleware: a web-standard core that framework adapters wrap. */
export interface RateLimit {
  /** The policy, as the `RateLimit-Policy` field shows it. */
  readonly policy: QuotaPolicy;
  /**
   * Answers `request`: `next`'s response with the rate limit fields added when its key has
   * quota left, else `429` with `Retry-After`. A request whose `key` is `undefined` goes
   * straight to `next`, untouched.
   */
  handle(request: Request, next: NextHandler): Promise<Response>;
  /** Takes one request from `key`'s quota without HTTP (see `Quota.check`). */
  check(key: string): Promise<QuotaDecision>;
  /** Stops the background purge and closes a store opened from a URL. */
  close(): Promise<void>;
}

/**
 * The rate limit middleware on `options.store`. Opens (and prepares) a store given as a URL:
 * rejects with `InvalidOptionError` for a wrong option, and with `StoreError` `connect_failed`
 * when the store cannot be opened.
 *
 * @example
 * const rateLimit = await createRateLimit({
 *   store: "redis://127.0.0.1:6379", // or memory, sqlite:..., postgres://...
 *   key: (req) => req.headers.get("authorization") ?? undefined, // whose quota
 *   limit: 100,
 *   window: "1m",
 * });
 * const response = await rateLimit.handle(request, (req) => handler(req));
 */
export async function createRateLimit(options: RateLimitOptions): Promise<RateLimit> {
  // Checked before a store is opened (createQuota checks the quota's own options first too).
  const http = resolveRateLimitOptions(options);
  return new RateLimitMiddleware(await createQuota(options), http, options);
}

class RateLimitMiddleware implements RateLimit {
  readonly policy: QuotaPolicy;
  readonly #quota: Quota;
  readonly #options: ResolvedRateLimitOptions;
  readonly #onEvent: NonNullable<RateLimitOptions["onEvent"]>;

  constructor(quota: Quota, options: ResolvedRateLimitOptions, given: RateLimitOptions) {
    this.policy = quota.policy;
    this.#quota = quota;
    this.#options = options;
    this.#onEvent = given.onEvent ?? (() => undefined);
  }

  async handle(request: Request, next: NextHandler): Promise<Response> {
    const o = this.#options;
    const key = await o.key(request);
    if (key === undefined) return await next(request);
    let decision: QuotaDecision;
    try {
      decision = await this.#quota.check(key);
    } catch (error) {
      this.#onEvent({ type: "rate-limit:store-failed", error });
      if (o.whenStoreFails === "allow") return await next(request);
      return rateLimitProblem(
        "store_unavailable",
        "The rate limit store could not be reached, so the request was not run; retry it in a second.",
        o.docsUrl,
        { "retry-after": "1" },
      );
    }
    if (!decision.allowed) {
      return rateLimitProblem(
        "rate_limited",
        rateLimitedDetail(this.policy, decision.retryAfterSeconds ?? 1),
        o.docsUrl,
        decision.headers,
        { "violated-policies": [this.policy.name] },
      );
    }
    return withRateLimitHeaders(await next(request), decision.headers);
  }

  check(key: string): Promise<QuotaDecision> {
    return this.#quota.check(key);
  }

  close(): Promise<void> {
    return this.#quota.close();
  }
}
