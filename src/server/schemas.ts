/**
 * Zod schemas of the API's response shapes and query parameters. The query schema validates
 * requests; all of them feed `openapi.json`, and the tests check real responses against them, so
 * the document cannot drift from what the server does.
 */
import { z } from "zod";
import { CallStatuses, InterruptionCodes, TransportErrorCodes, WaitCodes } from "../core/call.ts";
import { CallbackStatuses } from "../core/callback-view.ts";
import { ErrorCodes } from "../core/errors.ts";
import { HttpProblemCodes } from "./problem.ts";

const isoTime = z.iso.datetime().describe("ISO 8601 time, UTC.");
const nonNegativeInt = z.number().int().min(0);

/** An upstream response as the API shows it. */
export const ResponseViewSchema = z
  .strictObject({
    status: z.number().int().min(100).max(599),
    headers: z
      .record(z.string(), z.string())
      .describe("Header names lower-cased; credentials redacted."),
    body: z.string().describe("The body as text, or base64 when `bodyEncoding` is `base64`."),
    bodyEncoding: z
      .literal("base64")
      .optional()
      .describe("Present when the body was not UTF-8 text."),
    bodyTruncated: z
      .literal(true)
      .optional()
      .describe("Present when the body was cut at the capture limit."),
    bodyBytes: nonNegativeInt.describe("Body bytes received."),
  })
  .describe("The upstream's response.");

/** A call's callback as `GET /v1/calls/:id` shows it (`CallbackView`). */
export const CallbackViewSchema = z
  .strictObject({
    url: z.string().describe("callback.url; credentials redacted."),
    status: z
      .enum(CallbackStatuses)
      .describe(
        "pending: the call has not ended. delivering: due or in flight. retrying: an attempt failed, the next is due at nextAttemptAt. delivered: the receiver answered 2xx. failed: attempts used up, deadline passed or refused for good (POST /v1/calls/{id}/callback/retry sends it again). skipped: the call was cancelled, which sends no callback.",
      ),
    attempts: nonNegativeInt.describe("Delivery attempts made so far."),
    webhookId: z
      .string()
      .optional()
      .describe("The webhook-id header of the delivery, the same on every attempt."),
    lastAttemptAt: isoTime.optional().describe("When the last attempt started."),
    lastError: z
      .strictObject({
        code: z
          .string()
          .describe(
            "A transport error (connect_refused, read_timeout...) or http_status when the receiver answered other than 2xx.",
          ),
        message: z.string().describe("What was decided after the attempt, for people."),
        status: z.number().int().min(100).max(599).optional().describe("The receiver's status."),
      })
      .optional()
      .describe("Why the last attempt did not deliver (retrying, failed)."),
    nextAttemptAt: isoTime.optional().describe("When the next attempt is due."),
    deliveredAt: isoTime.optional().describe("When the receiver accepted it."),
  })
  .describe(
    "The signed end-of-call POST to callback.url and how its delivery went: 10 attempts over about a day.",
  );

/** A call as `GET /v1/calls/:id` shows it. */
export const CallViewSchema = z
  .strictObject({
    id: z.string().regex(/^call_[0-9A-HJKMNP-TV-Z]{26}$/),
    status: z.enum(CallStatuses),
    request: z.strictObject({
      url: z.string().describe("Credentials in the URL are redacted."),
      method: z.string(),
      headers: z
        .record(z.string(), z.string())
        .describe("Header names lower-cased; credentials redacted."),
      body: z.string().optional(),
    }),
    attempts: nonNegativeInt.describe("Attempts made so far."),
    nextAttemptAt: isoTime
      .optional()
      .describe("When the next attempt is due (queued and waiting calls)."),
    waitingFor: z
      .strictObject({
        reason: z
          .enum(WaitCodes)
          .describe(
            "retry_scheduled: a retry backoff. The others are holds by the call's destination, which cost no attempt: circuit_open, destination_paused (a 503 with Retry-After pauses every call to the destination; a 429, or rate-limit headers, only the calls of the tenant that got it), rate_limited, concurrency_limited, retry_budget_exhausted.",
          ),
        message: z
          .string()
          .describe("For people: circuit open for api.example.com:443 until 12:04:31Z (...)."),
        destination: z
          .string()
          .optional()
          .describe("The destination origin holding the call (https://api.example.com)."),
        until: isoTime.describe("When the call is due again."),
      })
      .optional()
      .describe("Why a waiting call waits."),
    response: ResponseViewSchema.optional(),
    error: z
      .strictObject({ code: z.string(), message: z.string() })
      .optional()
      .describe("Why the call failed."),
    idempotencyKey: z.string().optional(),
    callbackUrl: z.string().optional().describe("callback.url; credentials redacted."),
    callback: CallbackViewSchema.optional().describe(
      "For a call with a callback URL, in answers about one call (not in lists): how its callback went.",
    ),
    createdAt: isoTime,
    updatedAt: isoTime,
    completedAt: isoTime.optional(),
  })
  .describe("A durable call.");

/** One attempt as `GET /v1/calls/:id/attempts` shows it (ARCHITECTURE.md section 3). */
export const AttemptViewSchema = z
  .strictObject({
    number: z.number().int().min(1).describe("1-based, over the call's whole life."),
    startedAt: isoTime,
    durationMs: z.number().min(0),
    connectMs: z.number().min(0).optional(),
    firstByteMs: z.number().min(0).optional(),
    outcome: z.discriminatedUnion("type", [
      z.strictObject({ type: z.literal("response"), status: z.number().int() }),
      z.strictObject({
        type: z.literal("error"),
        code: z.enum(TransportErrorCodes),
        message: z.string(),
      }),
      z
        .strictObject({
          type: z.literal("interrupted"),
          code: z.enum(InterruptionCodes),
          message: z.string(),
        })
        .describe(
          "The attempt was cut off by the end of its process before it had an outcome: process_ended (the process died; recorded when another process took the call over; startedAt is when that process claimed the call, so durationMs includes any time it waited there before being sent) process_stopped (a graceful shutdown aborted it after the grace period), or process_fenced (its process stopped sending because it could not confirm in time that it was alive: its heartbeat was not acknowledged, or another process found it dead; recorded by that process, with sent as it knew it). Interrupted attempts are not counted against maxAttempts; a call whose attempts were cut off by process_ended 3 times in a row, none completing, fails with crash_loop without being sent again (process_stopped and process_fenced neither count toward that nor reset it).",
        ),
    ]),
    sent: z
      .union([z.boolean(), z.literal("unknown")])
      .describe(
        'Whether the request may have reached the upstream: false only when it certainly did not; true when it did or may have; "unknown" when nothing recorded whether it was even sent (an attempt interrupted by the end of its process, process_ended: the call may have been waiting in that process\'s memory, or its request may have been answered).',
      ),
    decision: z.discriminatedUnion("type", [
      z.strictObject({ type: z.literal("retry"), delayMs: nonNegativeInt, reason: z.string() }),
      z.strictObject({ type: z.literal("succeed") }),
      z.strictObject({ type: z.literal("fail"), code: z.string(), reason: z.string() }),
    ]),
  })
  .describe("One attempt and the decision taken after it.");

/** The answer of `GET /v1/calls`. */
export const CallPageSchema = z
  .strictObject({
    calls: z.array(CallViewSchema),
    nextCursor: z
      .string()
      .optional()
      .describe("Pass as `cursor` for the next page; absent on the last page."),
  })
  .describe("A page of calls, newest first.");

/** The answer of `GET /v1/calls/:id/attempts`. */
export const AttemptListSchema = z
  .strictObject({ attempts: z.array(AttemptViewSchema) })
  .describe("A call's attempts, oldest first.");

/** The JSON body of a callback delivery (`CallbackPayload`), as the `webhooks` section shows it. */
export const CallbackPayloadSchema = z
  .strictObject({
    type: z
      .enum(CallStatuses.map((status) => `call.${status}` as const))
      .describe(
        "call.<status of the call when the delivery is built>: call.succeeded or call.failed (a cancelled call sends no callback).",
      ),
    timestamp: isoTime.describe("When the call ended."),
    data: z.strictObject({
      call: CallViewSchema.describe("The call as GET /v1/calls/{id} shows it, without callback."),
      attempts: z.array(AttemptViewSchema).describe("The call's attempts, oldest first."),
    }),
  })
  .describe("The signed end-of-call notification, the same body on every attempt of one delivery.");

/** The answer of `GET /v1/signing-secret`. */
export const SigningSecretSchema = z
  .strictObject({
    secret: z
      .string()
      .regex(/^whsec_[A-Za-z0-9+/=]+$/)
      .describe("Standard Webhooks secret: whsec_ followed by base64 of 32 bytes."),
  })
  .describe("The key that signs this tenant's callbacks.");

/** The breaker of a destination as shown. */
const BreakerViewSchema = z
  .discriminatedUnion("state", [
    z.strictObject({ state: z.literal("closed"), consecutiveOpens: nonNegativeInt }),
    z.strictObject({
      state: z.literal("open"),
      openedAt: isoTime,
      openUntil: isoTime.describe("When a probe may go."),
      reason: z.string().describe("Why it opened."),
      consecutiveOpens: nonNegativeInt.describe(
        "Opens since it last closed; each lasts longer, up to the cap.",
      ),
    }),
    z.strictObject({
      state: z.literal("half-open"),
      since: isoTime.describe("When the probe was elected."),
      probeDeadline: isoTime.describe("When the probe counts as lost if it has not decided."),
      reason: z.string(),
      consecutiveOpens: nonNegativeInt,
    }),
  ])
  .describe("closed: calls go; open: calls wait, no attempt spent; half-open: one probe decides.");

/** A destination as `GET /v1/destinations/:destination` shows it. */
export const DestinationViewSchema = z
  .strictObject({
    destination: z.string().describe("The origin: https://api.example.com."),
    hostPort: z.string().describe("api.example.com:443"),
    breaker: BreakerViewSchema,
    pause: z
      .strictObject({ until: isoTime, reason: z.string() })
      .optional()
      .describe("Present while every call to the destination is paused (a 503 with Retry-After)."),
    tenantPauses: z
      .array(z.strictObject({ tenant: z.string(), until: isoTime, reason: z.string() }))
      .optional()
      .describe(
        "Present while some tenants' calls to the destination are paused: a 429, or rate-limit headers (X-RateLimit-Reset, RateLimit), speak of that tenant's quota, not of the destination's health. Longest-lasting first.",
      ),
    limits: z.strictObject({
      rateLimitPerSecond: z.number().positive().nullable().describe("null: no rate limit."),
      maxConcurrency: z
        .number()
        .int()
        .min(1)
        .nullable()
        .describe("null: the default share of the engine's concurrency."),
    }),
    health: z
      .strictObject({
        windowMs: nonNegativeInt,
        requests: nonNegativeInt,
        failures: nonNegativeInt,
        errorRate: z.number().min(0).max(1),
        latencyMs: z
          .strictObject({ p50: z.number().min(0), p95: z.number().min(0), p99: z.number().min(0) })
          .optional()
          .describe("Estimated from log-spaced buckets, within about 19%."),
        inFlight: nonNegativeInt,
        waitingForSlot: nonNegativeInt.describe(
          "Claimed calls waiting in this process's memory for one of the destination's concurrency slots.",
        ),
        permits: nonNegativeInt
          .optional()
          .describe(
            "Of the destination's maxConcurrency (held by every process together), the permits this process holds now. Present only with a maxConcurrency.",
          ),
      })
      .describe(
        "This server process's figures over the last windowMs (kept in memory, not shared between processes).",
      ),
    version: nonNegativeInt.describe("Saved version; 0 when nothing was saved for it yet."),
  })
  .describe("A destination (origin) and its protection.");

/** The answer of `GET /v1/destinations`. */
export const DestinationListSchema = z
  .strictObject({ destinations: z.array(DestinationViewSchema) })
  .describe("Every known destination, ordered by origin.");

const RATE_MESSAGE = "must be a number of requests per second > 0 (at most 1000000), or null";
const CONCURRENCY_MESSAGE = "must be an integer from 1 to 100000, or null";

/** The body of `PUT /v1/destinations/:destination`. Absent fields keep their value. */
export const DestinationLimitsInputSchema = z
  .strictObject({
    rateLimitPerSecond: z
      .number({ error: RATE_MESSAGE })
      .positive({ error: RATE_MESSAGE })
      .max(1_000_000, { error: RATE_MESSAGE })
      .nullable()
      .optional()
      .describe("Requests per second (bursts of one second's worth); null removes the limit."),
    maxConcurrency: z
      .number({ error: CONCURRENCY_MESSAGE })
      .int({ error: CONCURRENCY_MESSAGE })
      .min(1, { error: CONCURRENCY_MESSAGE })
      .max(100_000, { error: CONCURRENCY_MESSAGE })
      .nullable()
      .optional()
      .describe("Attempts in flight at once; null goes back to the default share."),
  })
  .describe("Limits to set: a number sets one, null removes it, an absent field is kept.");

/** Every problem `code` the API can answer with. */
export const ProblemCodes = [...ErrorCodes, ...HttpProblemCodes] as const;

/** An `application/problem+json` body (RFC 9457). */
export const ProblemSchema = z
  .strictObject({
    type: z.string().describe("URI of the problem type: https://steadfast.dev/problems/<code>."),
    title: z.string(),
    status: z.number().int().min(400).max(599),
    detail: z.string().describe("What went wrong with this request, and usually the fix."),
    code: z.enum(ProblemCodes),
    instance: z
      .string()
      .optional()
      .describe("The request path; absent when the request could not be parsed."),
    correlationId: z.string().describe("This request's id, also sent as X-Request-Id."),
    errors: z
      .array(z.strictObject({ field: z.string(), message: z.string() }))
      .optional()
      .describe("One entry per invalid field (dotted path, such as retry.maxAttempts)."),
    "violated-policies": z
      .array(z.string())
      .optional()
      .describe(
        "rate_limited only: the quota policies the request broke, as named in the RateLimit-Policy header (draft-ietf-httpapi-ratelimit-headers).",
      ),
  })
  .describe("Problem details (RFC 9457).");

/** The answer of `GET /healthz`. */
export const HealthSchema = z
  .strictObject({ ok: z.boolean(), details: z.record(z.string(), z.unknown()).optional() })
  .describe("200 with ok true when the server can serve; 503 with ok false otherwise.");

const LIMIT_MESSAGE = "must be an integer from 1 to 500";

/** Query parameters of `GET /v1/calls`. Unknown parameters are refused, so a typo is not ignored. */
export const ListCallsQuerySchema = z.strictObject({
  status: z
    .enum(CallStatuses, { error: `must be one of ${CallStatuses.join(", ")}` })
    .optional()
    .describe("Only calls in this status; failed is the dead-letter list."),
  limit: z.coerce
    .number({ error: LIMIT_MESSAGE })
    .int({ error: LIMIT_MESSAGE })
    .min(1, { error: LIMIT_MESSAGE })
    .max(500, { error: LIMIT_MESSAGE })
    .optional()
    .describe("Page size, 1 to 500. Default 50."),
  cursor: z.string().min(1).max(64).optional().describe("The nextCursor of the previous page."),
});
