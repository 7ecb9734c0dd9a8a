/**
 * The `Store` port: everything the engine, the API and the CLI persist. `SqliteStore` and
 * `PostgresStore` implement it and pass one contract suite (`describeStoreContract`).
 *
 * Time is always passed in (`now`, `runAt`...: whole epoch milliseconds): a store never reads a
 * clock, so the contract suite is deterministic. Writes that return are committed (durable); implementations are free to group
 * concurrent writes into one transaction (group commit) as long as each caller's promise resolves
 * only after its write is durable, and one failing write does not fail the others.
 */
import type { ApiKeyRecord, NewApiKey } from "./api-key.ts";
import type { ApiKeyId, CallId, TenantId, WorkerId } from "./ids.ts";
import type { PermitGrant, PermitRequest } from "./permits.ts";
import type {
  AttemptRecord,
  CallError,
  CallKind,
  CallRecord,
  CallSpec,
  CallStatus,
  StoredResponse,
  WaitCode,
  WaitingFor,
} from "./call.ts";

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

/** Query for `listApiKeys`. */
export interface ListApiKeysQuery {
  /** Only this tenant's keys. */
  tenantId?: TenantId;
  /** Include revoked keys. Default false. */
  includeRevoked?: boolean;
}

/** Options of `Store.revokeApiKey`. */
export interface RevokeApiKeyOptions {
  /**
   * Tenants of which one active key must remain (the operator tenants), or `any` (one active key
   * of any tenant). Default: no such guard.
   */
  keepOneOf?: readonly TenantId[] | "any";
}

/** What `Store.revokeApiKey` did. */
export type RevokeApiKeyResult =
  | { type: "revoked"; key: ApiKeyRecord }
  | { type: "not_found" }
  /** Not revoked: it is the last active key of `keepOneOf`. `key` as stored, unchanged. */
  | { type: "last_operator_key"; key: ApiKeyRecord };

/** Query for `listCalls`. Newest first. */
export interface ListCallsQuery {
  status?: CallStatus;
  /** Defaults to `call`: callback deliveries are internal. */
  kind?: CallKind;
  limit: number;
  /** Return calls strictly older (smaller id) than this one. */
  before?: CallId;
}

/**
 * Optional limits of one destination, set by operators (`PUT /v1/destinations/:destination`).
 * Absent means unlimited.
 */
export interface DestinationLimits {
  /** Requests per second, > 0. */
  rateLimitPerSecond?: number;
  /** Requests in flight at once, an integer >= 1. */
  maxConcurrency?: number;
}

/** What is saved for a destination: its protection state and its limits. */
export interface DestinationDocument {
  /**
   * The protection state (breaker, pause) as the engine writes it: a JSON value the store keeps
   * as is and never interprets.
   */
  state: unknown;
  limits: DestinationLimits;
}

/** A saved destination. */
export interface StoredDestination extends DestinationDocument {
  /** The origin, `scheme://host[:port]` as `URL.origin` writes it (`https://api.example.com`). */
  destination: string;
  /** 1 on the first save, incremented by each save (optimistic concurrency). */
  version: number;
  /** Epoch ms of the last save. */
  updatedAt: number;
}

/** An engine process as it registers itself (`Store.registerWorker`). */
export interface WorkerRegistration {
  id: WorkerId;
  /** The host name (`os.hostname()`). */
  host: string;
  /**
   * Where `pid` means something: the kernel boot and PID namespace (Linux), so that two
   * containers or two machines with one host name are not confused. Absent when unknown.
   */
  pidScope?: string;
  /** The operating system's process id. */
  pid: number;
  /** When the process started, epoch ms: tells a process from a later one with the same pid. */
  startedAt: number;
}

/** A registered engine process (`Store.listWorkers`). */
export interface WorkerRecord extends WorkerRegistration {
  /** Its last heartbeat, epoch ms of its own clock. */
  heartbeatAt: number;
  /** When it stopped or was found dead; absent while it is live. */
  stoppedAt?: number;
}

/** The persistence port. */
export interface Store {
  /** `sqlite` or `postgres`. */
  readonly dialect: string;

  /** Applies pending migrations. Idempotent. */
  migrate(): Promise<void>;
  /** Flushes pending writes and releases the connection. */
  close(): Promise<void>;

  /**
   * Stores an API key (by its hash) for a tenant, creating the tenant if needed, and returns the
   * stored key. A hash the tenant already has is not stored again: the key already stored comes
   * back, except that an `env` key revoked by `env` (`revokeApiKeysNotIn`) and added again as an
   * `env` key is active again (STEADFAST_API_KEYS lists it again), and an `env` key stored before
   * keys had a prefix gets the new key's prefix (no longer a pre-upgrade key for
   * `adoptGeneratedApiKey`). A key revoked by an operator
   * stays revoked. A hash another tenant holds is refused (rejects).
   */
  addApiKey(key: NewApiKey): Promise<ApiKeyRecord>;
  /** The active (not revoked) key with this hash, if any: what authentication asks. */
  findApiKey(keyHash: string): Promise<ApiKeyRecord | undefined>;
  /** The key with this id, revoked or not. */
  getApiKey(id: ApiKeyId): Promise<ApiKeyRecord | undefined>;
  /** Keys, oldest first (by creation time, then id): all tenants' or one's, active only by default. */
  listApiKeys(query: ListApiKeysQuery): Promise<ApiKeyRecord[]>;
  /** How many active (not revoked) API keys exist (zero on a fresh database). */
  countApiKeys(): Promise<number>;
  /**
   * Revokes a key for good (by `operator`); a key already revoked keeps its first `revokedAt`.
   * With `options.keepOneOf`, refuses (`last_operator_key`) to revoke an active key of those
   * tenants when no other active key of theirs exists. The check and the revocation are one
   * conditional statement, atomic against concurrent revocations in this and other processes:
   * two keys revoked at once never leave none.
   */
  revokeApiKey(
    id: ApiKeyId,
    now: number,
    options?: RevokeApiKeyOptions,
  ): Promise<RevokeApiKeyResult>;
  /**
   * Revokes at `now` (by `env`) every active `env` key whose hash is not in `keepHashes` (the keys
   * `STEADFAST_API_KEYS` no longer lists), and returns them, oldest first. Keys of other sources
   * are untouched.
   */
  revokeApiKeysNotIn(keepHashes: readonly string[], now: number): Promise<ApiKeyRecord[]>;
  /**
   * Marks as `generated`, with `prefix`, the key with this hash if it was stored before keys had
   * sources (source `env` and no prefix: what the key lifecycle migration made of every older
   * key), and restores it if a start revoked it for not being in `STEADFAST_API_KEYS` (by `env`).
   * For the key a first start generated before the upgrade, recognised by its key file. Returns
   * the key as changed, or `undefined` when no such pre-upgrade key has this hash.
   */
  adoptGeneratedApiKey(keyHash: string, prefix: string): Promise<ApiKeyRecord | undefined>;
  /** Records a use of the key at `now`; never moves `lastUsedAt` back. Need not be durable. */
  touchApiKey(id: ApiKeyId, now: number): Promise<void>;
  /**
   * The tenant's webhook signing secret. When none is set yet, stores `candidate` and returns it
   * (first writer wins, so concurrent callers agree).
   */
  ensureSigningSecret(tenantId: TenantId, candidate: string, now: number): Promise<string>;

  /** Creates a call, or returns the live call already holding its idempotency key. */
  createCall(call: NewCall): Promise<CreateCallResult>;
  /**
   * Creates a call already claimed by `claim.workerId` (status `running`, lease token 1, lease
   * until `claim.leaseExpiresAt`), so the engine of the process that accepted it runs it without
   * a claim of its own. When a live call holds its idempotency key, nothing is written and that
   * call comes back (`created: false`), as with `createCall`. Optional: a store whose creates are
   * batched across processes (PostgreSQL) gains nothing from it.
   */
  createClaimedCall?(
    call: NewCall,
    claim: { workerId: WorkerId; leaseExpiresAt: number },
  ): Promise<CreateCallResult>;
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
   * Records an attempt and moves the call, only if `leaseToken` still owns it. Returns false (and
   * writes nothing) when the lease was lost: the call was cancelled or another engine took it over.
   * `attempts` becomes the attempt's number; an `interrupted` attempt (a graceful stop's) also
   * adds one to `attemptBase` (it is not counted against `maxAttempts`) and leaves
   * `crashesInARow` as it is; any other attempt completed, and sets `crashesInARow` to 0.
   */
  commitAttempt(commit: AttemptCommit): Promise<boolean>;
  /**
   * Extends leases still held: a lease whose token still matches is renewed even past its expiry,
   * as long as no one has reclaimed the call (the token, not the time, decides ownership).
   * Returns the refs that are no longer held.
   */
  renewLeases(refs: readonly ClaimRef[], leaseExpiresAt: number, now: number): Promise<ClaimRef[]>;
  /** Gives claims back without an attempt (graceful shutdown): they become due at `now`. */
  releaseClaims(refs: readonly ClaimRef[], now: number): Promise<void>;

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
  /** A saved destination, if any. */
  getDestination(destination: string): Promise<StoredDestination | undefined>;
  /** Every saved destination, ordered by `destination`. */
  listDestinations(): Promise<StoredDestination[]>;
  /**
   * Saves a destination's document if its version is still `expectedVersion` (0: not saved yet),
   * making it `expectedVersion + 1`; a compare-and-set, so processes sharing one database agree
   * on every transition (only one wins the election of a half-open probe). Returns false, writing
   * nothing, when the version differs.
   */
  saveDestination(
    destination: string,
    document: DestinationDocument,
    expectedVersion: number,
    now: number,
  ): Promise<boolean>;
  /**
   * Reserves `spanMs` of `destination`'s rate schedule, which every process on this store shares
   * (a rate limit holds for the fleet, not for each process): returns the schedule's end clamped
   * to `now` (where the reserved span starts) and moves the end to that plus `spanMs`. A schedule
   * never reserved starts at `now`. Need not be durable: a reservation lost in a crash only lets
   * one more burst through.
   */
  reserveRate(destination: string, now: number, spanMs: number): Promise<number>;

  /**
   * Sets how many of `destination`'s concurrency permits (its fleet-wide `maxConcurrency`) the
   * holder holds from now until `expiresAt`, and resolves with that number (`granted`): what it
   * wants, up to what the limit leaves after the unexpired permits of other holders; and with
   * the fair `share` of the limit among the holders wanting permits (`grantPermits`). Atomic per
   * destination, so concurrent holders never hold more than the limit between them. Rejects a
   * request whose numbers are invalid (`InvalidOptionError`). Need not be durable: permits lost in a crash
   * are taken again when asked for.
   */
  holdPermits(request: PermitRequest): Promise<PermitGrant>;

  /**
   * Registers (or re-registers) an engine process: its row is live (`stoppedAt` cleared) with
   * `heartbeatAt = now`. Rows of workers stopped before `forgetStoppedBefore` are deleted.
   */
  registerWorker(
    worker: WorkerRegistration,
    now: number,
    forgetStoppedBefore: number,
  ): Promise<void>;
  /**
   * Records that worker `id` is alive at `now` (`heartbeatAt = now`). False, writing nothing,
   * when it is not registered or was marked stopped (found dead by another process): the caller
   * registers again. Need not be durable.
   */
  heartbeatWorker(id: WorkerId, now: number): Promise<boolean>;
  /** The workers not marked stopped, ordered by id. */
  listWorkers(): Promise<WorkerRecord[]>;
  /**
   * Marks workers stopped and ends their claims at once, so that `claimDue` takes their calls
   * over now rather than when their leases expire: each running call a named worker holds whose
   * lease ends after `now`, and by `now + 2 * maxLeaseMs` (the longest lease the engines take,
   * ms: a bound on the search; a claim whose owner's clock ran further ahead ends with its
   * lease), gets `leaseExpiresAt = now`, and the worker's concurrency permits are dropped. A
   * worker is named with the `heartbeatAt` its judge saw: one that has beaten since (it was not
   * dead, only late) is left alone, so is one already stopped. A worker naming itself, with
   * `heartbeatAt` undefined (a graceful stop, or a fenced worker before it registers again), is
   * stopped unconditionally, and its claims are ended even when it was stopped already. Returns
   * the workers stopped by this call and how many claims were ended.
   */
  stopWorkers(
    workers: readonly { id: WorkerId; heartbeatAt?: number }[],
    now: number,
    maxLeaseMs: number,
  ): Promise<{ stopped: WorkerId[]; claimsEnded: number }>;

  /**
   * Subscribes to work committed by other processes sharing this store (PostgreSQL
   * LISTEN/NOTIFY): `listener` gets the earliest `runAt` of the new work, so an idle engine starts
   * it within milliseconds. Optional: a store only one process uses need not implement it.
   * Returns a function that unsubscribes.
   */
  subscribe?(listener: (runAt: number) => void): () => void;
  /**
   * Whether the store can serve now (false while a lost database connection is being re-opened).
   * Optional: absent means always ready. Feeds `/healthz`.
   */
  isReady?(): boolean;
}
