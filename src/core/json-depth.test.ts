import { describe, expect, it } from "vitest";
import { MAX_JSON_DEPTH, nestsDeeperThan } from "./json-depth.ts";

describe("nestsDeeperThan", () => {
  it("counts levels of arrays and objects; scalars are none", () => {
    expect(nestsDeeperThan("a", 0)).toBe(false);
    expect(nestsDeeperThan(null, 0)).toBe(false);
    expect(nestsDeeperThan({}, 0)).toBe(true);
    expect(nestsDeeperThan({}, 1)).toBe(false);
    expect(nestsDeeperThan({ a: [1, { b: "c" }] }, 2)).toBe(true);
    expect(nestsDeeperThan({ a: [1, { b: "c" }] }, 3)).toBe(false);
    // The deepest branch counts, wherever it is.
    expect(nestsDeeperThan([1, [], [[]], { a: { b: { c: {} } } }, "x"], 5)).toBe(false);
    expect(nestsDeeperThan([1, [], [[]], { a: { b: { c: {} } } }, "x"], 4)).toBe(true);
    expect(nestsDeeperThan([1, [], [[]], { a: { b: { c: { d: 1 } } } }, "x"], 5)).toBe(false);
    expect(nestsDeeperThan([1, [], [[]], { a: { b: { c: { d: [] } } } }, "x"], 5)).toBe(true);
  });

  it("measures half a million levels, and a value that contains itself, without recursing", () => {
    const text = "[".repeat(500_000) + "]".repeat(500_000);
    // V8's JSON.parse is iterative: a document of any depth parses, and reaches this check.
    expect(nestsDeeperThan(JSON.parse(text), MAX_JSON_DEPTH)).toBe(true);
    const cyclic: Record<string, unknown> = { list: [] };
    cyclic.self = cyclic;
    (cyclic.list as unknown[]).push(cyclic);
    expect(nestsDeeperThan(cyclic, MAX_JSON_DEPTH)).toBe(true);
  });

  it("defaults to MAX_JSON_DEPTH, 64 levels", () => {
    let value: unknown = 1;
    for (let i = 0; i < MAX_JSON_DEPTH; i++) value = { v: value };
    expect(MAX_JSON_DEPTH).toBe(64);
    expect(nestsDeeperThan(value)).toBe(false);
    expect(nestsDeeperThan([value])).toBe(true);
  });
});
