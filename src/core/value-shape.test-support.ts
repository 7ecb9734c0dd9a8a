/**
 * A structural description of a value for the codec's tests: two values are faithful copies when
 * their descriptions are equal. Unlike `toEqual` or `util.isDeepStrictEqual` it tells `-0` from
 * `0`, an invalid Date from another invalid Date's twin (equal), `undefined` from a missing key
 * and from a hole, Map and Set order, prototypes, property enumerability, and shared references
 * and cycles (each object gets an id in visit order, and a second visit is `["ref", id]`).
 */

type Shape = string | Shape[];

/** The description of `value`; see the file comment. */
export function shapeOf(value: unknown): Shape {
  const ids = new Map<object, number>();

  function visit(thing: unknown): Shape {
    switch (typeof thing) {
      case "undefined":
        return "undefined";
      case "number":
        return `number:${Object.is(thing, -0) ? "-0" : String(thing)}`;
      case "bigint":
        return `bigint:${thing}`;
      case "string":
        return ["string", thing];
      case "boolean":
        return `boolean:${thing}`;
      case "symbol":
      case "function":
        return `unexpected ${typeof thing}`;
    }
    if (typeof thing !== "object" || thing === null) return "null";
    const seen = ids.get(thing);
    if (seen !== undefined) return ["ref", String(seen)];
    const id = String(ids.size);
    ids.set(thing, ids.size);
    const head = [kind(thing), id, prototypeName(thing)];
    if (thing instanceof Date) return [...head, String(thing.getTime())];
    if (thing instanceof Map) return [...head, ...[...thing].map(([k, v]) => [visit(k), visit(v)])];
    if (thing instanceof Set) return [...head, ...[...thing].map(visit)];
    if (thing instanceof RegExp)
      return [...head, thing.source, thing.flags, String(thing.lastIndex)];
    if (thing instanceof ArrayBuffer) return [...head, [...new Uint8Array(thing)].join(",")];
    if (ArrayBuffer.isView(thing))
      return [...head, visit(thing.buffer), String(thing.byteOffset), String(thing.byteLength)];
    if (thing instanceof URL || thing instanceof URLSearchParams)
      return [...head, thing.toString()];
    if (
      thing instanceof Number ||
      thing instanceof String ||
      thing instanceof Boolean ||
      thing instanceof BigInt
    )
      return [...head, visit(thing.valueOf())];
    if (Array.isArray(thing)) {
      const items: Shape[] = [];
      for (let index = 0; index < thing.length; index += 1)
        items.push(Object.hasOwn(thing, index) ? visit(thing[index]) : "hole");
      return [...head, `length:${thing.length}`, ...items];
    }
    return [...head, ...ownProperties(thing)];
  }

  function ownProperties(thing: object): Shape[] {
    return Reflect.ownKeys(thing).map((key) => {
      const descriptor = Object.getOwnPropertyDescriptor(thing, key)!;
      const content =
        "value" in descriptor ? visit(descriptor.value) : visit(Reflect.get(thing, key));
      return [String(key), descriptor.enumerable === true ? "enumerable" : "hidden", content];
    });
  }

  return visit(value);
}

function kind(thing: object): string {
  return Object.prototype.toString.call(thing).slice(8, -1);
}

function prototypeName(thing: object): string {
  const prototype = Object.getPrototypeOf(thing) as object | null;
  if (prototype === null) return "null-prototype";
  const constructor: unknown = Object.getOwnPropertyDescriptor(prototype, "constructor")?.value;
  return typeof constructor === "function" ? constructor.name : "anonymous prototype";
}
