/**
 * The rate limit of Steadfast's own API (issue 13): every authenticated `/v1` request takes one
 * from its tenant's quota, with the same code users get from `steadfast/rate-limit` (`Quota`:
 * GCRA in the store, the draft's fields). Over the limit: `429 rate_limited` from the one
 * problem table, with `Retry-After`; every answer, allowed or not, carries `RateLimit-Policy` and
 * `RateLimit`. Off unless configured (`--rate-limit`, `STEADFAST_RATE_LIMIT`).
 */
import type { MiddlewareHandler } from "hono";
import type { Logger } from "pino";
import type { Duration } from "../core/duration.ts";
import type { Clock } from "../core/ports.ts";
import { createQuota, type Quota } from "../rate-limit/quota.ts";
import { rateLimitedDetail } from "../rate-limit/rate-limit-problems.ts";
import { problemResponse } from "./problem.ts";
import type { ServerEnv } from "./server-env.ts";

/** The policy name the API's fields show: each tenant has its own quota under it. */
export const TENANT_POLICY_NAME = "tenant";

/** The server's rate limit setting (`ServerConfig.rateLimit`). */
export interface TenantRateLimitConfig {
  /** Requests per `window`, per tenant. */
  limit: number;
  /** A whole number of seconds (`"1m"`, or ms). */
  window: Duration;
  /** Requests a tenant may send back to back. Default `limit`. */
  burst?: number;
  /**
   * Where the tenants' buckets live (a `steadfast/rate-limit` store URL). Default: the database
   * itself when it is PostgreSQL (every process of the fleet shares the limit), else `memory`
   * (this process).
   */
  store?: string;
}

/** The store URL of `config`: its own, else the PostgreSQL database `db`, else `memory`. */
export function tenantRateLimitStore(config: TenantRateLimitConfig, db: string): string {
  if (config.store !== undefined) return config.store;
  return /^postgres(ql)?:\/\//i.test(db) ? db : "memory";
}

/**
 * Opens the tenants' quota of `config` (on `tenantRateLimitStore`), its background events
 * logged. Rejects with `InvalidOptionError` for a wrong setting, `StoreError` when its store
 * cannot be opened.
 */
export function openTenantQuota(
  config: TenantRateLimitConfig,
  db: string,
  clock: Clock,
  logger: Logger,
): Promise<Quota> {
  return createQuota({
    store: tenantRateLimitStore(config, db),
    limit: config.limit,
    window: config.window,
    ...(config.burst === undefined ? {} : { burst: config.burst }),
    name: TENANT_POLICY_NAME,
    clock,
    onEvent: (event) => {
      if (event.type === "rate-limit:purge-failed")
        logger.warn({ err: event.error }, "rate limit purge failed");
    },
  });
}

/**
 * Limits each tenant's requests by `quota` (after `requireApiKey`, which sets the tenant). A
 * store that fails lets the request through, logged at warn: a limit's outage should not take
 * the API down with it.
 */
export function limitTenants(quota: Quota, logger: Logger): MiddlewareHandler<ServerEnv> {
  return async (c, next) => {
    let decision;
    try {
      decision = await quota.check(c.get("tenantId"));
    } catch (error) {
      logger.warn(
        { err: error, requestId: c.get("requestId") },
        "rate limit store failed; request let through",
      );
      await next();
      return;
    }
    if (!decision.allowed) {
      return problemResponse(c, "rate_limited", {
        detail: rateLimitedDetail(quota.policy, decision.retryAfterSeconds ?? 1),
        headers: { ...decision.headers },
        violatedPolicies: [quota.policy.name],
      });
    }
    await next();
    // Appended: a list may span several fields (RFC 9651 section 3.1), should a route add its own.
    for (const [name, value] of Object.entries(decision.headers))
      c.header(name, value, { append: true });
  };
}
