import { describe, expect, it } from "vitest";
import { isSteadfastError } from "../core/errors.ts";
import { parsePreferWait } from "./request-headers.ts";

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
    ["wait=4, wait=soon", { seconds: 4, applied: "wait=4" }],
    ["wait=99999999999", { seconds: 60, applied: "wait=60" }],
    ["wait=" + "9".repeat(400), { seconds: 60, applied: "wait=60" }],
    ["return=minimal", undefined],
    ["return=minimal, foo, =x", undefined],
    ["handling=lenient, wait=-1", undefined],
    ["wait=abc; x=y, Handling=LENIENT", undefined],
  ])("%j -> %j", (header, expected) => {
    expect(parsePreferWait(header)).toEqual(expected);
  });

  it("honours a smaller cap", () => {
    expect(parsePreferWait("wait=30", 10)).toEqual({ seconds: 10, applied: "wait=10" });
  });

  it.each([
    ["wait=-1", '"-1"'],
    ["wait=abc", '"abc"'],
    ["wait=1e9", '"1e9"'],
    ["wait=1.5", '"1.5"'],
    ["wait= +5", '"+5"'],
    ["wait", "no value"],
    ["wait=", "no value"],
    ["wait=soon, wait=5", '"soon"'],
    ["handling=strict, wait=0x10", '"0x10"'],
  ])("refuses %j naming the header, the fix and what was sent", (header, got) => {
    let error: unknown;
    try {
      parsePreferWait(header);
    } catch (caught) {
      error = caught;
    }
    expect(isSteadfastError(error) && error.code).toBe("invalid_request");
    const issue = isSteadfastError(error) ? error.issues[0] : undefined;
    expect(issue?.field).toBe("Prefer");
    expect(issue?.message).toBe(
      `wait must be whole seconds from 0 to 60, such as wait=10; got ${got} (send handling=lenient too to have an unusable wait ignored)`,
    );
  });
});
