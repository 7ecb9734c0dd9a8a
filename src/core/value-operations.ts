/**
 * How the value codec walks and rebuilds values: the `operations` that devalue's `stringify` and
 * `parse` call instead of their defaults (devalue 6, "Custom operations"). Two things change.
 *
 * Strict built-ins. devalue classifies an object by `Object.prototype.toString`, so a subclass of
 * `Map`, `Date`, `Array` or `Uint8Array` (a Node `Buffer`) would come back as the plain built-in,
 * a different class on replay than on the first run. Here a built-in is stored only when its
 * prototype is exactly the built-in's; anything else is refused, with its path.
 *
 * `__proto__` as data. devalue 6 refuses objects with an own `__proto__` key on both sides (its
 * answer to CVE-2025-57820 and GHSA-mwv9-gp5h-frr4). Issue 11 wants such keys kept as data, so
 * keys of the form `~*__proto__` gain one `~` when stored and lose it when read: the stored text
 * never holds a raw `__proto__` key (devalue's parser keeps refusing one, so a hand-written
 * payload with it is rejected), and an escaped key is recreated with `Object.defineProperty`, as
 * an own property that never touches a prototype.
 */
import type { ParseOperations, StringifyOperations } from "devalue";

/** Tags of the built-ins the codec stores, each with the one prototype it accepts. */
const BUILT_INS: ReadonlyMap<string, object> = new Map(
  [
    "Array",
    "Date",
    "Map",
    "Set",
    "RegExp",
    "ArrayBuffer",
    "DataView",
    "Int8Array",
    "Uint8Array",
    "Uint8ClampedArray",
    "Int16Array",
    "Uint16Array",
    "Float16Array",
    "Int32Array",
    "Uint32Array",
    "Float32Array",
    "Float64Array",
    "BigInt64Array",
    "BigUint64Array",
    "URL",
    "URLSearchParams",
    "Number",
    "String",
    "Boolean",
    "BigInt",
  ].flatMap((name): [string, object][] => {
    const constructor = (globalThis as Record<string, unknown>)[name];
    return typeof constructor === "function"
      ? [[name, (constructor as { prototype: object }).prototype]]
      : [];
  }),
);

/** A tag devalue has no case for, so the value falls to `shapeOf` and is refused there. */
const REFUSED_TAG = "steadfast:refused";

const NOT_PLAIN = { kind: "not-plain" } as const;
const SYMBOL_KEYS = { kind: "symbol-keys" } as const;

function tagName(value: object): string {
  return Object.prototype.toString.call(value).slice(8, -1);
}

/**
 * Why a built-in of the right prototype still cannot be stored faithfully, or `undefined` when it
 * can: state devalue does not keep (a RegExp's `lastIndex`, a buffer's resizability) or
 * properties beyond the built-in's own data (a `RegExpMatchArray`'s `index`, `input`, `groups`).
 */
export function builtInDefect(value: object): string | undefined {
  if (value instanceof RegExp && value.lastIndex !== 0)
    return `a RegExp whose lastIndex is ${value.lastIndex} (its matching state is not stored): reset lastIndex to 0 first`;
  if (value instanceof ArrayBuffer && value.resizable)
    return "a resizable ArrayBuffer (it would come back fixed-length): copy it with buffer.slice()";
  if (Array.isArray(value)) {
    const extra = extraArrayKeys(value);
    if (extra.length > 0)
      return `an array with non-index properties (${extra.slice(0, 3).join(", ")}), such as a RegExp match: copy the elements (Array.from(value)) and the properties you need into a plain object`;
  }
  return undefined;
}

function extraArrayKeys(array: readonly unknown[]): string[] {
  // An array's own string keys are its indices (ascending), then `length`, then any others in
  // creation order (ECMA-262 OrdinaryOwnPropertyKeys): what follows `length` is extra.
  const keys = Object.getOwnPropertyNames(array);
  const extra = keys[keys.length - 1] === "length" ? [] : keys.slice(keys.indexOf("length") + 1);
  for (const symbol of Object.getOwnPropertySymbols(array)) extra.push(String(symbol));
  return extra;
}

/** True for a key stored escaped: `__proto__`, `~__proto__`, `~~__proto__`... */
function needsEscape(key: string): boolean {
  return key.endsWith("__proto__") && /^~*__proto__$/.test(key);
}

/** True for a stored key that was escaped: `~__proto__`, `~~__proto__`... */
function isEscaped(key: string): boolean {
  return key.endsWith("__proto__") && /^~+__proto__$/.test(key);
}

/** The stringify operations of the codec (see the file comment). */
export const storeOperations: Partial<StringifyOperations> = {
  tagOf(value: object): string {
    const tag = tagName(value);
    const prototype = BUILT_INS.get(tag);
    if (prototype === undefined) return tag === "Object" ? tag : REFUSED_TAG;
    if (Object.getPrototypeOf(value) !== prototype) return REFUSED_TAG;
    return builtInDefect(value) === undefined ? tag : REFUSED_TAG;
  },

  shapeOf(value: object) {
    const prototype: unknown = Object.getPrototypeOf(value);
    if (prototype !== Object.prototype && prototype !== null) return NOT_PLAIN;
    for (const symbol of Object.getOwnPropertySymbols(value))
      if (Object.prototype.propertyIsEnumerable.call(value, symbol)) return SYMBOL_KEYS;
    const keys = Object.keys(value);
    for (let index = 0; index < keys.length; index += 1) {
      const key = keys[index]!;
      if (needsEscape(key)) keys[index] = `~${key}`;
    }
    return { kind: prototype === null ? "null-proto" : "plain", keys };
  },

  get(value: Record<string | number, unknown>, key: string | number): unknown {
    return typeof key === "string" && isEscaped(key) ? value[key.slice(1)] : value[key];
  },
};

/** The parse operations of the codec (see the file comment). */
export const readOperations: Partial<ParseOperations> = {
  set(target: Record<string | number, unknown>, key: string | number, value: unknown): void {
    if (typeof key === "string" && isEscaped(key)) {
      Object.defineProperty(target, key.slice(1), {
        value,
        writable: true,
        enumerable: true,
        configurable: true,
      });
      return;
    }
    target[key] = value;
  },

  // devalue would look `Temporal.*` tags up on the global `Temporal`; the codec never writes them.
  fromStringValue(tag: string, text: string): unknown {
    if (tag === "URL") return new URL(text);
    if (tag === "URLSearchParams") return new URLSearchParams(text);
    throw new TypeError(`unknown value tag ${tag}`); // eslint-disable-line no-restricted-syntax -- caught by decodeValue, which raises a ValueCodecError
  },
};
