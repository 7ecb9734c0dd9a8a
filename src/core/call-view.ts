import type {
  AttemptDecision,
  AttemptOutcome,
  AttemptRecord,
  CallRecord,
  CallStatus,
  StoredResponse,
  WaitCode,
} from "./call.ts";
import { toCallbackView, type CallbackLookup, type CallbackView } from "./callback-view.ts";
import { redactHeaders, redactText, redactUrl } from "./redact.ts";

/** A response as the API shows it. */
export interface ResponseView {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** Present when the body is base64 (it was not UTF-8 text). */
  bodyEncoding?: "base64";
  /** Present when the stored body was cut at the capture limit. */
  bodyTruncated?: true;
  bodyBytes: number;
}

/** Why a waiting call waits, as `GET /v1/calls/:id` shows it. */
export interface WaitingForView {
  /** A short code: `retry_scheduled`, `circuit_open`, `destination_paused`... */
  reason: WaitCode;
  /** For people: `circuit open for api.example.com:443 until 12:04:31Z (...)`. */
  message: string;
  /** The destination origin holding the call, when its protection does. */
  destination?: string;
  /** When the call is due again. */
  until: string;
}

/** A call as `GET /v1/calls/:id` shows it (ARCHITECTURE.md section 5). */
export interface CallView {
  id: string;
  status: CallStatus;
  request: { url: string; method: string; headers: Record<string, string>; body?: string };
  attempts: number;
  nextAttemptAt?: string;
  waitingFor?: WaitingForView;
  response?: ResponseView;
  error?: { code: string; message: string };
  idempotencyKey?: string;
  callbackUrl?: string;
  /**
   * How the call's callback is going, for a call with a callback URL. Shown by reads of one call
   * (`GET /v1/calls/:id` and the answers about one call), not in lists.
   */
  callback?: CallbackView;
  createdAt: string;
  updatedAt: string;
  completedAt?: string;
}

/** An attempt as `GET /v1/calls/:id/attempts` shows it (ARCHITECTURE.md section 3). */
export interface AttemptView {
  number: number;
  startedAt: string;
  durationMs: number;
  connectMs?: number;
  firstByteMs?: number;
  outcome: AttemptRecord["outcome"];
  /** `false` only when the request certainly did not reach the upstream; see `AttemptRecord.sent`. */
  sent: AttemptRecord["sent"];
  decision: AttemptRecord["decision"];
}

// A call's timestamps are often equal (created, updated and due at once): the last one formatted
// is kept.
let lastIsoMs = Number.NaN;
let lastIso = "";
function iso(ms: number): string {
  if (ms !== lastIsoMs) {
    lastIso = new Date(ms).toISOString();
    lastIsoMs = ms;
  }
  return lastIso;
}

/** The response as shown, secrets in headers redacted. */
export function toResponseView(response: StoredResponse): ResponseView {
  const view: ResponseView = {
    status: response.status,
    headers: redactHeaders(response.headers),
    body: response.body,
    bodyBytes: response.bodyBytes,
  };
  if (response.bodyEncoding === "base64") view.bodyEncoding = "base64";
  if (response.bodyTruncated) view.bodyTruncated = true;
  return view;
}

/**
 * The public view of a call: ISO timestamps, secrets redacted (ARCHITECTURE.md section 6). With
 * `callback` (its delivery, as looked up), a call with a callback URL shows how its callback went.
 */
export function toCallView(call: CallRecord, callback?: CallbackLookup): CallView {
  const { request } = call.spec;
  const view: CallView = {
    id: call.id,
    status: call.status,
    request: {
      url: redactUrl(request.url),
      method: request.method,
      headers: redactHeaders(request.headers),
    },
    attempts: call.attempts,
    createdAt: iso(call.createdAt),
    updatedAt: iso(call.updatedAt),
  };
  if (request.body !== undefined) view.request.body = request.body;
  if ((call.status === "queued" || call.status === "waiting") && call.runAt !== undefined) {
    view.nextAttemptAt = iso(call.runAt);
    if (call.status === "waiting" && call.waitReason !== undefined) {
      // A wait without a code is a retry backoff (stores write codes only for held calls).
      view.waitingFor = {
        reason: call.waitCode ?? "retry_scheduled",
        message: redactText(call.waitReason),
        ...(call.waitDestination === undefined ? {} : { destination: call.waitDestination }),
        until: iso(call.runAt),
      };
    }
  }
  if (call.response !== undefined) view.response = toResponseView(call.response);
  // Messages may quote a URL (an undici error names it): redacted like the request's.
  if (call.error !== undefined)
    view.error = { code: call.error.code, message: redactText(call.error.message) };
  if (call.idempotencyKey !== undefined) view.idempotencyKey = call.idempotencyKey;
  if (call.spec.callbackUrl !== undefined) {
    view.callbackUrl = redactUrl(call.spec.callbackUrl);
    if (callback !== undefined) view.callback = toCallbackView(view.callbackUrl, call, callback);
  }
  if (call.completedAt !== undefined) view.completedAt = iso(call.completedAt);
  return view;
}

/** The public view of an attempt; URLs quoted in its messages redacted. */
export function toAttemptView(attempt: AttemptRecord): AttemptView {
  const view: AttemptView = {
    number: attempt.number,
    startedAt: iso(attempt.startedAt),
    durationMs: attempt.durationMs,
    outcome: redactedOutcome(attempt.outcome),
    sent: attempt.sent,
    decision: redactedDecision(attempt.decision),
  };
  if (attempt.connectMs !== undefined) view.connectMs = attempt.connectMs;
  if (attempt.firstByteMs !== undefined) view.firstByteMs = attempt.firstByteMs;
  return view;
}

// Copies only when there was something to redact (most messages quote no URL).
function redactedOutcome(outcome: AttemptOutcome): AttemptOutcome {
  if (outcome.type !== "error") return outcome;
  const message = redactText(outcome.message);
  return message === outcome.message ? outcome : { ...outcome, message };
}

function redactedDecision(decision: AttemptDecision): AttemptDecision {
  if (decision.type === "succeed") return decision;
  const reason = redactText(decision.reason);
  return reason === decision.reason ? decision : { ...decision, reason };
}

// The destination views of the API (`GET /v1/destinations...`), beside the call's, so the REST
// client and the engine (destination-view.ts builds them) share one definition.

/** The breaker as shown. Times are ISO 8601, UTC. */
export type BreakerView =
  | { state: "closed"; consecutiveOpens: number }
  | {
      state: "open";
      openedAt: string;
      /** When a probe may go. */
      openUntil: string;
      /** Why it opened. */
      reason: string;
      /** Opens since it last closed; each lasts longer, up to the cap. */
      consecutiveOpens: number;
    }
  | {
      state: "half-open";
      /** When the probe was elected. */
      since: string;
      /** When the probe counts as lost if it has not decided. */
      probeDeadline: string;
      reason: string;
      consecutiveOpens: number;
    };

/** A destination as the API shows it. */
export interface DestinationView {
  /** The origin: `https://api.example.com`. */
  destination: string;
  /** `api.example.com:443`. */
  hostPort: string;
  breaker: BreakerView;
  /** Present while every call to the destination is paused (a 503 with `Retry-After`). */
  pause?: { until: string; reason: string };
  /**
   * Present while the calls of some tenants are paused (a 429, or rate-limit headers: their
   * quota, not the destination's health), longest-lasting first. Operators only see this view.
   */
  tenantPauses?: { tenant: string; until: string; reason: string }[];
  /** `null`: no limit. */
  limits: { rateLimitPerSecond: number | null; maxConcurrency: number | null };
  /** This process's figures over the last `windowMs` (in memory, not shared between processes). */
  health: {
    windowMs: number;
    requests: number;
    failures: number;
    /** failures / requests, 0 to 1. */
    errorRate: number;
    /** Estimated from log-spaced buckets (within about 19%); absent without requests. */
    latencyMs?: { p50: number; p95: number; p99: number };
    /** Attempts in flight now, in this process. */
    inFlight: number;
    /** Claimed calls waiting in this process's memory for one of its concurrency slots. */
    waitingForSlot: number;
    /**
     * Of the destination's `maxConcurrency` (the fleet's), the permits this process holds now:
     * the most it sends at once. Present only with a `maxConcurrency`.
     */
    permits?: number;
  };
  /** The saved version (0: never saved; nothing has happened to it but traffic). */
  version: number;
}
