/**
 * The port a rate limit keeps its buckets behind (issue 13). A store does one thing atomically:
 * apply one GCRA step (`gcra.ts`) to a bucket and answer the outcome, in one statement, one Lua
 * script or one synchronous call, so that of 100 concurrent requests against a limit of 10
 * exactly 10 are allowed, on every store and across every process sharing it. In-memory, SQLite,
 * PostgreSQL and Redis implement it (`stores/`); each passes the shared contract suite.
 */
import type { GcraOutcome, GcraStep } from "./gcra.ts";

/**
 * Where buckets live. A bucket is an opaque id (`bucketId`: 64 hex characters) and one TAT, in
 * epoch µs of the callers' clock; a store never reads a clock of its own.
 */
export interface RateLimitStore {
  /**
   * Atomically: `gcraTake(stored TAT, step)`, storing the TAT it answers when allowed, and when
   * refused if it differs from the stored one (it bounded a TAT left too far ahead). Answers the
   * outcome. A bucket past its TAT is a full one, so it may be dropped from then on.
   */
  take(bucket: string, step: GcraStep): Promise<GcraOutcome>;
  /**
   * Deletes up to `limit` buckets whose TAT is at or before `nowUs` (full again: the same as
   * absent); returns how many. A store that expires buckets itself (Redis) may return 0.
   */
  purgeExpired(nowUs: number, limit: number): Promise<number>;
  /** Releases the store's connections. Operations after it reject with `store_closed`. */
  close(): Promise<void>;
}
