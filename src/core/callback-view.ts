/**
 * The callback of a call as `GET /v1/calls/:id` shows it: where the signed end-of-call `POST` goes
 * and how its delivery went. A delivery is itself a call (`kind: "callback"`, `parentId` = the
 * call it reports on), created in the same write that ends the call and retried by the engine
 * like any call (10 attempts over about a day). Its status, from the call's and the delivery's:
 *
 *   pending     the call has not ended yet: nothing to deliver
 *   delivering  the delivery is due or in flight, no attempt of it has failed since it was due
 *   retrying    an attempt failed; the next is due at `nextAttemptAt`
 *   delivered   the receiver answered 2xx (`deliveredAt`)
 *   failed      attempts used up, deadline passed, or the receiver refused it for good (a 4xx):
 *               `POST /v1/calls/:id/callback/retry` sends it again
 *   skipped     the call was cancelled: a cancelled call sends no callback
 */
import { TerminalStatuses, type CallRecord } from "./call.ts";
import { redactText } from "./redact.ts";
import type { CallbackDelivery } from "./store.ts";

/** Every status a callback can have; see the file comment. */
export const CallbackStatuses = [
  "pending",
  "delivering",
  "retrying",
  "delivered",
  "failed",
  "skipped",
] as const;
/** One of `CallbackStatuses`. */
export type CallbackStatus = (typeof CallbackStatuses)[number];

/** Why the last attempt of a delivery did not deliver it. */
export interface CallbackErrorView {
  /**
   * The transport error (`connect_refused`, `read_timeout`...), or `http_status` when the
   * receiver answered with a status other than 2xx.
   */
  code: string;
  /** What was decided after it, for people: `status 500; exponential backoff`. */
  message: string;
  /** The receiver's status, with `code: "http_status"`. */
  status?: number;
}

/** A call's callback as `GET /v1/calls/:id` shows it. Times are ISO 8601, UTC. */
export interface CallbackView {
  /** `callback.url`, credentials redacted. */
  url: string;
  status: CallbackStatus;
  /** Delivery attempts made so far (0 while `pending`). */
  attempts: number;
  /** The `webhook-id` header of the delivery, the same on every attempt (receivers dedupe on it). */
  webhookId?: string;
  /** When the last attempt started. */
  lastAttemptAt?: string;
  /** Why the last attempt did not deliver (while `retrying`, and when `failed`). */
  lastError?: CallbackErrorView;
  /** When the next attempt is due (`delivering`, `retrying`). */
  nextAttemptAt?: string;
  /** When the receiver accepted it (`delivered`). */
  deliveredAt?: string;
}

/**
 * What is known of a call's callback delivery: `delivery` is the newest one, absent when none
 * exists. Looked up only for a call with a callback URL that has ended (`Store.getCallbackDelivery`).
 */
export interface CallbackLookup {
  delivery?: CallbackDelivery;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/**
 * The delivery of the call's latest end, from what was looked up: a delivery older than the end
 * was sent before a redrive, and is not this end's. The delivery is created in the write that
 * ends the call, with the same time.
 */
export function currentDelivery(
  call: CallRecord,
  lookup: CallbackLookup,
): CallbackDelivery | undefined {
  const { delivery } = lookup;
  if (!TerminalStatuses.has(call.status) || delivery === undefined) return undefined;
  return delivery.call.createdAt >= (call.completedAt ?? 0) ? delivery : undefined;
}

/**
 * The callback view of `call`, which has a callback URL (`url`, already redacted), from its
 * delivery (`currentDelivery`): the view reports on the call's latest end.
 */
export function toCallbackView(
  url: string,
  call: CallRecord,
  lookup: CallbackLookup,
): CallbackView {
  if (!TerminalStatuses.has(call.status)) return { url, status: "pending", attempts: 0 };
  const delivery = currentDelivery(call, lookup);
  if (delivery === undefined) {
    return { url, status: call.status === "cancelled" ? "skipped" : "pending", attempts: 0 };
  }
  const { call: sending, lastAttempt } = delivery;
  const view: CallbackView = {
    url,
    status: deliveryStatus(sending),
    attempts: sending.attempts,
    webhookId: sending.forwardedKey,
  };
  if (lastAttempt !== undefined) {
    view.lastAttemptAt = iso(lastAttempt.startedAt);
    const { outcome, decision } = lastAttempt;
    if (decision.type !== "succeed") {
      // The same field the attempt view redacts (`toAttemptView`): a reason may quote a URL.
      const message = redactText(decision.reason);
      view.lastError =
        outcome.type === "response"
          ? { code: "http_status", message, status: outcome.status }
          : { code: outcome.code, message };
    }
  }
  if ((sending.status === "queued" || sending.status === "waiting") && sending.runAt !== undefined)
    view.nextAttemptAt = iso(sending.runAt);
  if (sending.status === "succeeded" && sending.completedAt !== undefined)
    view.deliveredAt = iso(sending.completedAt);
  return view;
}

function deliveryStatus(delivery: CallRecord): CallbackStatus {
  switch (delivery.status) {
    case "succeeded":
      return "delivered";
    case "failed":
    case "cancelled":
      return "failed";
    case "waiting":
      // Held by its destination's protection before any attempt: nothing has failed yet.
      return delivery.attempts > delivery.attemptBase ? "retrying" : "delivering";
    case "queued":
    case "running":
      return "delivering";
  }
}
