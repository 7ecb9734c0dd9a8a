import type {
  AttemptDecision,
  AttemptRecord,
  CallRecord,
  CallSpec,
  ExchangeOutcome,
} from "../core/call.ts";
import { attemptsUsed, crashLoop, type Interruption } from "../core/interruption.ts";
import { decideAttempt } from "../core/decide-attempt.ts";
import { newCallId } from "../core/ids.ts";
import type { Clock, Random } from "../core/ports.ts";
import { isSteadfastError } from "../core/errors.ts";
import type { AttemptCommit, CallLog, CallTransition, NewCall } from "../core/call-log.ts";
import type { Claim } from "../core/work-queue.ts";
import type { OutgoingRequest, SendOptions, SendResult, Transport } from "../core/transport.ts";
import type { FaultInjector } from "./fault-points.ts";
import { toStoredResponse } from "./stored-response.ts";

/** What `runAttempt` needs from the engine. */
export interface AttemptContext {
  store: CallLog;
  transport: Transport;
  clock: Clock;
  random: Random;
  maxResponseBytes: number;
  idempotencyTtlMs: number;
  faults?: FaultInjector;
  /**
   * How long the commit of an attempt whose answer is in hand is retried while the store is
   * unreachable (`store_unavailable`), ms: the outcome is kept rather than the request sent again.
   * Retrying is safe: the commit is conditional on the lease token, so it writes at most once.
   */
  commitRetryMs: number;
  /** Builds the signed request of a `callback` call from its parent's final state. */
  callbackRequest(call: CallRecord, now: number): Promise<OutgoingRequest | undefined>;
}

/** What happened to a claimed call. */
export type AttemptResult =
  | {
      type: "committed";
      call: CallRecord;
      attempt: AttemptRecord;
      transition: CallTransition;
      followUp?: NewCall;
    }
  /** The lease was lost (cancelled, or taken over): nothing was written. */
  | { type: "fenced" }
  /**
   * The send was aborted (shutdown or lost lease) before an outcome: nothing was written.
   * `cutOff` tells what the transport knew when its exchange had begun.
   */
  | { type: "aborted"; cutOff?: ExchangeCutOff };

/** An exchange aborted before its outcome: its timings so far, and whether it may have been sent. */
export interface ExchangeCutOff {
  startedAt: number;
  durationMs: number;
  connectMs?: number;
  firstByteMs?: number;
  /** False only when the request certainly did not reach the upstream. */
  sent: boolean;
}

/** Retry policy of callback deliveries: about a day of tries, as Standard Webhooks senders do. */
const CALLBACK_SPEC: Omit<CallSpec, "request"> = {
  retry: { maxAttempts: 10, backoff: "exponential", initialDelayMs: 5_000, maxDelayMs: 3_600_000 },
  timeout: { connectMs: 10_000, readMs: 15_000, totalMs: 30_000 },
  deadlineMs: 86_400_000,
};

/**
 * Runs one attempt of a claimed call and commits it with the call's next state, conditional on
 * the claim's lease token: send, classify, decide (retry with backoff, succeed, fail), then one
 * store write holding the attempt, the transition and, when a call with a callback ends, the
 * callback delivery. `onSent` sees the transport's result of a real send (not of an attempt
 * failed without one, such as a passed deadline), and the limits it was sent with, before
 * anything is decided or written.
 */
export async function runAttempt(
  ctx: AttemptContext,
  claim: Claim,
  signal: AbortSignal,
  onSent?: (result: SendResult, now: number, options: SendOptions) => void,
): Promise<AttemptResult> {
  const { call } = claim;
  await ctx.faults?.hit("after-claim");
  const startedAt = ctx.clock.now();
  const number = call.attempts + 1;
  const { spec } = call;
  const remainingMs =
    call.deadlineAt === undefined ? Number.POSITIVE_INFINITY : call.deadlineAt - startedAt;
  const crashed = crashLoop(call);

  let result: SendResult;
  let exchanged = false;
  if (remainingMs <= 0) {
    result = syntheticError(
      startedAt,
      "total_timeout",
      `the call's deadline passed before attempt ${number} could start`,
    );
  } else if (crashed !== undefined) {
    result = syntheticError(startedAt, "aborted", crashed.reason);
  } else {
    const request =
      call.kind === "callback" ? await ctx.callbackRequest(call, startedAt) : userRequest(call);
    if (request === undefined) {
      result = syntheticError(
        startedAt,
        "invalid_response",
        `the call ${call.parentId ?? "?"} this callback reports on no longer exists`,
      );
    } else {
      exchanged = true;
      const options: SendOptions = {
        connectTimeoutMs: spec.timeout.connectMs,
        readTimeoutMs: spec.timeout.readMs,
        totalTimeoutMs: Math.min(spec.timeout.totalMs, remainingMs),
        maxResponseBytes: ctx.maxResponseBytes,
        signal,
      };
      result = await ctx.transport.send(request, options);
      onSent?.(result, ctx.clock.now(), options);
    }
  }
  if (signal.aborted)
    return { type: "aborted", ...(exchanged ? { cutOff: cutOffOf(result) } : {}) };
  await ctx.faults?.hit("after-request-sent");

  const now = ctx.clock.now();
  const outcome: ExchangeOutcome =
    result.type === "response"
      ? { type: "response", status: result.status }
      : { type: "error", code: result.code, message: result.message };
  const sent = result.type === "response" || result.sent;
  const decision: AttemptDecision =
    remainingMs <= 0
      ? {
          type: "fail",
          code: "deadline_exceeded",
          reason: `the deadline passed before attempt ${number} could start`,
        }
      : crashed !== undefined
        ? { type: "fail", code: crashed.code, reason: crashed.reason }
        : decideAttempt(
            {
              outcome,
              sent,
              ...(result.type === "response" ? { responseHeaders: result.headers } : {}),
              method: spec.request.method,
              idempotencyKeySent: true,
              retry: spec.retry,
              attemptsUsed: attemptsUsed(call) + 1,
              now,
              ...(call.deadlineAt === undefined ? {} : { deadlineAt: call.deadlineAt }),
            },
            ctx.random,
          );
  const attempt: AttemptRecord = {
    callId: call.id,
    number,
    startedAt: result.timings.startedAt,
    durationMs: result.timings.durationMs,
    ...(result.timings.connectMs === undefined ? {} : { connectMs: result.timings.connectMs }),
    ...(result.timings.firstByteMs === undefined
      ? {}
      : { firstByteMs: result.timings.firstByteMs }),
    outcome,
    sent,
    decision,
  };
  const response = result.type === "response" ? toStoredResponse(result) : undefined;
  const idempotencyExpiresAt = now + ctx.idempotencyTtlMs;
  let transition: CallTransition;
  if (decision.type === "retry") {
    transition = {
      status: "waiting",
      runAt: now + decision.delayMs,
      reason: `retry after attempt ${number}: ${decision.reason}`,
    };
  } else if (decision.type === "succeed" && response !== undefined) {
    transition = { status: "succeeded", response, idempotencyExpiresAt };
  } else {
    const code = decision.type === "fail" ? decision.code : "not_retryable";
    const message = decision.type === "fail" ? decision.reason : "unexpected outcome";
    transition = {
      status: "failed",
      error: { code, message },
      idempotencyExpiresAt,
      ...(response === undefined ? {} : { response }),
    };
  }
  const followUp =
    transition.status !== "waiting" && call.kind === "call" && spec.callbackUrl !== undefined
      ? callbackCall(call, spec.callbackUrl, now, ctx.random)
      : undefined;

  const committed = await commitWithRetry(
    ctx,
    {
      callId: call.id,
      leaseToken: claim.leaseToken,
      attempt,
      transition,
      now,
      ...(followUp === undefined ? {} : { followUp }),
    },
    signal,
  );
  if (!committed) return { type: "fenced" };
  await ctx.faults?.hit("after-attempt-commit");
  const ended: CallRecord = applyTransition(call, attempt, transition, now);
  return {
    type: "committed",
    call: ended,
    attempt,
    transition,
    ...(followUp === undefined ? {} : { followUp }),
  };
}

/**
 * Records an attempt this engine aborted after its exchange had begun (a graceful stop, or its
 * fence), so the attempt log matches what the upstream may have seen: `interrupted` (`outcome`
 * and `decision` from `core/interruption.ts`), `sent` as the transport knew it, and the call due
 * again at once. The commit is conditional on the lease token and tried again while the store is
 * unreachable until `signal` aborts (an aborted signal: one try). Resolves with what was
 * recorded, or `undefined` when the lease was lost meanwhile (nothing written).
 */
export async function recordInterrupted(
  ctx: AttemptContext,
  claim: Claim,
  cutOff: ExchangeCutOff,
  interruption: Interruption,
  signal: AbortSignal,
): Promise<{ call: CallRecord; attempt: AttemptRecord } | undefined> {
  const now = ctx.clock.now();
  const number = claim.call.attempts + 1;
  const attempt: AttemptRecord = {
    callId: claim.call.id,
    number,
    startedAt: cutOff.startedAt,
    durationMs: cutOff.durationMs,
    ...(cutOff.connectMs === undefined ? {} : { connectMs: cutOff.connectMs }),
    ...(cutOff.firstByteMs === undefined ? {} : { firstByteMs: cutOff.firstByteMs }),
    sent: cutOff.sent,
    ...interruption,
  };
  const transition: CallTransition = {
    status: "waiting",
    runAt: now,
    reason: `attempt ${number} interrupted: ${interruption.decision.reason}`,
  };
  const committed = await commitWithRetry(
    ctx,
    { callId: claim.call.id, leaseToken: claim.leaseToken, attempt, transition, now },
    signal,
  );
  if (!committed) return undefined;
  return { call: applyTransition(claim.call, attempt, transition, now), attempt };
}

/**
 * `Store.commitAttempt`, tried again with backoff (50 ms doubling to 2 s) while the store is
 * unreachable, for up to `commitRetryMs` or until `signal` aborts; other errors are thrown at once.
 */
async function commitWithRetry(
  ctx: AttemptContext,
  commit: AttemptCommit,
  signal: AbortSignal,
): Promise<boolean> {
  const giveUpAt = ctx.clock.now() + ctx.commitRetryMs;
  for (let delayMs = 50; ; delayMs = Math.min(2_000, delayMs * 2)) {
    try {
      return await ctx.store.commitAttempt(commit);
    } catch (error) {
      const unavailable = isSteadfastError(error) && error.code === "store_unavailable";
      if (!unavailable || signal.aborted || ctx.clock.now() + delayMs > giveUpAt) throw error;
    }
    // Aborted (the engine stopping, the lease lost): one last try, then its error is thrown.
    await ctx.clock.sleep(delayMs, signal).catch(() => {});
  }
}

function userRequest(call: CallRecord): OutgoingRequest {
  const { request } = call.spec;
  const headers = { ...request.headers, "idempotency-key": call.forwardedKey };
  return request.body === undefined
    ? { url: request.url, method: request.method, headers }
    : { url: request.url, method: request.method, headers, body: request.body };
}

function cutOffOf(result: SendResult): ExchangeCutOff {
  const { timings } = result;
  return {
    startedAt: timings.startedAt,
    durationMs: timings.durationMs,
    ...(timings.connectMs === undefined ? {} : { connectMs: timings.connectMs }),
    ...(timings.firstByteMs === undefined ? {} : { firstByteMs: timings.firstByteMs }),
    sent: result.type === "response" || result.sent,
  };
}

function syntheticError(
  now: number,
  code: "total_timeout" | "invalid_response" | "aborted",
  message: string,
): SendResult {
  return { type: "error", code, message, sent: false, timings: { startedAt: now, durationMs: 0 } };
}

function callbackCall(parent: CallRecord, url: string, now: number, random: Random): NewCall {
  const id = newCallId(now, random);
  return {
    id,
    tenantId: parent.tenantId,
    kind: "callback",
    parentId: parent.id,
    spec: {
      ...CALLBACK_SPEC,
      request: { url, method: "POST", headers: { "content-type": "application/json" } },
    },
    forwardedKey: `msg_${id.slice("call_".length)}`,
    runAt: now,
    deadlineAt: now + (CALLBACK_SPEC.deadlineMs ?? 0),
    createdAt: now,
  };
}

/** The call as the committed transition left it (what the store now holds). */
function applyTransition(
  call: CallRecord,
  attempt: AttemptRecord,
  transition: CallTransition,
  now: number,
): CallRecord {
  const next: CallRecord = {
    ...call,
    status: transition.status,
    attempts: attempt.number,
    updatedAt: now,
  };
  // As `Store.commitAttempt` counts it.
  if (attempt.outcome.type === "interrupted") next.attemptBase = call.attemptBase + 1;
  else next.crashesInARow = 0;
  delete next.waitReason;
  delete next.runAt;
  if (transition.status === "waiting") {
    next.runAt = transition.runAt;
    next.waitReason = transition.reason;
  } else {
    next.completedAt = now;
    if (transition.status === "succeeded") next.response = transition.response;
    else {
      next.error = transition.error;
      if (transition.response !== undefined) next.response = transition.response;
    }
  }
  return next;
}
