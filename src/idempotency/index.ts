/**
 * `steadfast/idempotency`: server-side idempotency for your own API (issue 13), after the IETF
 * `Idempotency-Key` draft (draft-ietf-httpapi-idempotency-key-header-06): a web-standard
 * `handle(request, next)` on SQLite, PostgreSQL or Redis, its adapters for Hono, Express, Fastify
 * and node:http, and the conformance check. See docs/idempotency.md.
 */
export type { Clock, Random } from "../core/ports.ts";
export {
  readIdempotencyKeyHeader,
  idempotencyKeyProblem,
  MAX_IDEMPOTENCY_KEY_LENGTH,
  type IdempotencyKeyReading,
  type IdempotencyKeyRules,
} from "../core/idempotency-key.ts";

export { createIdempotency, type Idempotency, type NextHandler } from "./create-idempotency.ts";
export {
  checkIdempotency,
  type CheckResult,
  type IdempotencyCheckOptions,
} from "./conformance-check.ts";
export {
  expressIdempotency,
  fastifyIdempotency,
  honoIdempotency,
  nodeIdempotency,
} from "./framework-adapters.ts";
export type {
  IdempotencyEvent,
  IdempotencyOptions,
  StoredOutcomes,
} from "./idempotency-options.ts";
export {
  IDEMPOTENCY_PROBLEMS,
  idempotencyProblemType,
  type IdempotencyProblemCode,
} from "./idempotency-problems.ts";
export {
  FINGERPRINT_ALGORITHMS,
  requestFingerprint,
  type Fingerprint,
  type FingerprintInput,
} from "../exchange/request-fingerprint.ts";
export { scopeId, type ScopeInput } from "./scope.ts";
export {
  decideClaim,
  type ClaimDecision,
  type ClaimInput,
  type CompletedRecord,
  type IdempotencyRecord,
  type InFlightRecord,
} from "./record-state.ts";
export {
  DEFAULT_REPLAYED_HEADERS,
  REPLAYED_HEADER,
  type StoredResponse,
} from "./stored-response.ts";
export type { IdempotencyStore, VersionedRecord } from "./idempotency-store.ts";
export { IdempotencyLedger, type ClaimOutcome, type LedgerTimes } from "./record-ledger.ts";
export { openIdempotencyStore } from "./stores/open-idempotency-store.ts";
export {
  SqliteIdempotencyStore,
  type SqliteIdempotencyStoreOptions,
} from "./stores/sqlite-idempotency-store.ts";
export {
  PostgresIdempotencyStore,
  type PostgresIdempotencyStoreOptions,
} from "./stores/postgres-idempotency-store.ts";
export {
  RedisIdempotencyStore,
  type RedisIdempotencyStoreOptions,
} from "./stores/redis-idempotency-store.ts";
