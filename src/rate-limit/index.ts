/**
 * `steadfast/rate-limit`: fair use for your own API (issue 13). A web-standard
 * `handle(request, next)` that framework adapters wrap: GCRA per key (`limit` per `window`,
 * `burst` back to back), `429` problem+json with `Retry-After` over the limit, and the
 * `RateLimit-Policy` / `RateLimit` fields of draft-ietf-httpapi-ratelimit-headers-11 on every
 * answer; in memory, or shared across processes on SQLite, PostgreSQL or Redis; on Hono, Express,
 * Fastify and node:http through the adapters idempotency shares. See docs/rate-limit.md.
 */
export type { Clock } from "../core/ports.ts";
export type { Duration } from "../core/duration.ts";

export { createRateLimit, type NextHandler, type RateLimit } from "./create-rate-limit.ts";
export {
  expressRateLimit,
  fastifyRateLimit,
  honoRateLimit,
  nodeRateLimit,
} from "./framework-adapters.ts";
export { createQuota, type Quota, type QuotaDecision } from "./quota.ts";
export type { QuotaOptions, RateLimitEvent, RateLimitOptions } from "./rate-limit-options.ts";
export {
  RATE_LIMIT_PROBLEMS,
  rateLimitedDetail,
  rateLimitProblemType,
  type RateLimitProblemCode,
} from "./rate-limit-problems.ts";
export {
  POLICY_NAME_PATTERN,
  RATELIMIT_FIELD,
  RATELIMIT_POLICY_FIELD,
  rateLimitField,
  rateLimitHeaders,
  rateLimitPolicyField,
  withRateLimitHeaders,
  type QuotaPolicy,
} from "./ratelimit-fields.ts";
export {
  allowanceOf,
  gcraShape,
  gcraStep,
  gcraTake,
  type Allowance,
  type GcraOutcome,
  type GcraShape,
  type GcraStep,
} from "./gcra.ts";
export { bucketId } from "./bucket-id.ts";
export type { RateLimitStore } from "./rate-limit-store.ts";
export { openRateLimitStore } from "./stores/open-rate-limit-store.ts";
export { MemoryRateLimitStore } from "./stores/memory-rate-limit-store.ts";
export {
  SqliteRateLimitStore,
  type SqliteRateLimitStoreOptions,
} from "./stores/sqlite-rate-limit-store.ts";
export {
  PostgresRateLimitStore,
  type PostgresRateLimitStoreOptions,
} from "./stores/postgres-rate-limit-store.ts";
export {
  RedisRateLimitStore,
  type RedisRateLimitStoreOptions,
} from "./stores/redis-rate-limit-store.ts";
