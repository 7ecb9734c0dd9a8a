/**
 * The port the idempotency middleware keeps its records behind (issue 13). A store does one
 * thing atomically: replace a scope's record only if it is still the version the caller read
 * (compare-and-set). Every transition of `record-state.ts` is applied through it by
 * `IdempotencyLedger`, so a claim decided on a stale read never lands, and of 50 concurrent
 * claims of one key exactly one wins, on every store. SQLite, PostgreSQL and Redis implement it
 * (`stores/`); each passes the shared contract suite.
 */
import type { IdempotencyRecord } from "./record-state.ts";

/** A record with the version it was written under. */
export interface VersionedRecord {
  readonly record: IdempotencyRecord;
  /** Unique per write (never reused, so a deleted and re-created record is a new version). */
  readonly version: string;
}

/**
 * Where idempotency records live. Scopes are opaque ids (`scopeId`: 64 hex characters). Times
 * are epoch ms of the caller's clock; a store never reads a clock of its own.
 */
export interface IdempotencyStore {
  /** The scope's record and version, or `undefined` when there is none. */
  read(scope: string): Promise<VersionedRecord | undefined>;
  /**
   * Atomically: when the scope's current version is `expectedVersion` (`undefined`: no record),
   * writes `next` (`undefined`: deletes the record) and returns `true`; otherwise changes nothing
   * and returns `false`. `now` is the caller's time, for stores that expire records themselves.
   */
  compareAndSet(
    scope: string,
    expectedVersion: string | undefined,
    next: VersionedRecord | undefined,
    now: number,
  ): Promise<boolean>;
  /**
   * Optional fast path of a claim, one atomic operation: when the scope has no record, or only
   * one past its `purgeAt` at `now`, writes `next` and resolves `undefined`; otherwise changes
   * nothing and resolves the current record (with its version). Exactly what a compare-and-set
   * from "absent" does, without the read before it. Resolves `null` when nothing was written
   * and the store cannot tell what is there (a race it lost): the ledger then reads and decides.
   */
  claimIfAbsent?(
    scope: string,
    next: VersionedRecord,
    now: number,
  ): Promise<VersionedRecord | undefined | null>;
  /**
   * Deletes up to `limit` records whose `purgeAt` is at or before `now`; returns how many. A
   * store that expires records by itself (Redis) may return 0: a record past `purgeAt` reads as
   * absent to the ledger either way.
   */
  purgeExpired(now: number, limit: number): Promise<number>;
  /** Releases the store's connections. Operations after it reject. */
  close(): Promise<void>;
}
