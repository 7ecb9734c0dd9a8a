/**
 * The options of `createQuota` and `createRateLimit` (issue 13), their defaults, and their
 * checks: a mistake is reported when the limit is made, naming the option, the value and the fix.
 */
import { MAX_DURATION_MS, parseDuration, type Duration } from "../core/duration.ts";
import type { Clock } from "../core/ports.ts";
import { check, wholeNumberOption } from "../resilience/policy.ts";
import { systemClock } from "../resilience/system.ts";
import { gcraShape, type GcraShape } from "./gcra.ts";
import type { RateLimitStore } from "./rate-limit-store.ts";
import { POLICY_NAME_PATTERN, type QuotaPolicy } from "./ratelimit-fields.ts";

/** What a limit reports that no response shows. */
export type RateLimitEvent =
  | { readonly type: "rate-limit:purged"; readonly count: number }
  | { readonly type: "rate-limit:purge-failed"; readonly error: unknown }
  /** The store failed a request's step: it was let through, or answered `503` (`whenStoreFails`). */
  | { readonly type: "rate-limit:store-failed"; readonly error: unknown };

/** Options of `createQuota`: a quota policy on a store, without HTTP. */
export interface QuotaOptions {
  /**
   * Where buckets are kept: `memory` (default: this process only), `sqlite:<path>`,
   * `postgres://...[?schema=name]` (schema `steadfast` by default), `redis://...[?prefix=name]`,
   * or a `RateLimitStore`. A store opened from a URL is closed by `close()`; one passed in is the
   * caller's to close.
   */
  store?: string | RateLimitStore;
  /** Requests allowed per `window`: the long-run rate. A positive whole number. */
  limit: number;
  /** The window of `limit`: a whole number of seconds, at least one (`"1s"`, `"1m"`, `"1h"`, or ms). */
  window: Duration;
  /** Requests allowed back to back after a quiet spell. Default `limit`. */
  burst?: number;
  /** The policy's name in `RateLimit-Policy` and `RateLimit`, and its buckets' namespace. Default `"default"`. */
  name?: string;
  /** How often full buckets are purged from the store, ms; 0 turns the purge off. Default 60,000. */
  purgeIntervalMs?: number;
  /** Most buckets one purge statement deletes. Default 1,000. */
  purgeBatchSize?: number;
  /** Time. Default the system clock. */
  clock?: Clock;
  /** Receives what no response shows (purges, store failures). */
  onEvent?: (event: RateLimitEvent) => void;
}

/** Options of `createRateLimit`: a quota, and how requests map onto it. */
export interface RateLimitOptions extends QuotaOptions {
  /**
   * Whose quota a request uses: the authenticated user, the API key, the tenant, the client's
   * address. `undefined` exempts the request (no limit, no headers). Hashed before it is stored.
   */
  key: (request: Request) => string | undefined | Promise<string | undefined>;
  /**
   * What a request gets when the store fails: `"allow"` (default: it goes through, without
   * rate limit headers, and `rate-limit:store-failed` is reported) or `"refuse"` (`503
   * store_unavailable` with `Retry-After: 1`).
   */
  whenStoreFails?: "allow" | "refuse";
  /**
   * Your rate limit documentation: problem types become `<docsUrl>#<code>` and problems carry
   * `Link: <docsUrl>; rel="help"`. Default: Steadfast's problem types, no link.
   */
  docsUrl?: string;
}

/** `QuotaOptions` with every default applied, checked. */
export interface ResolvedQuotaOptions {
  readonly policy: QuotaPolicy;
  readonly shape: GcraShape;
  readonly purgeIntervalMs: number;
  readonly purgeBatchSize: number;
  readonly clock: Clock;
  readonly onEvent: (event: RateLimitEvent) => void;
}

/** `RateLimitOptions` with every default applied, checked. */
export interface ResolvedRateLimitOptions {
  readonly key: (request: Request) => string | undefined | Promise<string | undefined>;
  readonly whenStoreFails: "allow" | "refuse";
  readonly docsUrl: string | undefined;
}

const WHO = "createRateLimit";

function positiveInteger(value: number, name: string, allowZero = false): number {
  return wholeNumberOption(value, WHO, name, allowZero);
}

/** `options` with defaults applied; throws `InvalidOptionError` naming a wrong option. */
export function resolveQuotaOptions(options: QuotaOptions): ResolvedQuotaOptions {
  const limit = positiveInteger(options.limit, "limit");
  const windowMs = parseDuration(options.window, `${WHO}: window`);
  check(
    windowMs >= 1_000 && windowMs % 1_000 === 0,
    WHO,
    `window must be a whole number of seconds, at least one (the RateLimit fields count in seconds), such as "1s", "1m" or "1h"; got ${JSON.stringify(options.window)}`,
  );
  const burst = positiveInteger(options.burst ?? limit, "burst");
  const name = options.name ?? "default";
  check(
    POLICY_NAME_PATTERN.test(name),
    WHO,
    `name must be 1 to 64 letters, digits, ".", "_" or "-", such as "per-user"; got ${JSON.stringify(name)}`,
  );
  const shape = gcraShape(limit, windowMs, burst);
  check(
    shape.capacityUs <= MAX_DURATION_MS * 1_000,
    WHO,
    `burst ${burst} at ${limit} per ${windowMs / 1_000} s takes more than 366 days to refill; use a smaller burst`,
  );
  return {
    policy: { name, limit, windowSeconds: windowMs / 1_000, burst },
    shape,
    purgeIntervalMs: positiveInteger(options.purgeIntervalMs ?? 60_000, "purgeIntervalMs", true),
    purgeBatchSize: positiveInteger(options.purgeBatchSize ?? 1_000, "purgeBatchSize"),
    clock: options.clock ?? systemClock,
    onEvent: options.onEvent ?? (() => undefined),
  };
}

function docs(url: string | undefined): string | undefined {
  if (url === undefined) return undefined;
  const parsed = URL.parse(url);
  check(
    parsed !== null && /^https?:$/.test(parsed.protocol),
    WHO,
    `docsUrl must be an absolute http(s) URL, such as https://api.example.com/docs/rate-limits; got ${JSON.stringify(url)}`,
  );
  return parsed!.href;
}

/** The HTTP options of `options`, defaults applied; throws `InvalidOptionError` naming a wrong one. */
export function resolveRateLimitOptions(options: RateLimitOptions): ResolvedRateLimitOptions {
  check(
    typeof options.key === "function",
    WHO,
    'key is required: a function of the request naming whose quota it uses, such as (req) => req.headers.get("authorization") ?? undefined',
  );
  const whenStoreFails = options.whenStoreFails ?? "allow";
  check(
    whenStoreFails === "allow" || whenStoreFails === "refuse",
    WHO,
    `whenStoreFails must be "allow" or "refuse", got ${JSON.stringify(whenStoreFails)}`,
  );
  return { key: options.key, whenStoreFails, docsUrl: docs(options.docsUrl) };
}
