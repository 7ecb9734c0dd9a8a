import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { generateSigningSecret, signWebhook, verifyWebhook } from "./webhook-signature.ts";
import { InvalidOptionError } from "../core/errors.ts";

// The example of the Standard Webhooks specification and its reference libraries.
const SPEC = {
  secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
  id: "msg_p5jXN8AQM9LWM0D4loKWxJek",
  timestampSeconds: 1614265330,
  body: '{"test": 2432232314}',
  signature: "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
};

describe("generateSigningSecret", () => {
  it("is whsec_ followed by the base64 of the bytes", () => {
    const bytes = new Uint8Array(32).map((_, i) => i);
    const secret = generateSigningSecret(bytes);
    expect(secret.startsWith("whsec_")).toBe(true);
    expect(Buffer.from(secret.slice(6), "base64")).toEqual(Buffer.from(bytes));
  });

  it("refuses too few or too many bytes", () => {
    expect(() => generateSigningSecret(new Uint8Array(16))).toThrow(
      /24 to 64 random bytes, got 16/,
    );
    expect(() => generateSigningSecret(new Uint8Array(65))).toThrow(InvalidOptionError);
  });
});

describe("signWebhook", () => {
  it("reproduces the Standard Webhooks specification example", () => {
    expect(signWebhook(SPEC)).toEqual({
      "webhook-id": SPEC.id,
      "webhook-timestamp": String(SPEC.timestampSeconds),
      "webhook-signature": SPEC.signature,
    });
  });

  it("matches an HMAC-SHA256 computed by hand over id.timestamp.body", () => {
    const key = new Uint8Array(32).fill(7);
    const secret = generateSigningSecret(key);
    const body = JSON.stringify({ type: "call.succeeded", data: { id: "call_1", note: "héllo" } });
    const expected = createHmac("sha256", key).update(`msg_1.1700000000.${body}`).digest("base64");
    const headers = signWebhook({ secret, id: "msg_1", timestampSeconds: 1_700_000_000.9, body });
    expect(headers["webhook-timestamp"]).toBe("1700000000");
    expect(headers["webhook-signature"]).toBe(`v1,${expected}`);
  });

  it("signs bytes and the equal string alike", () => {
    const bytes = new TextEncoder().encode(SPEC.body);
    expect(signWebhook({ ...SPEC, body: bytes })["webhook-signature"]).toBe(SPEC.signature);
  });
});

describe("verifyWebhook", () => {
  const headers = {
    "webhook-id": SPEC.id,
    "webhook-timestamp": String(SPEC.timestampSeconds),
    "webhook-signature": SPEC.signature,
  };
  const base = { secret: SPEC.secret, headers, body: SPEC.body, nowSeconds: SPEC.timestampSeconds };

  it("accepts the specification example", () => {
    expect(verifyWebhook(base)).toBe(true);
  });

  it("matches header names case-insensitively", () => {
    const upper = {
      "Webhook-Id": SPEC.id,
      "WEBHOOK-TIMESTAMP": String(SPEC.timestampSeconds),
      "Webhook-Signature": SPEC.signature,
    };
    expect(verifyWebhook({ ...base, headers: upper })).toBe(true);
  });

  it("accepts a space-separated list where one signature matches", () => {
    const list = `v1,Zm9vYmFy v2,abc ${SPEC.signature} v1,bm9wZQ==`;
    expect(verifyWebhook({ ...base, headers: { ...headers, "webhook-signature": list } })).toBe(
      true,
    );
  });

  it("rejects a tampered body, id, timestamp or secret", () => {
    expect(verifyWebhook({ ...base, body: '{"test": 2432232315}' })).toBe(false);
    expect(verifyWebhook({ ...base, headers: { ...headers, "webhook-id": "msg_other" } })).toBe(
      false,
    );
    const later = String(SPEC.timestampSeconds + 1);
    expect(verifyWebhook({ ...base, headers: { ...headers, "webhook-timestamp": later } })).toBe(
      false,
    );
    const other = generateSigningSecret(new Uint8Array(32).fill(1));
    expect(verifyWebhook({ ...base, secret: other })).toBe(false);
  });

  it("rejects timestamps outside the tolerance, default 300 seconds", () => {
    expect(verifyWebhook({ ...base, nowSeconds: SPEC.timestampSeconds + 300 })).toBe(true);
    expect(verifyWebhook({ ...base, nowSeconds: SPEC.timestampSeconds + 301 })).toBe(false);
    expect(verifyWebhook({ ...base, nowSeconds: SPEC.timestampSeconds - 301 })).toBe(false);
    expect(
      verifyWebhook({ ...base, nowSeconds: SPEC.timestampSeconds + 50, toleranceSeconds: 10 }),
    ).toBe(false);
  });

  it("rejects missing headers, malformed timestamps and unknown versions", () => {
    const { "webhook-id": _id, ...withoutId } = headers;
    expect(verifyWebhook({ ...base, headers: withoutId })).toBe(false);
    expect(
      verifyWebhook({ ...base, headers: { ...headers, "webhook-timestamp": "16142653e3" } }),
    ).toBe(false);
    const v2 = SPEC.signature.replace("v1,", "v2,");
    expect(verifyWebhook({ ...base, headers: { ...headers, "webhook-signature": v2 } })).toBe(
      false,
    );
    expect(verifyWebhook({ ...base, headers: { ...headers, "webhook-signature": "v1," } })).toBe(
      false,
    );
    expect(verifyWebhook({ ...base, secret: "whsec_" })).toBe(false);
  });

  it("round-trips with signWebhook", () => {
    const secret = generateSigningSecret(new Uint8Array(32).fill(42));
    const body = '{"type":"call.failed"}';
    const signed = signWebhook({ secret, id: "call_9", timestampSeconds: 1_800_000_000, body });
    expect(verifyWebhook({ secret, headers: signed, body, nowSeconds: 1_800_000_100 })).toBe(true);
  });
});
