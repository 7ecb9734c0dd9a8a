/**
 * The transitions of `record-state.ts` applied to a store (issue 13): read the record, decide,
 * compare-and-set; on a lost compare-and-set, read again and decide again. A claim that keeps
 * losing is answered as in flight (409), never as an error: a lost race is a 409 or a replay.
 */
import { StoreError } from "../core/errors.ts";
import { ulid } from "../core/ids.ts";
import type { Clock, Random } from "../core/ports.ts";
import type { Fingerprint } from "../exchange/request-fingerprint.ts";
import type { IdempotencyStore, VersionedRecord } from "./idempotency-store.ts";
import {
  completeLease,
  decideClaim,
  extendLease,
  isHeldBy,
  type CompletedRecord,
  type IdempotencyRecord,
} from "./record-state.ts";
import type { StoredResponse } from "./stored-response.ts";

/** Most compare-and-set rounds one operation makes before it gives up. */
const MAX_ROUNDS = 16;

/** What a claim came to, for the middleware. */
export type ClaimOutcome =
  | { readonly outcome: "claimed"; readonly leaseToken: string }
  | { readonly outcome: "replay"; readonly record: CompletedRecord }
  | { readonly outcome: "in-flight"; readonly leaseExpiresAt: number | undefined }
  | { readonly outcome: "mismatch"; readonly state: IdempotencyRecord["state"] };

/** Lease and retention of a ledger, ms. */
export interface LedgerTimes {
  /** How long a claim holds the key unless extended. */
  readonly leaseMs: number;
  /** How long a record is kept after its lease runs out or its outcome is stored. */
  readonly retentionMs: number;
}

/** The idempotency records of one store, moved through their states atomically. */
export class IdempotencyLedger {
  readonly #store: IdempotencyStore;
  readonly #clock: Clock;
  readonly #random: Random;
  readonly #times: LedgerTimes;

  constructor(store: IdempotencyStore, clock: Clock, random: Random, times: LedgerTimes) {
    this.#store = store;
    this.#clock = clock;
    this.#random = random;
    this.#times = times;
  }

  /** Claims `scope` for a request with `fingerprint` (see `decideClaim`). */
  async claim(scope: string, fingerprint: Fingerprint): Promise<ClaimOutcome> {
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const current = await this.#store.read(scope);
      const now = this.#clock.now();
      const leaseToken = ulid(now, this.#random);
      const decision = decideClaim(current?.record, {
        ...this.#times,
        fingerprint,
        now,
        leaseToken,
      });
      if (decision.outcome !== "claimed") return decision;
      if (await this.#write(scope, current, decision.record, now)) {
        return { outcome: "claimed", leaseToken };
      }
    }
    // Writers kept changing the record under us: someone holds or keeps taking the key.
    return { outcome: "in-flight", leaseExpiresAt: undefined };
  }

  /** Extends holder `leaseToken`'s lease; `false` when the lease is no longer its. */
  async extend(scope: string, leaseToken: string): Promise<boolean> {
    return await this.#transition(scope, "extend", (current, now) =>
      extendLease(current, leaseToken, now, this.#times.leaseMs, this.#times.retentionMs),
    );
  }

  /** Stores `response` as the outcome of holder `leaseToken`'s request; `false` when not its. */
  async complete(scope: string, leaseToken: string, response: StoredResponse): Promise<boolean> {
    return await this.#transition(scope, "complete", (current, now) =>
      completeLease(current, leaseToken, response, now, this.#times.retentionMs),
    );
  }

  /**
   * Deletes holder `leaseToken`'s in-flight record (its outcome is not kept: a retry runs the
   * request again); `false` when the lease is no longer its.
   */
  async release(scope: string, leaseToken: string): Promise<boolean> {
    return await this.#transition(scope, "release", (current) =>
      isHeldBy(current, leaseToken) ? null : undefined,
    );
  }

  /**
   * Applies `next` (the new record, `null` to delete, `undefined` when the caller lost the lease)
   * with compare-and-set rounds.
   */
  async #transition(
    scope: string,
    name: string,
    next: (
      current: IdempotencyRecord | undefined,
      now: number,
    ) => IdempotencyRecord | null | undefined,
  ): Promise<boolean> {
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const current = await this.#store.read(scope);
      const now = this.#clock.now();
      const record = next(current?.record, now);
      if (record === undefined) return false;
      if (await this.#write(scope, current, record ?? undefined, now)) return true;
    }
    throw new StoreError(
      "write_conflict",
      `The idempotency record's ${name} lost ${MAX_ROUNDS} compare-and-set rounds in a row to other writers.`,
    );
  }

  async #write(
    scope: string,
    current: VersionedRecord | undefined,
    record: IdempotencyRecord | undefined,
    now: number,
  ): Promise<boolean> {
    const next = record === undefined ? undefined : { record, version: ulid(now, this.#random) };
    return await this.#store.compareAndSet(scope, current?.version, next, now);
  }
}
