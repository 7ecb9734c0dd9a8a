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
  /**
   * What each lease this ledger holds last wrote (by lease token), so that extending, completing
   * or releasing it is one compare-and-set instead of a read and one. Forgotten on completion
   * and release.
   */
  readonly #held = new Map<string, VersionedRecord>();

  constructor(store: IdempotencyStore, clock: Clock, random: Random, times: LedgerTimes) {
    this.#store = store;
    this.#clock = clock;
    this.#random = random;
    this.#times = times;
  }

  /**
   * Claims `scope` for a request with `fingerprint` (see `decideClaim`). On a store with
   * `claimIfAbsent`, a new key costs that one operation; other cases read and compare-and-set.
   */
  async claim(scope: string, fingerprint: Fingerprint): Promise<ClaimOutcome> {
    if (this.#store.claimIfAbsent !== undefined) {
      const now = this.#clock.now();
      const leaseToken = ulid(now, this.#random);
      const input = { ...this.#times, fingerprint, now, leaseToken };
      const fresh = decideClaim(undefined, input);
      if (fresh.outcome === "claimed") {
        const next = { record: fresh.record, version: ulid(now, this.#random) };
        const current = await this.#store.claimIfAbsent(scope, next, now);
        if (current === undefined) {
          this.#held.set(leaseToken, next);
          return { outcome: "claimed", leaseToken };
        }
        if (current !== null) {
          const decision = decideClaim(current.record, input);
          if (decision.outcome !== "claimed") return decision;
          // An expired lease or a record past its retention: taken over by compare-and-set.
          if (await this.#write(scope, current, decision.record, now, leaseToken, true)) {
            return { outcome: "claimed", leaseToken };
          }
        }
      }
    }
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
      if (await this.#write(scope, current, decision.record, now, leaseToken, true)) {
        return { outcome: "claimed", leaseToken };
      }
    }
    // Writers kept changing the record under us: someone holds or keeps taking the key.
    return { outcome: "in-flight", leaseExpiresAt: undefined };
  }

  /** Extends holder `leaseToken`'s lease; `false` when the lease is no longer its. */
  async extend(scope: string, leaseToken: string): Promise<boolean> {
    return await this.#transition(scope, leaseToken, "extend", (current, now) =>
      extendLease(current, leaseToken, now, this.#times.leaseMs, this.#times.retentionMs),
    );
  }

  /** Stores `response` as the outcome of holder `leaseToken`'s request; `false` when not its. */
  async complete(scope: string, leaseToken: string, response: StoredResponse): Promise<boolean> {
    try {
      return await this.#transition(scope, leaseToken, "complete", (current, now) =>
        completeLease(current, leaseToken, response, now, this.#times.retentionMs),
      );
    } finally {
      this.#held.delete(leaseToken);
    }
  }

  /**
   * Deletes holder `leaseToken`'s in-flight record (its outcome is not kept: a retry runs the
   * request again); `false` when the lease is no longer its.
   */
  async release(scope: string, leaseToken: string): Promise<boolean> {
    try {
      return await this.#transition(scope, leaseToken, "release", (current) =>
        isHeldBy(current, leaseToken) ? null : undefined,
      );
    } finally {
      this.#held.delete(leaseToken);
    }
  }

  /**
   * Applies `next` (the new record, `null` to delete, `undefined` when the caller lost the lease)
   * with compare-and-set rounds. The first round starts from the record holder `leaseToken` last
   * wrote, without a read; when that is stale its compare-and-set fails and the rounds read.
   */
  async #transition(
    scope: string,
    leaseToken: string,
    name: string,
    next: (
      current: IdempotencyRecord | undefined,
      now: number,
    ) => IdempotencyRecord | null | undefined,
  ): Promise<boolean> {
    let guess = this.#held.get(leaseToken);
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const current = guess ?? (await this.#store.read(scope));
      const guessed = guess !== undefined;
      guess = undefined;
      const now = this.#clock.now();
      const record = next(current?.record, now);
      if (record === undefined) {
        if (guessed) continue;
        return false;
      }
      if (await this.#write(scope, current, record ?? undefined, now, leaseToken)) return true;
    }
    throw new StoreError(
      "write_conflict",
      `The idempotency record's ${name} lost ${MAX_ROUNDS} compare-and-set rounds in a row to other writers.`,
    );
  }

  // Writes `record` over `current`; remembers what holder `leaseToken` wrote while it is in flight.
  async #write(
    scope: string,
    current: VersionedRecord | undefined,
    record: IdempotencyRecord | undefined,
    now: number,
    leaseToken: string,
    claiming = false,
  ): Promise<boolean> {
    const next = record === undefined ? undefined : { record, version: ulid(now, this.#random) };
    if (!(await this.#store.compareAndSet(scope, current?.version, next, now))) return false;
    if (next === undefined || !isHeldBy(next.record, leaseToken)) this.#held.delete(leaseToken);
    // A claim, or an extension of a lease not completed or released meanwhile.
    else if (claiming || this.#held.has(leaseToken)) this.#held.set(leaseToken, next);
    return true;
  }
}
