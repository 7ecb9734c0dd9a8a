/**
 * The durable call: what is stored, what an attempt records, and what the engine decides.
 *
 * States and transitions (ARCHITECTURE.md section 3); every transition is one store write:
 *
 *   queued  -> running                 claimed by an engine (lease + fencing token)
 *   running -> waiting                 retry scheduled (runAt, reason)
 *   running -> waiting                 held by its destination's protection, no attempt made
 *                                      (circuit open, paused, rate or concurrency limit, budget)
 *   waiting -> running                 due again, claimed
 *   running -> succeeded | failed      attempt decided the end
 *   running -> queued | waiting        lease released on graceful shutdown (an attempt in flight
 *                                      is recorded `interrupted`, `process_stopped`), or when its
 *                                      engine fenced itself (an attempt that may have been sent
 *                                      is recorded `interrupted`, `process_fenced`)
 *   running -> running                 taken over: its lease expired or its process was found dead;
 *                                      the claim records the cut-off attempt (`interrupted`,
 *                                      `process_ended`, `sent: "unknown"`) with the new lease
 *   running -> failed                  claimed after MAX_CRASHES_IN_A_ROW takeovers in a row
 *                                      (`crash_loop`), without being sent
 *   queued | waiting | running -> cancelled
 *   failed  -> queued                  redrive (POST /v1/calls/:id/retry)
 *   waiting -> waiting (runAt = now)   retry now (POST /v1/calls/:id/retry)
 */
import type { CallId, RunUid, TenantId } from "./ids.ts";

/** Every status a call can have. */
export const CallStatuses = [
  "queued",
  "running",
  "waiting",
  "succeeded",
  "failed",
  "cancelled",
] as const;
/** One of `CallStatuses`. */
export type CallStatus = (typeof CallStatuses)[number];
/** Statuses from which a call does not move on its own. */
export const TerminalStatuses: ReadonlySet<CallStatus> = new Set([
  "succeeded",
  "failed",
  "cancelled",
]);

/** How the delay between attempts grows. */
export type BackoffKind = "exponential" | "linear" | "fixed";
/** One rule of `retry.retryOn`: an exact status, any 5xx, or any network error. */
export type RetryOnRule = number | "5xx" | "network";

/** A fully defaulted retry policy. */
export interface RetryPolicy {
  /** Attempts in all, the first included; interrupted ones are not counted. Default 5. */
  maxAttempts: number;
  /** Default `exponential`, with full jitter. */
  backoff: BackoffKind;
  /** Base delay in ms. Default 1,000. */
  initialDelayMs: number;
  /** Cap on any one delay in ms, `Retry-After` included. Default 60,000. */
  maxDelayMs: number;
  /** What is retried. `undefined` means the defaults of ARCHITECTURE.md section 4. */
  retryOn?: readonly RetryOnRule[];
}

/** Per-attempt timeouts, in ms. */
export interface TimeoutPolicy {
  /** Time to open the connection (TCP and TLS). Default 10,000. */
  connectMs: number;
  /** Longest silence while waiting for response headers or body bytes. Default 30,000. */
  readMs: number;
  /** Whole attempt, connect to last body byte. Default 60,000. */
  totalMs: number;
}

/** The outgoing HTTP request as stored. JSON bodies are stored already serialised. */
export interface CallRequest {
  url: string;
  /** Upper-case method. */
  method: string;
  /** Header names lower-cased. */
  headers: Record<string, string>;
  body?: string;
}

/** Everything the engine needs to execute a call, defaults applied. */
export interface CallSpec {
  request: CallRequest;
  retry: RetryPolicy;
  timeout: TimeoutPolicy;
  /** Deadline for the whole call, relative to acceptance (or redrive), in ms. */
  deadlineMs?: number;
  /** Where the signed end-of-call notification goes. */
  callbackUrl?: string;
}

/**
 * `call`: a user's durable call. `callback`: the internal call that delivers a parent call's
 * signed notification; it reuses the engine's retries and is hidden from listings.
 */
export type CallKind = "call" | "callback";

/** An upstream response as stored. */
export interface StoredResponse {
  status: number;
  /** Header names lower-cased. */
  headers: Record<string, string>;
  /** The body, as text when it decodes as UTF-8, otherwise base64. */
  body: string;
  bodyEncoding: "utf8" | "base64";
  /** True when the body was longer than the capture cap and was cut. */
  bodyTruncated: boolean;
  /** Bytes received (at least the cap when truncated). */
  bodyBytes: number;
}

/** Why a call ended without success, or why an attempt failed. */
export interface CallError {
  code: string;
  message: string;
}

/**
 * Why a waiting call waits, as a short code (ARCHITECTURE.md section 4): its retry backoff, or its
 * destination's protection holding it without an attempt.
 *
 * - `retry_scheduled`: an attempt failed and the next one is due at `runAt`;
 * - `circuit_open`: the destination's circuit breaker is open (or half-open, a probe deciding);
 * - `destination_paused`: the destination asked for a wait: a 503 with `Retry-After` pauses every
 *   call to it; a 429 (or rate-limit headers) pauses only the calls of the tenant that got it;
 * - `rate_limited`, `concurrency_limited`: the destination's limits;
 * - `retry_budget_exhausted`: retries to the destination are over its retry budget.
 */
export const WaitCodes = [
  "retry_scheduled",
  "circuit_open",
  "destination_paused",
  "rate_limited",
  "concurrency_limited",
  "retry_budget_exhausted",
] as const;
/** One of `WaitCodes`. */
export type WaitCode = (typeof WaitCodes)[number];

/** Why a call waits, as written when its destination's protection holds it. */
export interface WaitingFor {
  reason: WaitCode;
  /** For people: `circuit open for api.example.com:443 until 12:04:31Z (...)`. */
  message: string;
  /** The destination origin holding the call (`https://api.example.com`), when one does. */
  destination?: string;
}

/** A call as the store holds it. */
export interface CallRecord {
  id: CallId;
  tenantId: TenantId;
  kind: CallKind;
  /** For `callback` calls: the call whose end is being notified. */
  parentId?: CallId;
  /**
   * For a call started by a workflow run's step (`step.fetch`, `ChildCall`): that run, woken in
   * the transaction that ends the call.
   */
  parentRun?: RunUid;
  status: CallStatus;
  spec: CallSpec;
  /** The client's `Idempotency-Key`, while it is retained. */
  idempotencyKey?: string;
  /** SHA-256 over the canonical JSON of the request that created the call. */
  fingerprint?: string;
  /** The `Idempotency-Key` forwarded upstream on every attempt. */
  forwardedKey: string;
  /** Attempts made so far, over the call's whole life (interrupted ones included). */
  attempts: number;
  /**
   * The attempts of `attempts` that `maxAttempts` does not count: those made before the call was
   * last redriven, and those interrupted since (`interrupted`, see `core/interruption.ts`). So
   * `attempts - attemptBase` is the attempts used (`attemptsUsed`).
   */
  attemptBase: number;
  /**
   * Attempts cut off by the end of their process (`process_ended`, recorded when the call was
   * taken over) since an attempt last completed or the call was last redriven. A graceful stop
   * (`process_stopped`) or a fence (`process_fenced`) neither counts nor resets it. At `MAX_CRASHES_IN_A_ROW` the call fails
   * without being sent (`crash_loop`).
   */
  crashesInARow: number;
  /** When the next attempt is due (queued and waiting calls). */
  runAt?: number;
  /** Why the call waits, while it waits: a message for people. */
  waitReason?: string;
  /**
   * The code of the wait, when its destination's protection holds the call (`deferCall`). Absent
   * for a retry backoff (`retry_scheduled`).
   */
  waitCode?: WaitCode;
  /** The destination origin holding the call, with `waitCode`. */
  waitDestination?: string;
  /** Absolute deadline (epoch ms), from `spec.deadlineMs`. */
  deadlineAt?: number;
  response?: StoredResponse;
  error?: CallError;
  createdAt: number;
  updatedAt: number;
  completedAt?: number;
}

/**
 * Transport-level failure codes (ARCHITECTURE.md section 3). `invalid_request`: our own HTTP client
 * refused to send the request as given (nothing was sent; the call fails, it is never retried).
 * `internal`: Steadfast failed inside its own process while sending (a bug, logged with its stack):
 * neither the request's fault nor the destination's; retried like a network error.
 */
export const TransportErrorCodes = [
  "dns",
  "connect_refused",
  "connect_timeout",
  "read_timeout",
  "total_timeout",
  "reset",
  "tls",
  "blocked_destination",
  "invalid_response",
  "invalid_request",
  "aborted",
  "internal",
  "unknown",
] as const;
/** One of `TransportErrorCodes`. */
export type TransportErrorCode = (typeof TransportErrorCodes)[number];

/** What an exchange with the upstream produced: a response, or a transport error. */
export type ExchangeOutcome =
  | { type: "response"; status: number }
  | { type: "error"; code: TransportErrorCode; message: string };

/**
 * Why an attempt was cut off before its outcome was known (issue 10, item 11):
 *
 * - `process_ended`: its process died (or stopped renewing its lease) mid-attempt; recorded by
 *   the process that took the call over, which cannot know whether the request was sent;
 * - `process_stopped`: a graceful shutdown aborted it after the grace period;
 * - `process_fenced`: its process stopped sending because it could not confirm in time that it
 *   was alive (its heartbeat unacknowledged for `workerTimeoutMs - heartbeatIntervalMs`, or
 *   another process found it dead): recorded by that process, which knows whether it was sent.
 */
export const InterruptionCodes = ["process_ended", "process_stopped", "process_fenced"] as const;
/** One of `InterruptionCodes`. */
export type InterruptionCode = (typeof InterruptionCodes)[number];

/** An attempt cut off by the end of its process, before it had an outcome. */
export interface InterruptedOutcome {
  type: "interrupted";
  code: InterruptionCode;
  /** For people: `interrupted: the process ended ...`. */
  message: string;
}

/** What one attempt produced. */
export type AttemptOutcome = ExchangeOutcome | InterruptedOutcome;

/** What the engine decided after an attempt. */
export type AttemptDecision =
  | { type: "retry"; delayMs: number; reason: string }
  | { type: "succeed" }
  | { type: "fail"; code: FailCode; reason: string };

/**
 * Why a call ended failed: the outcome is not retryable, the attempts are used up, the deadline
 * passed, retrying a non-idempotent request without a key could repeat its effect, or its
 * attempts were cut off by the end of their process `MAX_CRASHES_IN_A_ROW` times in a row
 * (`crash_loop`: the call may be what ends it; it is failed without being sent again).
 */
export type FailCode =
  "not_retryable" | "attempts_exhausted" | "deadline_exceeded" | "unsafe_to_retry" | "crash_loop";

/** One attempt, as recorded. */
export interface AttemptRecord {
  callId: CallId;
  /** 1-based, over the call's whole life. */
  number: number;
  startedAt: number;
  durationMs: number;
  /** Time to an open connection, when known. */
  connectMs?: number;
  /** Time to the first response byte, when known. */
  firstByteMs?: number;
  outcome: AttemptOutcome;
  /**
   * Whether the request may have reached the upstream: `false` only when it certainly did not,
   * `true` when it did or may have, `"unknown"` when nothing recorded whether it was even sent
   * (only an attempt interrupted by the end of its process, `process_ended`: the call may have
   * been claimed and still waiting in memory, or its request may have been answered).
   */
  sent: AttemptSent;
  decision: AttemptDecision;
}

/** `AttemptRecord.sent`: `true`, `false`, or `"unknown"` (see there). */
export type AttemptSent = boolean | "unknown";
