import { describe, expect, it } from "vitest";
import { parseRetryAfter, retryAfterMs } from "./retry-after.ts";

const now = Date.parse("2026-11-23T12:00:00Z");

describe("Retry-After", () => {
  it("reads delay-seconds", () => {
    expect(parseRetryAfter("2", now)).toBe(2_000);
    expect(parseRetryAfter(" 120 ", now)).toBe(120_000);
    expect(parseRetryAfter("0", now)).toBe(0);
  });

  it("reads an HTTP-date and clamps the past to zero", () => {
    expect(parseRetryAfter("Mon, 23 Nov 2026 12:00:30 GMT", now)).toBe(30_000);
    expect(parseRetryAfter("Mon, 23 Nov 2026 11:00:00 GMT", now)).toBe(0);
  });

  it("ignores values that are neither", () => {
    for (const value of ["", "-1", "1.5", "soon", "1e3", "99999999999"])
      expect(parseRetryAfter(value, now)).toBeUndefined();
  });

  it("prefers Retry-After and falls back to RateLimit-Reset", () => {
    expect(retryAfterMs({ "retry-after": "3", "ratelimit-reset": "10" }, now)).toBe(3_000);
    expect(retryAfterMs({ "ratelimit-reset": "10" }, now)).toBe(10_000);
    expect(retryAfterMs({ "retry-after": "garbage", "ratelimit-reset": "4" }, now)).toBe(4_000);
    expect(retryAfterMs({}, now)).toBeUndefined();
  });
});
