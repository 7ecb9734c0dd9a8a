/**
 * What a value the codec refuses is, and what to do about it, for the message of a
 * `value_not_storable` error (issue 11: name where, and what to do).
 */
import { builtInDefect } from "./value-operations.ts";

const SUPPORTED =
  "plain objects, arrays, strings, numbers, booleans, null, undefined, bigint, Date, Map, Set, RegExp, URL, typed arrays, ArrayBuffer and built-in errors";

/**
 * A phrase for `thing`, the part of a value the codec refused: `a function (store data, not
 * code)`, `an instance of class Order: ...`.
 */
export function describeUnstorable(thing: unknown): string {
  if (typeof thing === "function")
    return `a function${thing.name === "" ? "" : ` (${thing.name})`}: store data, not code`;
  if (typeof thing === "symbol")
    return `a symbol (${String(thing)}): store a string instead, such as its description`;
  if (typeof thing !== "object" || thing === null) return `a ${typeof thing}`;
  if (typeof (thing as { then?: unknown }).then === "function")
    return "a Promise (or thenable): await it and store what it resolves to";
  const prototype = Object.getPrototypeOf(thing) as object | null;
  if (prototype === Object.prototype || prototype === null)
    return "an object with enumerable symbol keys: use string keys";
  const defect = builtInDefect(thing);
  if (defect !== undefined) return defect;
  const className = constructorName(prototype);
  const builtIn = builtInAncestor(prototype);
  if (className === "Buffer")
    return "a Node.js Buffer (it would come back as a plain Uint8Array): store new Uint8Array(buffer) instead";
  if (builtIn === "Error")
    return `an instance of ${className}, a class extending Error (it would come back as a plain Error, failing instanceof ${className} on replay): store a plain object such as { name, message }, or throw the error`;
  if (builtIn !== undefined)
    return `an instance of ${className}, a class extending ${builtIn} (it would come back as a plain ${builtIn}): convert it to a ${builtIn} or a plain object`;
  return `${className === undefined ? "an object with a custom prototype" : `an instance of ${className}`}: only ${SUPPORTED} are stored; convert it to a plain object (for example with a toJSON-style method) and rebuild the instance after reading it`;
}

function constructorName(prototype: object | null): string | undefined {
  const constructor: unknown =
    prototype === null ? undefined : Reflect.get(prototype, "constructor");
  return typeof constructor === "function" && constructor.name !== ""
    ? constructor.name
    : undefined;
}

const ANCESTORS = ["Error", "Map", "Set", "Date", "Array", "RegExp", "Uint8Array", "ArrayBuffer"];

/** The name of the nearest listed built-in that `prototype` descends from, if any. */
function builtInAncestor(prototype: object | null): string | undefined {
  for (
    let current = prototype;
    current !== null;
    current = Object.getPrototypeOf(current) as object | null
  ) {
    const name = constructorName(current);
    if (name !== undefined && ANCESTORS.includes(name) && current === builtInPrototype(name))
      return name;
  }
  return undefined;
}

function builtInPrototype(name: string): unknown {
  const constructor = (globalThis as Record<string, unknown>)[name];
  return typeof constructor === "function"
    ? (constructor as { prototype: unknown }).prototype
    : undefined;
}
