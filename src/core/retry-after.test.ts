import { describe, expect, it } from "vitest";
import {
  getHeader,
  parseRateLimitReset,
  parseRetryAfter,
  retryAfterFromHeaders,
} from "./retry-after.ts";

const now = Date.parse("2026-11-23T12:00:00Z");
const nowSeconds = now / 1000;

describe("parseRetryAfter (RFC 9110 section 10.2.3)", () => {
  it("reads delay-seconds", () => {
    expect(parseRetryAfter("2", now)).toBe(2_000);
    expect(parseRetryAfter(" 120 ", now)).toBe(120_000);
    expect(parseRetryAfter("0", now)).toBe(0);
  });

  it("reads a huge delay as a long wait (callers cap it), never as Infinity", () => {
    expect(parseRetryAfter("99999999999", now)).toBe(99_999_999_999_000);
    expect(parseRetryAfter("9".repeat(400), now)).toBe(Number.MAX_SAFE_INTEGER);
  });

  it("reads an HTTP-date and clamps the past to zero", () => {
    expect(parseRetryAfter("Mon, 23 Nov 2026 12:00:30 GMT", now)).toBe(30_000);
    expect(parseRetryAfter("Mon, 23 Nov 2026 11:00:00 GMT", now)).toBe(0);
    // The obsolete RFC 850 form, which recipients must still read (RFC 9110 section 5.6.7).
    expect(parseRetryAfter("Monday, 23-Nov-26 12:00:10 GMT", now)).toBe(10_000);
  });

  it("ignores values that are neither", () => {
    for (const value of ["", "-1", "1.5", "soon", "1e3", "0x10"])
      expect(parseRetryAfter(value, now)).toBeUndefined();
  });
});

describe("parseRateLimitReset", () => {
  it("reads delta seconds, fractions rounded up to the ms", () => {
    expect(parseRateLimitReset("5", now)).toBe(5_000);
    expect(parseRateLimitReset("0.0015", now)).toBe(2);
  });

  it("reads epoch seconds, and epoch ms, as a time from now", () => {
    expect(parseRateLimitReset(String(nowSeconds + 42), now)).toBe(42_000);
    expect(parseRateLimitReset(String(nowSeconds + 1.5), now)).toBe(1_500);
    expect(parseRateLimitReset(String(now + 750), now)).toBe(750);
  });

  it("gives 0 for a reset in the past", () => {
    expect(parseRateLimitReset(String(nowSeconds - 60), now)).toBe(0);
    expect(parseRateLimitReset(String(now - 60_000), now)).toBe(0);
  });

  it("ignores what is not a number", () => {
    for (const value of ["", "-5", "soon", "1e3", "Mon, 23 Nov 2026 12:00:30 GMT"])
      expect(parseRateLimitReset(value, now)).toBeUndefined();
  });
});

describe("retryAfterFromHeaders", () => {
  it("prefers Retry-After, then RateLimit-Reset, X-RateLimit-Reset, then RateLimit t=", () => {
    expect(
      retryAfterFromHeaders(new Headers({ "retry-after": "3", "ratelimit-reset": "9" }), now),
    ).toEqual({ delayMs: 3_000, source: "retry-after" });
    expect(retryAfterFromHeaders({ "RateLimit-Reset": "9" }, now)).toEqual({
      delayMs: 9_000,
      source: "ratelimit-reset",
    });
    expect(retryAfterFromHeaders({ "x-ratelimit-reset": "4" }, now)?.delayMs).toBe(4_000);
    expect(retryAfterFromHeaders({ ratelimit: '"default";r=0;t=7' }, now)?.delayMs).toBe(7_000);
    expect(retryAfterFromHeaders({ "content-type": "text/plain" }, now)).toBeUndefined();
    expect(retryAfterFromHeaders({}, now)).toBeUndefined();
  });

  it("reads an epoch RateLimit-Reset as a time, not as 1.7e12 ms (issue 10, item 13)", () => {
    const reset = String(nowSeconds + 30);
    expect(retryAfterFromHeaders({ "ratelimit-reset": reset }, now)?.delayMs).toBe(30_000);
    expect(retryAfterFromHeaders({ "x-ratelimit-reset": reset }, now)?.delayMs).toBe(30_000);
  });

  it("skips an unreadable Retry-After for a readable reset header", () => {
    expect(retryAfterFromHeaders({ "retry-after": "later", "ratelimit-reset": "2" }, now)).toEqual({
      delayMs: 2_000,
      source: "ratelimit-reset",
    });
    expect(
      retryAfterFromHeaders({ "retry-after": "garbage", "x-ratelimit-reset": "4" }, now)?.delayMs,
    ).toBe(4_000);
  });

  it("takes the longest reset of the exhausted policies of a structured RateLimit", () => {
    const field = '"burst";r=0;t=7, "hour";r=0;t=90, "day";r=500;t=3600';
    expect(retryAfterFromHeaders({ ratelimit: field }, now)?.delayMs).toBe(90_000);
    expect(retryAfterFromHeaders({ ratelimit: '"a";r=3;t=5, "b";r=9;t=60' }, now)?.delayMs).toBe(
      5_000,
    );
    // The older draft's dictionary form.
    expect(
      retryAfterFromHeaders({ ratelimit: "limit=100, remaining=0, reset=50" }, now)?.delayMs,
    ).toBe(50_000);
    expect(retryAfterFromHeaders({ ratelimit: '"a";r=0' }, now)).toBeUndefined();
  });
});

describe("getHeader", () => {
  it("reads Headers, records case-insensitively, arrays and numbers", () => {
    expect(getHeader(new Headers({ "Retry-After": "1" }), "retry-after")).toBe("1");
    expect(getHeader({ "Retry-After": "2" }, "retry-after")).toBe("2");
    expect(getHeader({ "retry-after": ["3", "4"] }, "retry-after")).toBe("3");
    expect(getHeader({ "retry-after": 5 }, "retry-after")).toBe("5");
    expect(getHeader({}, "retry-after")).toBeUndefined();
  });
});
