/**
 * Standard Webhooks signatures (https://www.standardwebhooks.com, spec section "Signature
 * scheme"): `webhook-signature` is `v1,` + base64 HMAC-SHA256 over `${id}.${timestamp}.${body}`,
 * keyed with the base64-decoded part of a `whsec_` secret. Steadfast signs its end-of-call
 * callbacks this way; receivers can verify with any Standard Webhooks library or `verifyWebhook`.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { InvalidOptionError } from "../core/errors.ts";

const SECRET_PREFIX = "whsec_";
const SIGNATURE_VERSION = "v1";

/** Fewest and most secret bytes the spec recommends (24 to 64). */
const MIN_SECRET_BYTES = 24;
const MAX_SECRET_BYTES = 64;

/** What `signWebhook` signs. */
export interface SignWebhookOptions {
  /** `whsec_` followed by base64 (a bare base64 key is accepted too). */
  secret: string;
  /** Unique message id, the same on every delivery attempt of one message. */
  id: string;
  /** Unix time in seconds. */
  timestampSeconds: number;
  /** The exact body bytes sent. */
  body: string | Uint8Array;
}

/** What `verifyWebhook` checks. */
export interface VerifyWebhookOptions {
  secret: string;
  /** Request headers; names are matched case-insensitively. */
  headers: Readonly<Record<string, string | undefined>>;
  /** The raw body as received (not re-serialised JSON). */
  body: string | Uint8Array;
  /** Current Unix time in seconds. */
  nowSeconds: number;
  /** Largest accepted distance between `webhook-timestamp` and now, in seconds. Default 300. */
  toleranceSeconds?: number;
}

/**
 * Makes a signing secret from random bytes: `whsec_` + base64. Pass 32 bytes from a CSPRNG
 * (24 to 64 are accepted).
 *
 * @example
 * const secret = generateSigningSecret(crypto.getRandomValues(new Uint8Array(32)));
 */
export function generateSigningSecret(randomBytes: Uint8Array): string {
  if (randomBytes.length < MIN_SECRET_BYTES || randomBytes.length > MAX_SECRET_BYTES) {
    throw new InvalidOptionError(
      `a signing secret needs ${MIN_SECRET_BYTES} to ${MAX_SECRET_BYTES} random bytes, got ${randomBytes.length}: pass 32 bytes from crypto.getRandomValues`,
    );
  }
  return SECRET_PREFIX + Buffer.from(randomBytes).toString("base64");
}

/**
 * Signs one webhook delivery. Returns the three headers to send with the body: `webhook-id`,
 * `webhook-timestamp` (seconds) and `webhook-signature` (`v1,<base64>`).
 *
 * @example
 * const headers = signWebhook({ secret, id: "msg_1", timestampSeconds: Math.floor(Date.now() / 1000), body });
 */
export function signWebhook(options: SignWebhookOptions): Record<string, string> {
  const timestamp = String(Math.floor(options.timestampSeconds));
  const signature = computeSignature(
    secretKey(options.secret),
    options.id,
    timestamp,
    options.body,
  );
  return {
    "webhook-id": options.id,
    "webhook-timestamp": timestamp,
    "webhook-signature": `${SIGNATURE_VERSION},${signature.toString("base64")}`,
  };
}

/**
 * True when the headers carry a `v1` signature of `body` made with `secret` and the timestamp is
 * within `toleranceSeconds` (default 300) of `nowSeconds`. `webhook-signature` may list several
 * space-separated signatures (secret rotation); one match is enough. Comparison is constant-time.
 */
export function verifyWebhook(options: VerifyWebhookOptions): boolean {
  const headers = lowerCaseKeys(options.headers);
  const id = headers["webhook-id"];
  const timestamp = headers["webhook-timestamp"];
  const signatures = headers["webhook-signature"];
  if (id === undefined || timestamp === undefined || signatures === undefined) return false;
  if (!/^\d{1,15}$/.test(timestamp)) return false;
  const tolerance = options.toleranceSeconds ?? 300;
  if (Math.abs(options.nowSeconds - Number(timestamp)) > tolerance) return false;
  let key: Buffer;
  try {
    key = secretKey(options.secret);
  } catch {
    return false;
  }
  const expected = computeSignature(key, id, timestamp, options.body);
  let matched = false;
  for (const entry of signatures.split(" ")) {
    const comma = entry.indexOf(",");
    if (comma === -1 || entry.slice(0, comma) !== SIGNATURE_VERSION) continue;
    const given = Buffer.from(entry.slice(comma + 1), "base64");
    // Every candidate is compared, so the time taken does not reveal which one matched.
    if (given.length === expected.length && timingSafeEqual(given, expected)) matched = true;
  }
  return matched;
}

function computeSignature(
  key: Buffer,
  id: string,
  timestamp: string,
  body: string | Uint8Array,
): Buffer {
  return createHmac("sha256", key).update(`${id}.${timestamp}.`).update(body).digest();
}

function secretKey(secret: string): Buffer {
  const encoded = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  const key = Buffer.from(encoded, "base64");
  if (key.length === 0) {
    throw new InvalidOptionError(
      `signing secret is empty or not base64: expected "whsec_" followed by base64`,
    );
  }
  return key;
}

function lowerCaseKeys(
  headers: Readonly<Record<string, string | undefined>>,
): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(headers)) out[name.toLowerCase()] = value;
  return out;
}
