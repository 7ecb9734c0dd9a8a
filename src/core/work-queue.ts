/**
 * The work-queue role of the `Store` port: how the engines of every process sharing a store take
 * due work, hold it under a lease (fenced by a token), give it back, hold it for its destination,
 * and learn of new work.
 */
import type { CallRecord, WaitCode, WaitingFor } from "./call.ts";
import type { CreateCallResult, NewCall } from "./call-log.ts";
import type { CallId, WorkerId } from "./ids.ts";

/** A claimed call: the engine owns it until `leaseExpiresAt`, proven by `leaseToken`. */
export interface Claim {
  call: CallRecord;
  /** Fencing token: every write about this claim is conditional on it. */
  leaseToken: number;
  leaseExpiresAt: number;
  /**
   * Why the call was waiting when claimed, when its destination held it (`deferCall`): a call
   * held `rate_limited` until a slot reserved for it is sent on that slot by whichever process
   * claims it. Absent for a woken call (`wakeDestination` clears the code).
   */
  heldFor?: WaitCode;
  /**
   * True when this claim took the call over from an owner whose lease expired or was ended
   * (`stopWorkers`), recording the attempt it had cut off (see `claimDue`).
   */
  takenOver?: true;
}

/** Identifies a claim in conditional writes. */
export interface ClaimRef {
  callId: CallId;
  leaseToken: number;
}

/** The claim a call is created under (`createClaimedCall`): its creator's engine and lease. */
export interface InitialClaim {
  workerId: WorkerId;
  leaseExpiresAt: number;
}

/** Due work, its leases and its wake-ups, shared by every engine on the store. */
export interface WorkQueue {
  /**
   * Creates a call already claimed by `claim.workerId` (status `running`, lease token 1, lease
   * until `claim.leaseExpiresAt`), so the engine of the process that accepted it runs it without
   * a claim of its own. When a live call holds its idempotency key, nothing is written and that
   * call comes back (`created: false`), as with `createCall`. Other processes are not woken for
   * it (it is nobody else's until its lease ends); if its creator dies, it is taken over like any
   * claimed call (`claimDue`, `stopWorkers`).
   */
  createClaimedCall(call: NewCall, claim: InitialClaim): Promise<CreateCallResult>;
  /**
   * Claims up to `limit` due calls: queued or waiting with `runAt <= now`, or running with an
   * expired lease. Each claim increments the call's lease token and sets it `running`.
   * Earliest `runAt` first.
   *
   * A running call with an expired lease is taken over: in the same write, its cut-off attempt is
   * recorded (number `attempts + 1`, started at its previous claim's time, `durationMs` until
   * now, `sent`, outcome and decision from `takenOverAttempt(workerId)`), and `attempts`,
   * `attemptBase` and `crashesInARow` each count it (an interrupted attempt is not counted
   * against `maxAttempts`), so the returned call's next attempt is `attempts + 1` as usual. An
   * attempt row already holding that number (an inconsistent log) is left as it is rather than
   * failing the claim: one bad row must never stop every claim.
   */
  claimDue(query: {
    now: number;
    limit: number;
    leaseMs: number;
    workerId: WorkerId;
  }): Promise<Claim[]>;
  /** Earliest time any call becomes claimable (a due `runAt` or a lease expiry), if any. */
  nextWakeAt(): Promise<number | undefined>;
  /**
   * Extends leases still held: a lease whose token still matches is renewed even past its expiry,
   * as long as no one has reclaimed the call (the token, not the time, decides ownership).
   * Returns the refs that are no longer held.
   */
  renewLeases(refs: readonly ClaimRef[], leaseExpiresAt: number, now: number): Promise<ClaimRef[]>;
  /** Gives claims back without an attempt (graceful shutdown): they become due at `now`. */
  releaseClaims(refs: readonly ClaimRef[], now: number): Promise<void>;

  /**
   * Holds a claimed call without an attempt (its destination's breaker is open, it is paused, or
   * a limit or the retry budget holds it): `running -> waiting` until `runAt`, with `waitingFor`
   * as its wait code, message and destination. Records no attempt and leaves `attempts` as is;
   * the lease ends. Only if `ref.leaseToken` still owns the running call; returns false (writing
   * nothing) otherwise.
   */
  deferCall(ref: ClaimRef, runAt: number, waitingFor: WaitingFor, now: number): Promise<boolean>;
  /**
   * Makes every call that `deferCall` holds for `destination` (waiting, with that
   * `waitDestination`) due at `now`, if it was due later: the destination recovered or was reset.
   * Retry backoffs are not touched. Returns how many calls were woken.
   */
  wakeDestination(destination: string, now: number): Promise<number>;

  /**
   * Subscribes to work committed by other processes sharing this store: `listener` gets the
   * earliest `runAt` of the new work, so an idle engine starts it within milliseconds. Returns a
   * function that unsubscribes (calling it again does nothing).
   *
   * A wake-up, never the guarantee: the engine also reads `nextWakeAt` every heartbeat interval,
   * which bounds how late it learns of work whatever the store. PostgreSQL delivers through
   * LISTEN/NOTIFY (and after a reconnection, the work committed while it was deaf). SQLite has
   * no channel between the processes that open one file, and calls no listener: there the
   * periodic read is how another process's work is found.
   */
  subscribe(listener: (runAt: number) => void): () => void;
}
