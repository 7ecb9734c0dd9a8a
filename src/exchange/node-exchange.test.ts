import { describe, expect, it } from "vitest";
import { ParsedBodyError, parsedBodyBytes } from "./node-exchange.ts";

const text = (bytes: Uint8Array | undefined) =>
  bytes === undefined ? undefined : new TextDecoder().decode(bytes);

describe("parsedBodyBytes", () => {
  it("takes bytes as they are, a string as UTF-8, and nothing as no body", () => {
    expect(text(parsedBodyBytes(Buffer.from("a=1"), "application/x-www-form-urlencoded"))).toBe(
      "a=1",
    );
    expect(text(parsedBodyBytes("héllo", "text/plain"))).toBe("héllo");
    expect(parsedBodyBytes(undefined, "application/json")).toBeUndefined();
    expect(parsedBodyBytes(null, null)).toBeUndefined();
  });

  it("serialises a parsed JSON value again, for application/json and any +json type", () => {
    expect(text(parsedBodyBytes({ a: [1, 2] }, "application/json; charset=utf-8"))).toBe(
      '{"a":[1,2]}',
    );
    expect(text(parsedBodyBytes({ type: "x" }, "application/problem+json"))).toBe('{"type":"x"}');
    expect(text(parsedBodyBytes(42, "Application/JSON"))).toBe("42");
  });

  it("refuses a parsed value it cannot turn back into the body, naming the fix", () => {
    expect(() => parsedBodyBytes({ a: "1" }, "application/x-www-form-urlencoded")).toThrow(
      ParsedBodyError,
    );
    expect(() => parsedBodyBytes({ a: "1" }, null)).toThrow(
      /mount the durable endpoint or middleware before the parser/,
    );
  });
});
