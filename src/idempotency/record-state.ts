/**
 * The life of one idempotency record (issue 13), as data. One record per scope (principal,
 * method, route, key); "absent" is no record at all.
 *
 *   absent                      --claim-->            in-flight (lease token T, until now + leaseMs)
 *   in-flight (T)               --extend(T)-->        in-flight (T, until now + leaseMs)
 *   in-flight (T)               --complete(T, res)--> completed (kept until now + retentionMs)
 *   in-flight (T)               --release(T)-->       absent (the outcome is not kept: a retry runs again)
 *   in-flight, lease expired    --claim-->            in-flight (T'; the old holder is fenced out)
 *   in-flight, lease live       --claim-->            (unchanged: "in-flight", 409 or wait)
 *   completed                   --claim-->            (unchanged: "replay")
 *   any, fingerprint differs    --claim-->            (unchanged: "mismatch", 422)
 *   any, past purgeAt           --claim-->            in-flight (as absent); --purge--> absent
 *
 * Every transition is a pure function of the current record and the caller's input (time is a
 * parameter); the stores apply them with a compare-and-set on the record's version
 * (`record-ledger.ts`), so a transition decided on a stale read never lands.
 */
import type { Fingerprint } from "../exchange/request-fingerprint.ts";
import type { StoredResponse } from "./stored-response.ts";

/** A request is running under a lease: its holder (token) may extend, complete or release it. */
export interface InFlightRecord {
  readonly state: "in-flight";
  readonly fingerprint: Fingerprint;
  /** Names the holder; every later write of the holder is conditional on it (fencing). */
  readonly leaseToken: string;
  /** When the request was claimed, epoch ms. */
  readonly claimedAt: number;
  /** When the lease runs out unless extended, epoch ms; past it, the key may be claimed again. */
  readonly leaseExpiresAt: number;
  /**
   * When the record may be deleted, epoch ms: `retentionMs` after the lease runs out, so that a
   * retry of a request that died mid-handler is still held to the same fingerprint.
   */
  readonly purgeAt: number;
}

/** The request ran to an outcome worth keeping: retries replay `response`. */
export interface CompletedRecord {
  readonly state: "completed";
  readonly fingerprint: Fingerprint;
  /** When the outcome was stored, epoch ms. */
  readonly completedAt: number;
  readonly response: StoredResponse;
  /** When the record may be deleted (`completedAt + retentionMs`), epoch ms. */
  readonly purgeAt: number;
}

/** One idempotency record: one branch per state, each with only its own fields. */
export type IdempotencyRecord = InFlightRecord | CompletedRecord;

/** What a claim brings: the request's fingerprint, the time, and the lease it would take. */
export interface ClaimInput {
  readonly fingerprint: Fingerprint;
  /** Epoch ms. */
  readonly now: number;
  /** Lease length, ms. */
  readonly leaseMs: number;
  /** How long a record is kept after its lease runs out or its outcome is stored, ms. */
  readonly retentionMs: number;
  /** The new holder's token, used when the claim wins. */
  readonly leaseToken: string;
}

/** What a claim decided. Only `claimed` writes. */
export type ClaimDecision =
  | { readonly outcome: "claimed"; readonly record: InFlightRecord }
  | { readonly outcome: "replay"; readonly record: CompletedRecord }
  | { readonly outcome: "in-flight"; readonly leaseExpiresAt: number }
  | { readonly outcome: "mismatch"; readonly state: IdempotencyRecord["state"] };

/** True when the record no longer counts at `now` (its retention is over): it reads as absent. */
export function isPurgeable(record: IdempotencyRecord, now: number): boolean {
  return record.purgeAt <= now;
}

/** True when two fingerprints name the same request: same algorithm, same digest. */
export function sameFingerprint(a: Fingerprint, b: Fingerprint): boolean {
  return a.algorithm === b.algorithm && a.digest === b.digest;
}

/** A fresh lease for `input`'s holder. */
function inFlight(input: ClaimInput): InFlightRecord {
  const leaseExpiresAt = input.now + input.leaseMs;
  return {
    state: "in-flight",
    fingerprint: input.fingerprint,
    leaseToken: input.leaseToken,
    claimedAt: input.now,
    leaseExpiresAt,
    purgeAt: leaseExpiresAt + input.retentionMs,
  };
}

/**
 * The claim of a request on the record `current` (`undefined`: absent). A record past its
 * retention counts as absent; another request's fingerprint is a mismatch whatever the state
 * (the draft's 422: one key, one request); a live lease is "in-flight"; an expired one is taken
 * over (the holder died or stalled: its later writes fail, being conditional on its token).
 */
export function decideClaim(
  current: IdempotencyRecord | undefined,
  input: ClaimInput,
): ClaimDecision {
  if (current === undefined || isPurgeable(current, input.now)) {
    return { outcome: "claimed", record: inFlight(input) };
  }
  if (!sameFingerprint(current.fingerprint, input.fingerprint)) {
    return { outcome: "mismatch", state: current.state };
  }
  if (current.state === "completed") return { outcome: "replay", record: current };
  if (current.leaseExpiresAt > input.now) {
    return { outcome: "in-flight", leaseExpiresAt: current.leaseExpiresAt };
  }
  return { outcome: "claimed", record: inFlight(input) };
}

/**
 * The lease of holder `leaseToken` extended to `now + leaseMs`, or `undefined` when `current` is
 * not that holder's lease any more (taken over, released, purged). A lease that ran out but was
 * not taken over is still the holder's: extending it is safe.
 */
export function extendLease(
  current: IdempotencyRecord | undefined,
  leaseToken: string,
  now: number,
  leaseMs: number,
  retentionMs: number,
): InFlightRecord | undefined {
  if (!isHeldBy(current, leaseToken)) return undefined;
  const leaseExpiresAt = Math.max(current.leaseExpiresAt, now + leaseMs);
  return { ...current, leaseExpiresAt, purgeAt: leaseExpiresAt + retentionMs };
}

/**
 * The completed record of holder `leaseToken`'s request, or `undefined` when `current` is not
 * that holder's lease any more (the response is then not stored: another holder owns the key).
 */
export function completeLease(
  current: IdempotencyRecord | undefined,
  leaseToken: string,
  response: StoredResponse,
  now: number,
  retentionMs: number,
): CompletedRecord | undefined {
  if (!isHeldBy(current, leaseToken)) return undefined;
  return {
    state: "completed",
    fingerprint: current.fingerprint,
    completedAt: now,
    response,
    purgeAt: now + retentionMs,
  };
}

/** True when `current` is the in-flight lease of holder `leaseToken` (release may delete it). */
export function isHeldBy(
  current: IdempotencyRecord | undefined,
  leaseToken: string,
): current is InFlightRecord {
  return current?.state === "in-flight" && current.leaseToken === leaseToken;
}
