import { afterEach, describe, expect, it } from "vitest";
import { VALUE_FORMAT, decodeValue, encodeValue } from "./value-codec.ts";
import { MAX_VALUE_DEPTH } from "./value-depth.ts";
import { isValueCodecError } from "./value-errors.ts";
import type { ValueCodecError } from "./value-errors.ts";
import { shapeOf } from "./value-shape.test-support.ts";
import { utf8ByteLength } from "./value-size.ts";

function roundTrip<T>(value: T): T {
  return decodeValue(encodeValue(value, "value").text, "value") as T;
}

function expectFaithful(value: unknown): void {
  expect(shapeOf(roundTrip(value))).toEqual(shapeOf(value));
}

function codecError(run: () => unknown): ValueCodecError {
  try {
    run();
  } catch (error) {
    if (isValueCodecError(error)) return error;
    throw error;
  }
  throw new Error("expected a ValueCodecError");
}

function withOwnProperty<T extends object>(target: T, key: string, value: unknown): T {
  Object.defineProperty(target, key, {
    value,
    writable: true,
    enumerable: true,
    configurable: true,
  });
  return target;
}

const objectPrototypeKeys = Reflect.ownKeys(Object.prototype);
afterEach(() => {
  // No test may leave anything on Object.prototype (a polluted prototype would be silent).
  expect(Reflect.ownKeys(Object.prototype)).toEqual(objectPrototypeKeys);
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
});

describe("encodeValue and decodeValue", () => {
  it("keep what JSON loses: undefined, NaN, Infinity, -0, BigInt", () => {
    const value = {
      u: undefined,
      list: [undefined, NaN, Infinity, -Infinity, -0, 0],
      big: 2n ** 70n,
    };
    const back = roundTrip(value);
    expect(Object.keys(back)).toEqual(["u", "list", "big"]);
    expect(Object.is(back.list[4], -0)).toBe(true);
    expectFaithful(value);
    expectFaithful(undefined);
    expectFaithful(-0);
    expectFaithful(null);
    expectFaithful("a string with \u2028 and <script> and \ud83d\ude00");
  });

  it("keep undefined apart from a missing key and from a hole", () => {
    const back = roundTrip({ present: undefined, list: [1, , undefined] }); // eslint-disable-line no-sparse-arrays
    expect(Object.hasOwn(back, "present")).toBe(true);
    expect(Object.hasOwn(back.list, 1)).toBe(false);
    expect(Object.hasOwn(back.list, 2)).toBe(true);
    const sparse: unknown[] = [];
    sparse[1_000_000] = "far";
    expectFaithful(sparse);
  });

  it("keep dates, an invalid date too, maps and sets in order, regexps, URLs, boxed primitives", () => {
    expectFaithful({
      at: new Date(1_700_000_000_123),
      invalid: new Date(Number.NaN),
      map: new Map<unknown, unknown>([
        ["z", 1],
        [{ key: "object" }, new Set([3, 1, 2])],
        [1n, new Date(0)],
      ]),
      pattern: /a+b/giu,
      url: new URL("https://example.com/a?b=1#c"),
      params: new URLSearchParams("a=1&a=2"),
      boxed: [Object(1), Object("s"), Object(false), Object(3n)] as unknown[],
    });
    expect(roundTrip(new Date(Number.NaN)).getTime()).toBeNaN();
  });

  it("keep typed arrays, DataView and ArrayBuffer, sharing a buffer", () => {
    const buffer = new ArrayBuffer(16);
    new Uint8Array(buffer).set([1, 2, 3, 250, 255, 0, 7, 9]);
    const value = {
      bytes: new Uint8Array([0, 1, 255]),
      window: new Uint8Array(buffer, 4, 4),
      floats: new Float64Array([Number.NaN, -0, 1.5]),
      halves: new Float16Array([1.5, -2]),
      words: new Int32Array(buffer, 8, 2),
      bigs: new BigInt64Array([-(2n ** 63n), 5n]),
      clamped: new Uint8ClampedArray([300]),
      view: new DataView(buffer, 2, 6),
      raw: buffer,
    };
    const back = roundTrip(value);
    expect(back.window.buffer).toBe(back.raw);
    expect(back.view.buffer).toBe(back.raw);
    expect([...back.bytes]).toEqual([0, 1, 255]);
    expectFaithful(value);
  });

  it("keep shared references and cycles", () => {
    const shared = { n: 1 };
    const cycle: Record<string, unknown> = { shared, again: shared };
    cycle.self = cycle;
    const map = new Map<string, unknown>();
    map.set("me", map);
    const back = roundTrip({ cycle, map });
    expect(back.cycle.self).toBe(back.cycle);
    expect(back.cycle.again).toBe(back.cycle.shared);
    expect(back.map.get("me")).toBe(back.map);
    expectFaithful({ cycle, map });
  });

  it("keep null-prototype objects and the keys __proto__, constructor and prototype as own data", () => {
    const value = withOwnProperty(
      { constructor: "c", prototype: { polluted: true }, "~__proto__": 1, "~~__proto__": 2 },
      "__proto__",
      { polluted: true },
    );
    const bare = withOwnProperty(Object.create(null) as object, "__proto__", "x");
    const back = roundTrip({ value, bare });
    expect(Object.getPrototypeOf(back.value)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(back.value, "__proto__")?.value).toEqual({
      polluted: true,
    });
    expect((back.value as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(back.bare)).toBeNull();
    expectFaithful({ value, bare });
  });

  it("keep errors of the built-in classes: class, message, stack, cause and own properties", () => {
    const error = new TypeError("bad input", { cause: new Error("root") });
    Object.assign(error, { code: "E_INPUT", details: { field: "x" } });
    const aggregate = new AggregateError([new RangeError("r")], "several");
    const bare = new Error();
    const value = { error, aggregate, bare, again: error };
    const back = roundTrip(value);
    expect(back.error).toBeInstanceOf(TypeError);
    expect(back.error.stack).toBe(error.stack);
    expect(back.error.cause).toBeInstanceOf(Error);
    expect(back.aggregate).toBeInstanceOf(AggregateError);
    expect(back.aggregate.errors[0]).toBeInstanceOf(RangeError);
    expect(Object.hasOwn(back.bare, "message")).toBe(false);
    expect(back.again).toBe(back.error);
    expectFaithful(value);
  });

  it("tag the text with its format and report its size in UTF-8 bytes", () => {
    const encoded = encodeValue({ text: "héllo €" }, "output");
    expect(encoded.text.startsWith(`${VALUE_FORMAT}:`)).toBe(true);
    expect(encoded.bytes).toBe(new TextEncoder().encode(encoded.text).length);
    expect(utf8ByteLength("a\u00e9\u20ac\ud83d\ude00")).toBe(1 + 2 + 3 + 4);
    expect(utf8ByteLength("\ud800")).toBe(new TextEncoder().encode("\ud800").length);
  });
});

describe("encodeValue refuses what it cannot store, naming where and what to do", () => {
  it.each([
    [
      "a function",
      { items: [1, 2, { fn: () => 1 }] },
      "output.items[2].fn",
      /a function \(fn\): store data, not code/,
    ],
    ["a symbol", { tag: Symbol("t") }, "output.tag", /a symbol/],
    ["a Promise", { later: Promise.resolve(1) }, "output.later", /await it/],
    [
      "a class instance",
      { order: new (class Order {})() },
      "output.order",
      /an instance of Order: only plain objects/,
    ],
    ["a Buffer", { file: Buffer.from("x") }, "output.file", /Buffer.*new Uint8Array\(buffer\)/],
    [
      "a Map subclass",
      { index: new (class Index extends Map {})() },
      "output.index",
      /class extending Map/,
    ],
    [
      "an Error subclass",
      { failure: new (class PaymentError extends Error {})("no") },
      "output.failure",
      /instanceof PaymentError/,
    ],
    [
      "a RegExp match",
      { match: /b/.exec("abc") },
      "output.match",
      /non-index properties \(index, input, groups\)/,
    ],
    ["a RegExp mid-match", [/a/g].map((re) => (re.exec("aa"), re)), "output[0]", /lastIndex is 1/],
    ["symbol keys", { meta: { [Symbol("k")]: 1 } }, "output.meta", /enumerable symbol keys/],
    ["a value inside a Map", new Map([["k", () => 1]]), 'output.get("k")', /a function/],
    [
      "a shared buffer",
      { shared: new SharedArrayBuffer(4) },
      "output.shared",
      /an instance of SharedArrayBuffer/,
    ],
    ["a WeakMap", [new WeakMap()], "output[0]", /an instance of WeakMap/],
    [
      "a function under a __proto__ key",
      withOwnProperty({}, "__proto__", { "~__proto__": { fn: () => 1 } }),
      'output["__proto__"]["~__proto__"].fn',
      /a function/,
    ],
  ])("%s", (_name, value, path, message) => {
    const error = codecError(() => encodeValue(value, "output"));
    expect(error.code).toBe("value_not_storable");
    expect(error.path).toBe(path);
    expect(error.message).toContain(`${path} cannot be stored`);
    expect(error.message).toMatch(message);
  });

  it("a resizable ArrayBuffer", () => {
    const error = codecError(() =>
      encodeValue({ b: new ArrayBuffer(4, { maxByteLength: 8 }) }, "input"),
    );
    expect(error.message).toMatch(/input\.b cannot be stored: it is a resizable ArrayBuffer/);
  });

  it.each<[string, (error: Error) => void]>([
    ["through its cause", (error) => (error.cause = error)],
    ["through an object in its cause", (error) => (error.cause = { parent: error })],
    ["through an own property", (error) => Object.assign(error, { self: [error] })],
    ["through another error", (error) => (error.cause = new TypeError("inner", { cause: error }))],
  ])("an error that refers back to itself %s", (_name, link) => {
    const error = new Error("loop");
    link(error);
    expect(codecError(() => encodeValue({ error }, "output")).message).toMatch(
      /output holds an Error that cannot be read back once stored, because it refers back to itself/,
    );
  });

  it("a value nested more than 1,000 levels deep, so that whatever encodes decodes", () => {
    const nest = (depth: number) => {
      let value: unknown = "leaf";
      for (let level = 0; level < depth; level += 1) value = { next: value };
      return value;
    };
    expect(codecError(() => encodeValue(nest(MAX_VALUE_DEPTH + 1), "output")).message).toMatch(
      /output nests more than 1000 levels deep .*: flatten it/,
    );
    expect(codecError(() => encodeValue(nest(100_000), "output")).code).toBe("value_not_storable");
    // Warm the encoder up (the JIT shrinks its frames) before the deepest value it accepts.
    for (let round = 0; round < 200; round += 1) encodeValue(nest(MAX_VALUE_DEPTH - 100), "output");
    let back = roundTrip(nest(MAX_VALUE_DEPTH));
    let depth = 0;
    for (; typeof back === "object" && back !== null; depth += 1)
      back = (back as { next: unknown }).next;
    expect([depth, back]).toEqual([MAX_VALUE_DEPTH, "leaf"]);
  });

  it("leaves an error thrown by the value itself (a getter) as it is", () => {
    const failure = new RangeError("getter failed");
    const value = {
      get broken(): never {
        throw failure;
      },
    };
    expect(() => encodeValue(value, "output")).toThrow(failure);
  });
});

describe("decodeValue never misreads and cannot pollute", () => {
  it("refuses an unknown format, naming it", () => {
    const error = codecError(() => decodeValue("cbor2:AAEC", 'result of step "charge"'));
    expect(error.code).toBe("value_unreadable");
    expect(error.message).toContain('format "cbor2"');
    expect(error.message).toContain('result of step "charge"');
  });

  it.each(["", "[1]", '{"a":1}', "DV1:[1]", ":[1]"])("refuses untagged text %j", (text) => {
    expect(codecError(() => decodeValue(text, "input")).message).toMatch(
      /input is not a stored value: it does not start with a format tag/,
    );
  });

  it.each([
    ["a raw __proto__ key", '[{"__proto__":1},{"polluted":2},true]'],
    [
      "a raw __proto__ key in a null-prototype object",
      '[["null","__proto__",1],{"polluted":2},true]',
    ],
    ["invalid JSON", "[{"],
    ["an index out of range", '[{"a":7}]'],
    ["an unknown type", '[["Function","return 1"]]'],
    ["a Temporal tag", '[["Temporal.Instant","1970-01-01T00:00:00Z"]]'],
    [
      "an error of an unknown class",
      '[["Error",1],{"type":2,"enumerable":3,"hidden":3},"Function",{}]',
    ],
    ["an error without properties", '[["Error",1],{"type":2},"TypeError"]'],
  ])("refuses %s", (_name, payload) => {
    const error = codecError(() => decodeValue(`${VALUE_FORMAT}:${payload}`, "input"));
    expect(error.code).toBe("value_unreadable");
    expect(error.message).toContain(`input is not a valid "${VALUE_FORMAT}" payload`);
  });

  it("reads hand-written escaped keys as own data, never as prototypes", () => {
    const value = decodeValue(
      `${VALUE_FORMAT}:[{"~__proto__":1,"constructor":1,"prototype":1},{"polluted":2},true]`,
      "input",
    ) as Record<string, unknown>;
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(Object.keys(value)).toEqual(["__proto__", "constructor", "prototype"]);
    expect(value.polluted).toBeUndefined();
    expect(Object.getOwnPropertyDescriptor(value, "__proto__")?.value).toEqual({ polluted: true });
  });

  it("gives a hand-written error only its own properties, never another prototype", () => {
    const error = decodeValue(
      `${VALUE_FORMAT}:[["Error",1],{"type":2,"enumerable":3,"hidden":5},"RangeError",{"~__proto__":4},{"polluted":6},{"message":7},true,"m"]`,
      "input",
    ) as RangeError;
    expect(Object.getPrototypeOf(error)).toBe(RangeError.prototype);
    expect(error.message).toBe("m");
    expect((error as unknown as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getOwnPropertyDescriptor(error, "__proto__")?.value).toEqual({ polluted: true });
  });

  it("does not allocate a huge sparse array's length", () => {
    const value = decodeValue(`${VALUE_FORMAT}:[[-7,4294967295,0,1],"x"]`, "input") as unknown[];
    expect(value.length).toBe(4_294_967_295);
    expect(value[0]).toBe("x");
  });
});
