import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  FINGERPRINT_ALGORITHMS,
  requestFingerprint,
  type FingerprintInput,
} from "./request-fingerprint.ts";

const encode = (text: string): Uint8Array => new TextEncoder().encode(text);
const base: FingerprintInput = {
  method: "POST",
  route: "/orders",
  target: "/orders",
  contentType: "application/json",
  body: encode('{"sku":"A-1","quantity":2}'),
};

describe("requestFingerprint", () => {
  it("canonicalises a JSON body (RFC 8785): member order, spacing and number spelling do not count", () => {
    const a = requestFingerprint(base);
    const b = requestFingerprint({
      ...base,
      contentType: "application/merge-patch+json; charset=utf-8",
      body: encode('{ "quantity" : 2.0e0,\n "sku": "A-1" }'),
    });
    expect(a).toEqual(b);
    expect(a.algorithm).toBe(FINGERPRINT_ALGORITHMS.json);
    expect(a.digest).toMatch(/^[0-9a-f]{64}$/);
  });

  it("is not JSON.stringify: nested members are ordered too, and values still count", () => {
    const nested = (body: string): string =>
      requestFingerprint({ ...base, body: encode(body) }).digest;
    expect(nested('{"a":{"y":1,"x":[1,2]}}')).toBe(nested('{"a":{"x":[1,2],"y":1}}'));
    expect(nested('{"a":{"x":[1,2]}}')).not.toBe(nested('{"a":{"x":[2,1]}}'));
    expect(nested('{"amount":1000}')).not.toBe(nested('{"amount":"1000"}'));
  });

  it("hashes any other body as its bytes", () => {
    const form = {
      ...base,
      contentType: "application/x-www-form-urlencoded",
      body: encode("a=1&b=2"),
    };
    const fp = requestFingerprint(form);
    expect(fp.algorithm).toBe(FINGERPRINT_ALGORITHMS.raw);
    expect(requestFingerprint({ ...form, body: encode("b=2&a=1") }).digest).not.toBe(fp.digest);
    expect(requestFingerprint({ ...form, contentType: null })).toEqual(fp);
  });

  it("hashes malformed JSON as its bytes, so a retry of it still matches", () => {
    const broken = { ...base, body: encode('{"sku": ') };
    expect(requestFingerprint(broken)).toEqual(requestFingerprint(broken));
    expect(requestFingerprint(broken).algorithm).toBe(FINGERPRINT_ALGORITHMS.raw);
    expect(
      requestFingerprint({ ...base, body: new Uint8Array([0x22, 0xff, 0x22]) }).algorithm,
    ).toBe(FINGERPRINT_ALGORITHMS.raw);
  });

  it("covers the method, the route and the target", () => {
    const fp = requestFingerprint(base).digest;
    expect(requestFingerprint({ ...base, method: "PATCH" }).digest).not.toBe(fp);
    expect(requestFingerprint({ ...base, route: "/orders/:id" }).digest).not.toBe(fp);
    expect(requestFingerprint({ ...base, target: "/orders?dry_run=1" }).digest).not.toBe(fp);
  });

  it("frames each field, so that moving a character from one to the next changes the digest", () => {
    const a = requestFingerprint({ ...base, route: "/a", target: "b" });
    const b = requestFingerprint({ ...base, route: "/ab", target: "" });
    expect(a.digest).not.toBe(b.digest);
  });

  it("is SHA-256 over the framed fields and the canonical body", () => {
    const expected = createHash("sha256")
      .update('4:POST7:/orders7:/orders{"quantity":2,"sku":"A-1"}')
      .digest("hex");
    expect(requestFingerprint(base).digest).toBe(expected);
  });
});
