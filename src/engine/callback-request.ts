import { toAttemptView, toCallView } from "../core/call-view.ts";
import type { CallRecord } from "../core/call.ts";
import type { TenantId } from "../core/ids.ts";
import type { Random } from "../core/ports.ts";
import type { CallLog } from "../core/call-log.ts";
import type { TenantKeys } from "../core/tenant-keys.ts";
import type { OutgoingRequest } from "../core/transport.ts";
import { generateSigningSecret, signWebhook } from "../http/webhook-signature.ts";

/** What a callback request is built from. */
export interface CallbackDeps {
  store: CallLog & TenantKeys;
  random: Random;
  /** Per-tenant signing secrets, cached for the engine's life. */
  signingSecrets: Map<string, Promise<string>>;
}

/**
 * The body of an end-of-call notification, Standard Webhooks style: `type` is `call.succeeded`,
 * `call.failed` or `call.cancelled`; `data` holds the final call and its attempts, secrets redacted.
 */
export interface CallbackPayload {
  type: string;
  timestamp: string;
  data: { call: ReturnType<typeof toCallView>; attempts: ReturnType<typeof toAttemptView>[] };
}

/**
 * Builds the signed `POST` of a `callback` call from its parent's final state. The body is the
 * same on every attempt; `webhook-timestamp` and `webhook-signature` are made fresh per attempt so
 * receivers can reject stale deliveries. Returns `undefined` when the parent no longer exists.
 */
export async function buildCallbackRequest(
  deps: CallbackDeps,
  call: CallRecord,
  now: number,
): Promise<OutgoingRequest | undefined> {
  if (call.parentId === undefined) return undefined;
  const [parent, attempts] = await Promise.all([
    deps.store.getCall(call.tenantId, call.parentId),
    deps.store.listAttempts(call.tenantId, call.parentId),
  ]);
  if (parent === undefined || attempts === undefined) return undefined;
  const payload: CallbackPayload = {
    type: `call.${parent.status}`,
    timestamp: new Date(parent.completedAt ?? parent.updatedAt).toISOString(),
    data: { call: toCallView(parent), attempts: attempts.map(toAttemptView) },
  };
  const body = JSON.stringify(payload);
  const secret = await signingSecret(deps, call.tenantId, now);
  const signature = signWebhook({
    secret,
    id: call.forwardedKey,
    timestampSeconds: Math.floor(now / 1000),
    body,
  });
  return {
    url: call.spec.request.url,
    method: "POST",
    headers: { ...call.spec.request.headers, ...signature },
    body,
  };
}

/** The tenant's signing secret, created on first use (first writer wins across processes). */
export function signingSecret(
  deps: CallbackDeps,
  tenantId: TenantId,
  now: number,
): Promise<string> {
  let secret = deps.signingSecrets.get(tenantId);
  if (secret === undefined) {
    secret = deps.store.ensureSigningSecret(tenantId, newSigningSecret(deps.random), now);
    secret.catch(() => deps.signingSecrets.delete(tenantId));
    deps.signingSecrets.set(tenantId, secret);
  }
  return secret;
}

/** A fresh `whsec_` secret of 32 bytes drawn from `random` (a CSPRNG in production). */
export function newSigningSecret(random: Random): string {
  const bytes = new Uint8Array(32);
  for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(random.next() * 256);
  return generateSigningSecret(bytes);
}
