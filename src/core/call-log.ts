/**
 * The call-log role of the `Store` port: calls and their attempts as the API and the engine
 * record them (create, read, commit an attempt's outcome, cancel, redrive), and the retention of
 * their idempotency keys.
 */
import type { CallId, TenantId } from "./ids.ts";
import type {
  AttemptRecord,
  CallError,
  CallKind,
  CallRecord,
  CallSpec,
  CallStatus,
  StoredResponse,
} from "./call.ts";
import type { ClaimRef } from "./work-queue.ts";

/** A call to create. */
export interface NewCall {
  id: CallId;
  tenantId: TenantId;
  kind: CallKind;
  parentId?: CallId;
  spec: CallSpec;
  idempotencyKey?: string;
  fingerprint?: string;
  forwardedKey: string;
  /** When the first attempt is due (`createdAt + delayMs`). */
  runAt: number;
  deadlineAt?: number;
  createdAt: number;
}

/**
 * Result of `createCall`. When a live call of the same tenant already holds the idempotency key,
 * nothing is written and that call comes back with `created: false`; the caller compares
 * fingerprints.
 */
export type CreateCallResult =
  { created: true; call: CallRecord } | { created: false; call: CallRecord };

/** Where a call goes after an attempt. */
export type CallTransition =
  | { status: "waiting"; runAt: number; reason: string }
  | { status: "succeeded"; response: StoredResponse; idempotencyExpiresAt: number }
  | { status: "failed"; error: CallError; response?: StoredResponse; idempotencyExpiresAt: number };

/** One attempt's outcome, committed atomically with the call's transition. */
export interface AttemptCommit extends ClaimRef {
  attempt: AttemptRecord;
  transition: CallTransition;
  now: number;
  /** Created in the same transaction when the call ends (its callback delivery). */
  followUp?: NewCall;
}

/**
 * A call's callback delivery: the `callback` call that carries its signed end-of-call `POST`,
 * and that delivery's latest attempt.
 */
export interface CallbackDelivery {
  call: CallRecord;
  /** The attempt numbered `call.attempts`; absent before the first attempt. */
  lastAttempt?: AttemptRecord;
}

/** Result of a cancel or redrive request. */
export type ControlResult =
  | { type: "ok"; call: CallRecord }
  | { type: "not_found" }
  | { type: "invalid_state"; call: CallRecord };

/** Query for `listCalls`. Newest first. */
export interface ListCallsQuery {
  status?: CallStatus;
  /** Defaults to `call`: callback deliveries are internal. */
  kind?: CallKind;
  limit: number;
  /** Return calls strictly older (smaller id) than this one. */
  before?: CallId;
}

/** Calls, their attempts and their outcomes. */
export interface CallLog {
  /** Creates a call, or returns the live call already holding its idempotency key. */
  createCall(call: NewCall): Promise<CreateCallResult>;
  /** Creates many calls in one transaction (benchmarks, bulk submit). Same semantics per call. */
  createCalls(calls: readonly NewCall[]): Promise<CreateCallResult[]>;
  /** A tenant's call by id. */
  getCall(tenantId: TenantId, id: CallId): Promise<CallRecord | undefined>;
  /** A tenant's calls, newest first. */
  listCalls(tenantId: TenantId, query: ListCallsQuery): Promise<CallRecord[]>;
  /**
   * The newest callback delivery of the tenant's call `parentId` (the `callback` call created when
   * it last ended), with its latest attempt; `undefined` when there is none (the call has not
   * ended, had no callback URL, or is not the tenant's). One indexed read, whatever the number of
   * calls: `GET /v1/calls/:id` makes it for every call with a callback URL that has ended.
   */
  getCallbackDelivery(tenantId: TenantId, parentId: CallId): Promise<CallbackDelivery | undefined>;
  /** A tenant call's attempts in order, or `undefined` when the call is not the tenant's. */
  listAttempts(tenantId: TenantId, id: CallId): Promise<AttemptRecord[] | undefined>;

  /**
   * Records an attempt and moves the call, only if `leaseToken` still owns it. Returns false (and
   * writes nothing) when the lease was lost: the call was cancelled or another engine took it over.
   * `attempts` becomes the attempt's number; an `interrupted` attempt (a graceful stop's) also
   * adds one to `attemptBase` (it is not counted against `maxAttempts`) and leaves
   * `crashesInARow` as it is; any other attempt completed, and sets `crashesInARow` to 0.
   */
  commitAttempt(commit: AttemptCommit): Promise<boolean>;

  /** Cancels a queued, waiting or running call (a running one's lease is revoked). */
  cancelCall(
    tenantId: TenantId,
    id: CallId,
    now: number,
    idempotencyExpiresAt: number,
  ): Promise<ControlResult>;
  /**
   * Redrives a failed call (back to `queued`, a fresh attempt budget and deadline:
   * `attemptBase = attempts`, `crashesInARow = 0`) or makes a waiting call due now. Other states
   * are `invalid_state`.
   */
  retryCall(
    tenantId: TenantId,
    id: CallId,
    now: number,
    deadlineAt: number | undefined,
  ): Promise<ControlResult>;
  /** Releases idempotency keys whose retention ended before `now`. Returns how many. */
  purgeExpiredIdempotencyKeys(now: number): Promise<number>;
}
