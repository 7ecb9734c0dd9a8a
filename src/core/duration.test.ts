import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MAX_DURATION_MS, parseDuration } from "./duration.ts";
import type { Duration } from "./duration.ts";
import { isTerminalError } from "./errors.ts";

describe("parseDuration", () => {
  it.each<[Duration, number]>([
    [0, 0],
    [1_500, 1_500],
    [-0, 0],
    [0.2, 1],
    ["500ms", 500],
    ["10s", 10_000],
    ["10m", 600_000],
    ["1.5h", 5_400_000],
    ["2h", 7_200_000],
    ["1d", 86_400_000],
    ["1w", 604_800_000],
    ["2 days", 172_800_000],
    [".5s", 500],
    ["0s", 0],
    ["1y", 31_557_600_000],
    ["1.5ms", 2],
  ])("reads %j as %d ms", (value, expected) => {
    expect(parseDuration(value, "sleep duration")).toBe(expected);
  });

  it.each<[unknown, RegExp]>([
    [-1, /sleep duration must not be negative; got -1$/],
    ["-5m", /sleep duration must not be negative; got "-5m"$/],
    ["-0s", /must not be negative/],
    [
      Number.NaN,
      /sleep duration must be a finite number of milliseconds or a string such as "500ms", .*; got NaN$/,
    ],
    [Infinity, /must be a finite number .*; got Infinity$/],
    ["", /sleep duration must not be empty: give a duration such as "500ms"/],
    ["   ", /must not be empty/],
    [
      "10",
      /sleep duration needs a unit, such as "500ms", .* \(or pass a number of milliseconds\); got "10"$/,
    ],
    [
      "10x",
      /sleep duration is not a duration: write a number and one unit \(ms, s, m, h, d, w or y\).*; got "10x"$/,
    ],
    ["1M", /must use a lowercase unit .* "M" is not months; got "1M"$/],
    ["1h30m", /is not a duration/],
    ["m", /is not a duration/],
    [" 10m", /is not a duration/],
    ["1e3ms", /is not a duration/],
    [
      "367d",
      /sleep duration must be at most 366 days \(31622400000 ms\): for a later time, give a date \(sleepUntil\)/,
    ],
    [1_733_000_000_000, /must be at most 366 days.*; got 1733000000000$/],
    [{}, /sleep duration must be a number of milliseconds or a string such as .*; got object$/],
  ])("refuses %j", (value, message) => {
    let refusal: unknown;
    try {
      parseDuration(value as Duration, "sleep duration");
    } catch (error) {
      refusal = error;
    }
    expect(isTerminalError(refusal) && refusal.code).toBe("invalid_option");
    expect((refusal as Error).message).toMatch(message);
  });

  it("takes a smaller or larger maximum", () => {
    expect(() => parseDuration("2s", "timeout", { maxMs: 1_000 })).toThrow(
      /timeout must be at most 1 second \(1000 ms\)/,
    );
    expect(parseDuration("2y", "timeout", { maxMs: 2 * MAX_DURATION_MS })).toBe(63_115_200_000);
  });

  it("accepts every whole number of milliseconds up to the maximum, as it is", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: MAX_DURATION_MS }), (milliseconds) => {
        expect(parseDuration(milliseconds, "timeout")).toBe(milliseconds);
        expect(parseDuration(`${milliseconds}ms`, "timeout")).toBe(milliseconds);
      }),
    );
  });
});
