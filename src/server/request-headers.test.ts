import { describe, expect, it } from "vitest";
import { isSteadfastError } from "../core/errors.ts";
import { parseIdempotencyKey, parsePreferWait } from "./request-headers.ts";

describe("parsePreferWait (RFC 7240)", () => {
  it.each([
    [undefined, undefined],
    ["wait=10", { seconds: 10, applied: "wait=10" }],
    ["respond-async, wait=5", { seconds: 5, applied: "wait=5" }],
    ["WAIT = 7", { seconds: 7, applied: "wait=7" }],
    ['wait="3"', { seconds: 3, applied: "wait=3" }],
    ["wait=0", { seconds: 0, applied: "wait=0" }],
    ["wait=120", { seconds: 60, applied: "wait=60" }],
    ["wait=5;foo=bar", { seconds: 5, applied: "wait=5" }],
    ["wait=4, wait=9", { seconds: 4, applied: "wait=4" }],
    ["return=minimal", undefined],
    ["wait=-1", undefined],
    ["wait=1.5", undefined],
    ["wait", undefined],
  ])("%j -> %j", (header, expected) => {
    expect(parsePreferWait(header)).toEqual(expected);
  });

  it("honours a smaller cap", () => {
    expect(parsePreferWait("wait=30", 10)).toEqual({ seconds: 10, applied: "wait=10" });
  });
});

describe("parseIdempotencyKey", () => {
  it.each([
    [undefined, undefined],
    ["order-42", "order-42"],
    ["  spaced  ", "spaced"],
    ['"quoted"', "quoted"],
    ['"with \\"escapes\\" \\\\ inside"', 'with "escapes" \\ inside'],
  ])("%j -> %j", (header, expected) => {
    expect(parseIdempotencyKey(header)).toBe(expected);
  });

  it.each([[""], ['""'], ['"unterminated'], ['"bad \\n escape"']])(
    "refuses %j naming the header",
    (header) => {
      let error: unknown;
      try {
        parseIdempotencyKey(header);
      } catch (caught) {
        error = caught;
      }
      expect(
        isSteadfastError(error) &&
          error.code === "invalid_request" &&
          error.issues[0]?.field === "Idempotency-Key",
      ).toBe(true);
    },
  );
});
