import { describe, expect, it } from "vitest";
import {
  HEADER_VALUE_PATTERN,
  headerNameProblem,
  headerValueProblem,
  METHOD_PATTERN,
  methodProblem,
} from "./http-fields.ts";

describe("headerValueProblem", () => {
  it.each([
    ["a\rb", "a carriage return (CR), U+000D, at position 1"],
    ["a\nb", "a line feed (LF), U+000A, at position 1"],
    ["\0", "a NUL character, U+0000, at position 0"],
    ["ab\x7f", "a DEL character, U+007F, at position 2"],
    ["\x1b[31m", "a control character (U+001B) at position 0"],
    ["price in \u20ac", "a character outside Latin-1 (U+20AC) at position 9"],
    ["\u{1F600}", "a character outside Latin-1 (U+1F600) at position 0"],
  ])("refuses %j, naming the character and where it is", (value, what) => {
    const problem = headerValueProblem(value);
    expect(problem).toBe(
      `contains ${what}; a header value may hold only visible ASCII, spaces, tabs and Latin-1 characters (encode other text, for example as percent-encoding or base64)`,
    );
    expect(HEADER_VALUE_PATTERN.test(value)).toBe(false);
  });

  it.each([" ", "   ", "\t", " \t "])("refuses the whitespace-only value %j", (value) => {
    expect(headerValueProblem(value)).toMatch(/^is only whitespace/);
  });

  it.each(["", "Bearer abc.def", "a\tb", " padded ", "caf\u00e9", "\u00ff\u0080", "~!@#$%^&*()"])(
    "accepts %j",
    (value) => {
      expect(headerValueProblem(value)).toBeUndefined();
      expect(HEADER_VALUE_PATTERN.test(value)).toBe(true);
    },
  );

  it("never quotes the value (it may be a secret)", () => {
    expect(headerValueProblem("Bearer s3cret\n")).not.toContain("s3cret");
  });
});

describe("headerNameProblem", () => {
  it.each([
    "Host",
    "content-length",
    "Transfer-Encoding",
    "Expect",
    "Connection",
    "keep-alive",
    "Upgrade",
    "TE",
    "Trailer",
    "Proxy-Connection",
  ])("refuses %s, saying why", (name) => {
    expect(headerNameProblem(name)).toMatch(/; remove it$|in the url$/);
  });

  it("refuses names that are not tokens and accepts others", () => {
    expect(headerNameProblem("X Bad")).toBe("must be a valid header name");
    expect(headerNameProblem("X-Bad\r\n")).toBe("must be a valid header name");
    expect(headerNameProblem("Idempotency-Key")).toBeUndefined();
    expect(headerNameProblem("x-a.b_c~d")).toBeUndefined();
  });
});

describe("methodProblem", () => {
  it.each(["CONNECT", "connect", "Connect"])("refuses %s: a tunnel is not a call", (method) => {
    expect(methodProblem(method)).toMatch(/^CONNECT opens a tunnel/);
  });

  it.each(["GET /", "M-SEARCH", "", "ABCDEFGHIJKLMNOPQ", "GET\r\n"])("refuses %j", (method) => {
    expect(methodProblem(method)).toBe("must be an HTTP method such as GET or POST");
    expect(METHOD_PATTERN.test(method)).toBe(false);
  });

  it.each(["GET", "post", "PATCH", "PROPFIND", "CONNECTS", "TRACE"])("accepts %s", (method) => {
    expect(methodProblem(method)).toBeUndefined();
    expect(METHOD_PATTERN.test(method)).toBe(true);
  });
});
