import { describe, expect, it } from "vitest";
import { nestsTooDeeply } from "./value-depth.ts";

function chain(depth: number, wrap: (inner: unknown) => unknown): unknown {
  let value: unknown = 1;
  for (let level = 0; level < depth; level += 1) value = wrap(value);
  return value;
}

describe("nestsTooDeeply", () => {
  it.each<[string, (inner: unknown) => unknown]>([
    ["objects", (inner) => ({ inner })],
    ["arrays", (inner) => [0, inner]],
    ["sparse arrays", (inner) => Object.assign(new Array<unknown>(10), { 7: inner })],
    ["null-prototype objects", (inner) => Object.assign(Object.create(null) as object, { inner })],
    ["map keys", (inner) => new Map([[inner, 1]])],
    ["map values", (inner) => new Map([[1, inner]])],
    ["sets", (inner) => new Set([inner])],
  ])("counts levels of %s", (_name, wrap) => {
    expect(nestsTooDeeply(chain(10, wrap), 10)).toBe(false);
    expect(nestsTooDeeply(chain(11, wrap), 10)).toBe(true);
  });

  it("counts an error as devalue stores it: the error, its payload, its property record, then the properties", () => {
    const error = Object.assign(new Error("x"), { detail: { deeper: {} } });
    expect(nestsTooDeeply(error, 5)).toBe(false);
    expect(nestsTooDeeply(error, 4)).toBe(true);
  });

  it("walks shared references and cycles once, where devalue first meets them", () => {
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(nestsTooDeeply(cycle, 1)).toBe(false);
    const deep = chain(5, (inner) => ({ inner }));
    // devalue meets `deep` first at the top, so its nesting counts from there.
    expect(nestsTooDeeply({ first: deep, later: { again: deep } }, 6)).toBe(false);
    expect(nestsTooDeeply({ first: { again: deep }, later: deep }, 6)).toBe(true);
  });

  it("walks a huge sparse array by its populated indices", () => {
    const sparse: unknown[] = [];
    sparse[4_294_967_294] = { a: {} };
    expect(nestsTooDeeply(sparse, 2)).toBe(true);
    expect(nestsTooDeeply(sparse, 3)).toBe(false);
  });

  it("does not overflow on a value far deeper than the limit", () => {
    expect(nestsTooDeeply(chain(1_000_000, (inner) => ({ inner })))).toBe(true);
  });
});
