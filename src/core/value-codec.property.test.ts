import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeValue, encodeValue } from "./value-codec.ts";
import { shapeOf } from "./value-shape.test-support.ts";

/** Keys that are easy to get wrong, among arbitrary ones. */
const key = fc.oneof(
  fc.string({ maxLength: 6 }),
  fc.constantFrom(
    "__proto__",
    "~__proto__",
    "~~__proto__",
    "constructor",
    "prototype",
    "toString",
    "0",
    "length",
  ),
);

function ownData<T extends object>(target: T, entries: readonly (readonly [string, unknown])[]): T {
  for (const [name, value] of entries)
    Object.defineProperty(target, name, {
      value,
      writable: true,
      enumerable: true,
      configurable: true,
    });
  return target;
}

const leaf = fc.oneof(
  fc.double(), // NaN, -0, Infinity included
  fc.integer(),
  fc.bigInt(),
  fc.string(),
  fc.boolean(),
  fc.constantFrom(undefined, null),
  fc.date({ noInvalidDate: false }),
  fc.uint8Array({ maxLength: 8 }),
  fc.oneof(
    fc.int8Array({ maxLength: 4 }),
    fc.uint16Array({ maxLength: 4 }),
    fc.int32Array({ maxLength: 4 }),
    fc.float32Array({ maxLength: 4 }),
    fc.float64Array({ maxLength: 4 }),
    fc.bigInt64Array({ maxLength: 4 }),
    fc.bigUint64Array({ maxLength: 4 }),
    fc.uint8ClampedArray({ maxLength: 4 }),
  ),
  fc.uint8Array({ maxLength: 8 }).map((bytes) => bytes.buffer),
  fc.constantFrom(/x+/g, new URL("https://example.com/p?q=1")),
  fc
    .tuple(fc.constantFrom(Error, TypeError, RangeError), fc.string())
    .map(([Kind, message]) => ownData(new Kind(message), [["code", message.length]])),
);

const { value } = fc.letrec<{
  value: unknown;
  object: object;
  array: unknown[];
  sparse: unknown[];
}>((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    leaf,
    tie("object"),
    tie("array"),
    tie("sparse"),
    fc
      .array(fc.tuple(tie("value"), tie("value")), { maxLength: 4 })
      .map((entries) => new Map(entries)),
    fc.array(tie("value"), { maxLength: 4 }).map((items) => new Set(items)),
    tie("object").map((object) => ({ first: object, second: object })), // a shared reference
    tie("object").map((object) => ownData(object, [["self", object]])), // a cycle
  ),
  object: fc.oneof(
    fc.array(fc.tuple(key, tie("value")), { maxLength: 5 }).map((entries) => ownData({}, entries)),
    fc
      .array(fc.tuple(key, tie("value")), { maxLength: 3 })
      .map((entries) => ownData(Object.create(null) as object, entries)),
  ),
  array: fc.array(tie("value"), { maxLength: 5 }),
  sparse: fc.sparseArray(tie("value"), { maxLength: 20, maxNumElements: 4 }),
}));

describe("the value codec, on arbitrary values", () => {
  it("decodes exactly what it encoded", () => {
    fc.assert(
      fc.property(value, (original) => {
        const encoded = encodeValue(original, "value");
        expect(shapeOf(decodeValue(encoded.text, "value"))).toEqual(shapeOf(original));
        expect(encoded.bytes).toBe(new TextEncoder().encode(encoded.text).length);
      }),
      { numRuns: 400 },
    );
  });

  it("encodes a decoded value to the same text", () => {
    fc.assert(
      fc.property(value, (original) => {
        const { text } = encodeValue(original, "value");
        expect(encodeValue(decodeValue(text, "value"), "value").text).toBe(text);
      }),
      { numRuns: 200 },
    );
  });

  it("never throws anything but a ValueCodecError on arbitrary text, nor pollutes a prototype", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.json().map((json) => `dv1:${json}`),
        ),
        (text) => {
          try {
            decodeValue(text, "input");
          } catch (error) {
            expect((error as { code?: unknown }).code).toBe("value_unreadable");
          }
          expect(({} as Record<string, unknown>).polluted).toBeUndefined();
        },
      ),
      { numRuns: 300 },
    );
  });
});
