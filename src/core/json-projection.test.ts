import { describe, expect, it } from "vitest";
import { CIRCULAR, MAX_PROJECTED_VALUES, TRUNCATED, toJsonValue } from "./json-projection.ts";
import { decodeValue, encodeValue } from "./value-codec.ts";

/** The projection of `value` after a trip through the codec, as the run view makes it. */
const stored = (value: unknown): unknown =>
  toJsonValue(decodeValue(encodeValue(value, "value").text, "value"));

describe("toJsonValue", () => {
  it("keeps JSON as it is", () => {
    const value = { a: [1, "two", true, null, { b: 2.5 }], c: "" };
    expect(stored(value)).toEqual(value);
  });

  it("projects the numbers JSON has no form for: NaN and infinities as null, -0 as 0, BigInt as a string", () => {
    expect(stored([Number.NaN, Infinity, -Infinity, -0, 12_345_678_901_234_567_890n])).toEqual([
      null,
      null,
      null,
      0,
      "12345678901234567890",
    ]);
    expect(Object.is((stored([-0]) as number[])[0], 0)).toBe(true);
  });

  it("leaves out undefined properties, turns undefined elements and holes into null", () => {
    // eslint-disable-next-line no-sparse-arrays -- a hole is the point
    const projected = stored({ gone: undefined, kept: 1, list: [undefined, , 3] });
    expect(projected).toEqual({ kept: 1, list: [null, null, 3] });
    expect(Object.keys(projected as object)).toEqual(["kept", "list"]);
    expect(toJsonValue(undefined)).toBeUndefined();
  });

  it("projects Date, Map, Set, RegExp, URL, URLSearchParams and boxed primitives", () => {
    expect(
      stored({
        at: new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 6)),
        invalid: new Date(Number.NaN),
        map: new Map<unknown, unknown>([
          ["k", new Set([1, 2])],
          [{ x: 1 }, 2n],
        ]),
        set: new Set(["b", "a"]),
        re: /a+b/giu,
        url: new URL("https://example.com/a?b=1"),
        params: new URLSearchParams("x=1&y=2"),
        boxed: [Object(1), Object("s"), Object(true), Object(3n)],
      }),
    ).toEqual({
      at: "2026-01-02T03:04:05.006Z",
      invalid: null,
      map: [
        ["k", [1, 2]],
        [{ x: 1 }, "2"],
      ],
      set: ["b", "a"],
      re: "/a+b/giu",
      url: "https://example.com/a?b=1",
      params: "x=1&y=2",
      boxed: [1, "s", true, "3"],
    });
  });

  it("shows bytes as base64 and other typed arrays as arrays of numbers", () => {
    const bytes = new Uint8Array([0, 1, 2, 250, 255]);
    const buffer = new ArrayBuffer(4);
    new Uint8Array(buffer).set([104, 105, 33, 0]);
    expect(
      stored({
        bytes,
        slice: bytes.subarray(1, 3),
        clamped: new Uint8ClampedArray([255]),
        buffer,
        view: new DataView(buffer, 0, 3),
        floats: new Float64Array([1.5, Number.NaN]),
        bigints: new BigInt64Array([-1n]),
      }),
    ).toEqual({
      bytes: "AAEC+v8=",
      slice: "AQI=",
      clamped: "/w==",
      buffer: "aGkhAA==",
      view: "aGkh",
      floats: [1.5, null],
      bigints: ["-1"],
    });
  });

  it("shows an error's name, message, own properties and cause, never its stack", () => {
    const error = Object.assign(new TypeError("bad card", { cause: new Error("root") }), {
      code: "card_declined",
    });
    expect(stored({ error, many: new AggregateError([new RangeError("r")], "several") })).toEqual({
      error: {
        name: "TypeError",
        message: "bad card",
        code: "card_declined",
        cause: { name: "Error", message: "root" },
      },
      many: {
        name: "AggregateError",
        message: "several",
        errors: [{ name: "RangeError", message: "r" }],
      },
    });
  });

  it("keeps __proto__ and constructor keys as data", () => {
    const value = JSON.parse('{"__proto__": {"polluted": true}, "constructor": 1}') as object;
    const projected = stored(value) as Record<string, unknown>;
    expect(Object.getPrototypeOf(projected)).toBe(Object.prototype);
    expect(Object.hasOwn(projected, "__proto__")).toBe(true);
    expect(JSON.stringify(projected)).toBe('{"__proto__":{"polluted":true},"constructor":1}');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("marks a reference back to an enclosing value, and repeats a shared one", () => {
    const shared = { n: 1 };
    const cyclic: Record<string, unknown> = { shared, again: shared };
    cyclic.self = cyclic;
    const map = new Map<string, unknown>();
    map.set("me", map);
    expect(stored({ cyclic, map })).toEqual({
      cyclic: { shared: { n: 1 }, again: { n: 1 }, self: CIRCULAR },
      map: [["me", CIRCULAR]],
    });
  });

  it("stops at MAX_PROJECTED_VALUES: a small value of shared references cannot expand without bound", () => {
    let value: unknown[] = [1];
    for (let i = 0; i < 40; i++) value = [value, value]; // 2^40 leaves, 41 arrays stored
    const text = JSON.stringify(toJsonValue(value));
    expect(text).toContain(`"${TRUNCATED}"`);
    expect(text.length).toBeLessThan(MAX_PROJECTED_VALUES * 20);
  });
});
