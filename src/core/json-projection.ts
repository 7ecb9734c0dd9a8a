/**
 * The JSON projection of a stored value (issue 11, "Over HTTP and the CLI"): how a run's input,
 * output and step outputs, which the value codec keeps faithfully (`value-codec.ts`), are shown
 * as plain JSON by `GET /v1/runs/:id` and `steadfast runs show`. One rule, here, documented in
 * docs/values.md ("Values over HTTP"):
 *
 * - `null`, booleans, strings and finite numbers as they are (`-0` as `0`); `NaN`, `Infinity`
 *   and `-Infinity` as `null`; a `BigInt` as its decimal string (`12345678901234567890n` ->
 *   `"12345678901234567890"`);
 * - `undefined`: an object property holding it is left out, an array element is `null`, a value
 *   that is `undefined` itself is absent from the view (as `JSON.stringify` does); array holes
 *   are `null`;
 * - `Date` as its ISO 8601 string (an invalid one as `null`); `Map` as an array of `[key, value]`
 *   pairs in order; `Set` as an array in order; `RegExp` as `"/source/flags"`; `URL` and
 *   `URLSearchParams` as their strings; a boxed primitive as its primitive;
 * - bytes (`Uint8Array`, `Uint8ClampedArray`, `ArrayBuffer`, `DataView`) as a base64 string;
 *   the other typed arrays as arrays of numbers (`BigInt64Array` elements as strings);
 * - an `Error` as `{ name, message }` with its own enumerable properties (`code`...) and its
 *   `cause`; never its stack;
 * - plain and null-prototype objects as objects of their own enumerable string keys (a
 *   `__proto__` key stays an ordinary key);
 * - a value that contains itself: the inner reference as the string `"[Circular]"`; a value
 *   reached twice (a shared reference) is shown at each place;
 * - at most `MAX_PROJECTED_VALUES` values in all: past it, each further value is the string
 *   `"[Truncated]"` (shared references can make a small stored value expand without bound).
 *
 * The projection is a view: it is not read back. Code that needs the value itself reads it
 * in-process (`run.result()`), where it comes back faithfully.
 */

/** A JSON value. */
export type JsonValue =
  null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** The most values one projection emits; further ones are `"[Truncated]"`. */
export const MAX_PROJECTED_VALUES = 1_000_000;

/** Shown in place of a reference to a value that contains it. */
export const CIRCULAR = "[Circular]";
/** Shown in place of values past `MAX_PROJECTED_VALUES`. */
export const TRUNCATED = "[Truncated]";

const TypedArray = Object.getPrototypeOf(Int8Array) as abstract new () => ArrayLike<unknown>;

/**
 * `value` projected to JSON (see the file's comment); `undefined` when `value` is `undefined`
 * (or a function or symbol, which the codec never stores). Recursive: the codec's nesting limit
 * (1,000 levels, `value-depth.ts`) keeps any decoded value within the stack.
 *
 * @example toJsonValue(new Map([["at", new Date(0)]])) // [["at", "1970-01-01T00:00:00.000Z"]]
 */
export function toJsonValue(value: unknown): JsonValue | undefined {
  const state = { emitted: 0, ancestors: new Set<object>() };
  return project(value, state);
}

interface ProjectionState {
  emitted: number;
  /** The objects being projected, outermost first: meeting one again is a cycle. */
  ancestors: Set<object>;
}

function project(value: unknown, state: ProjectionState): JsonValue | undefined {
  if (value === undefined || typeof value === "function" || typeof value === "symbol") {
    return undefined;
  }
  if (state.emitted >= MAX_PROJECTED_VALUES) return TRUNCATED;
  state.emitted++;
  switch (typeof value) {
    case "string":
    case "boolean":
      return value;
    case "number":
      return Number.isFinite(value) ? value + 0 : null; // + 0 turns -0 into 0
    case "bigint":
      return value.toString();
  }
  if (value === null || typeof value !== "object") return null;
  if (state.ancestors.has(value)) return CIRCULAR;
  state.ancestors.add(value);
  try {
    return projectObject(value, state);
  } finally {
    state.ancestors.delete(value);
  }
}

function projectObject(value: object, state: ProjectionState): JsonValue {
  if (value instanceof Date) {
    return Number.isNaN(value.getTime()) ? null : value.toISOString();
  }
  if (Array.isArray(value)) {
    const out: JsonValue[] = [];
    for (let i = 0; i < value.length; i++) out.push(project(value[i], state) ?? null);
    return out;
  }
  if (value instanceof Map) {
    const out: JsonValue[] = [];
    for (const [key, entry] of value) {
      out.push([project(key, state) ?? null, project(entry, state) ?? null]);
    }
    return out;
  }
  if (value instanceof Set) {
    const out: JsonValue[] = [];
    for (const entry of value) out.push(project(entry, state) ?? null);
    return out;
  }
  if (value instanceof Uint8Array || value instanceof Uint8ClampedArray) {
    return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("base64");
  }
  if (value instanceof DataView) {
    return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("base64");
  }
  if (value instanceof ArrayBuffer) return Buffer.from(value).toString("base64");
  if (value instanceof TypedArray) {
    return Array.from(value, (entry) => project(entry, state) ?? null);
  }
  if (value instanceof RegExp || value instanceof URL || value instanceof URLSearchParams) {
    return value.toString();
  }
  if (
    value instanceof Number ||
    value instanceof String ||
    value instanceof Boolean ||
    value instanceof BigInt
  ) {
    return project(value.valueOf(), state) ?? null;
  }
  const out: { [key: string]: JsonValue } = {};
  if (value instanceof Error) {
    out.name = value.name;
    out.message = value.message;
  }
  for (const key of Object.keys(value)) {
    const entry = project((value as Record<string, unknown>)[key], state);
    // defineProperty: a `__proto__` key stays an own key, never a prototype.
    if (entry !== undefined) define(out, key, entry);
  }
  if (value instanceof Error) {
    // Own but not enumerable when given to the constructor: shown all the same.
    if (value instanceof AggregateError && !Object.hasOwn(out, "errors")) {
      out.errors = project(value.errors, state) ?? null;
    }
    if (value.cause !== undefined && !Object.hasOwn(out, "cause")) {
      const cause = project(value.cause, state);
      if (cause !== undefined) out.cause = cause;
    }
  }
  return out;
}

function define(target: { [key: string]: JsonValue }, key: string, value: JsonValue): void {
  Object.defineProperty(target, key, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
}
