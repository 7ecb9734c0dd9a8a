import { describe, expect, it } from "vitest";
import { retryAfterFromHeaders } from "../core/retry-after.ts";
import {
  rateLimitField,
  rateLimitHeaders,
  rateLimitPolicyField,
  withRateLimitHeaders,
  type QuotaPolicy,
} from "./ratelimit-fields.ts";

const POLICY: QuotaPolicy = { name: "default", limit: 100, windowSeconds: 60, burst: 100 };

describe("the RateLimit fields (draft-ietf-httpapi-ratelimit-headers-11)", () => {
  it("formats RateLimit-Policy with q and w, and RateLimit with r and t", () => {
    expect(rateLimitPolicyField(POLICY)).toBe('"default";q=100;w=60');
    expect(rateLimitField(POLICY, { remaining: 99, resetSeconds: 1 })).toBe('"default";r=99;t=1');
    expect(rateLimitPolicyField({ ...POLICY, name: "per-tenant" })).toBe('"per-tenant";q=100;w=60');
  });

  it("adds Retry-After, in seconds, to a refusal only", () => {
    expect(rateLimitHeaders(POLICY, { remaining: 3, resetSeconds: 1 })).toEqual({
      "ratelimit-policy": '"default";q=100;w=60',
      ratelimit: '"default";r=3;t=1',
    });
    expect(
      rateLimitHeaders(POLICY, { remaining: 0, resetSeconds: 7, retryAfterSeconds: 7 }),
    ).toEqual({
      "ratelimit-policy": '"default";q=100;w=60',
      ratelimit: '"default";r=0;t=7',
      "retry-after": "7",
    });
  });

  it("is read back by Steadfast's own client-side reader as the wait it asks for", () => {
    const refusal = rateLimitHeaders(POLICY, { remaining: 0, resetSeconds: 7 });
    expect(retryAfterFromHeaders(refusal, 0)).toEqual({
      delayMs: 7_000,
      source: "ratelimit-reset",
    });
  });

  it("appends the fields to a response (two limits in a row both show) and sets the others", async () => {
    const response = new Response("ok", { headers: { "retry-after": "99" } });
    const once = withRateLimitHeaders(response, {
      ratelimit: '"per-second";r=1;t=1',
      "retry-after": "2",
    });
    const twice = withRateLimitHeaders(once, { ratelimit: '"per-day";r=500;t=1' });
    expect(twice.headers.get("ratelimit")).toBe('"per-second";r=1;t=1, "per-day";r=500;t=1');
    expect(twice.headers.get("retry-after")).toBe("2");
    expect(await twice.text()).toBe("ok");
  });

  it("copies a response whose headers are immutable, streaming its body through", () => {
    const immutable = Response.redirect("https://example.com/next", 302);
    expect(() => immutable.headers.set("x", "y")).toThrow();
    const answered = withRateLimitHeaders(immutable, { ratelimit: '"default";r=1;t=1' });
    expect(answered.status).toBe(302);
    expect(answered.headers.get("location")).toBe("https://example.com/next");
    expect(answered.headers.get("ratelimit")).toBe('"default";r=1;t=1');
  });
});
