import { describe, expect, it } from "vitest";
import {
  getHeader,
  parseRateLimitReset,
  parseRetryAfter,
  retryAfterFromHeaders,
} from "./retry-after.ts";

const NOW = Date.parse("2025-01-01T00:00:00Z");

describe("parseRetryAfter (RFC 9110 section 10.2.3)", () => {
  it("reads delay-seconds", () => {
    expect(parseRetryAfter("120", NOW)).toBe(120_000);
    expect(parseRetryAfter(" 0 ", NOW)).toBe(0);
  });

  it("reads an HTTP-date relative to now; a past date gives 0", () => {
    expect(parseRetryAfter("Wed, 01 Jan 2025 00:00:30 GMT", NOW)).toBe(30_000);
    expect(parseRetryAfter("Tue, 31 Dec 2024 23:00:00 GMT", NOW)).toBe(0);
  });

  it("refuses negative, fractional and garbage values", () => {
    expect(parseRetryAfter("-5", NOW)).toBeUndefined();
    expect(parseRetryAfter("1.5", NOW)).toBeUndefined();
    expect(parseRetryAfter("soon", NOW)).toBeUndefined();
  });
});

describe("parseRateLimitReset", () => {
  it("reads delta seconds, and epoch seconds when too large for a delta", () => {
    expect(parseRateLimitReset("5", NOW)).toBe(5_000);
    expect(parseRateLimitReset(String(NOW / 1000 + 42), NOW)).toBe(42_000);
  });
});

describe("retryAfterFromHeaders", () => {
  it("prefers Retry-After, then RateLimit-Reset, X-RateLimit-Reset, then RateLimit t=", () => {
    expect(
      retryAfterFromHeaders(new Headers({ "retry-after": "3", "ratelimit-reset": "9" }), NOW),
    ).toEqual({
      delayMs: 3_000,
      source: "retry-after",
    });
    expect(retryAfterFromHeaders({ "RateLimit-Reset": "9" }, NOW)).toEqual({
      delayMs: 9_000,
      source: "ratelimit-reset",
    });
    expect(retryAfterFromHeaders({ "x-ratelimit-reset": "4" }, NOW)?.delayMs).toBe(4_000);
    expect(retryAfterFromHeaders({ ratelimit: '"default";r=0;t=7' }, NOW)?.delayMs).toBe(7_000);
    expect(retryAfterFromHeaders({ "content-type": "text/plain" }, NOW)).toBeUndefined();
  });

  it("skips an unreadable Retry-After for a readable reset header", () => {
    expect(retryAfterFromHeaders({ "retry-after": "later", "ratelimit-reset": "2" }, NOW)).toEqual({
      delayMs: 2_000,
      source: "ratelimit-reset",
    });
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
