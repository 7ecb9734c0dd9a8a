/**
 * Errors as stored values (issue 11, "Faithful values"). A step may return an `Error` (a
 * validation report, `Promise.allSettled` reasons): instances of the built-in error classes
 * (`Error`, `TypeError`, `RangeError`, `AggregateError`...) are stored with their class, message,
 * stack, cause, `errors` and every other own property (a Node error's `code`, `errno`...), and
 * come back as instances of the same class.
 *
 * Instances of other classes that extend `Error` are refused (by the codec's strict built-ins):
 * they would come back as a plain `Error`, and code that tests `instanceof PaymentError` would
 * take another branch on replay than on the first run. Return a plain object
 * (`{ name, message }`) or throw the error instead.
 */

/** The built-in error classes, by name: the only ones stored and the only ones revived. */
const ERROR_CLASSES: ReadonlyMap<string, new (...args: never[]) => Error> = new Map(
  [
    "Error",
    "EvalError",
    "RangeError",
    "ReferenceError",
    "SyntaxError",
    "TypeError",
    "URIError",
    "AggregateError",
  ].flatMap((name): [string, new (...args: never[]) => Error][] => {
    const constructor = (globalThis as Record<string, unknown>)[name];
    return typeof constructor === "function"
      ? [[name, constructor as new (...args: never[]) => Error]]
      : [];
  }),
);

const PROTOTYPES: ReadonlyMap<object, string> = new Map(
  [...ERROR_CLASSES].map(([name, constructor]) => [constructor.prototype as object, name]),
);

/** The reducer and reviver name under which errors are stored. */
export const ERROR_TAG = "Error";

/** What is stored for an error: its class name and its own properties, as data. */
interface ErrorPayload {
  type: string;
  /** Own enumerable properties (`code`, `errno`...). */
  enumerable: Record<string, unknown>;
  /** Own non-enumerable properties (`message`, `stack`, `cause`, `errors`). */
  hidden: Record<string, unknown>;
}

/**
 * devalue reducer: the payload of an instance of a built-in error class, `undefined` (not an
 * error, or not a built-in one) otherwise. Accessor properties (V8's `stack`) are read once and
 * stored as their value.
 */
export function reduceError(value: unknown): ErrorPayload | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const type = PROTOTYPES.get(Object.getPrototypeOf(value) as object);
  if (type === undefined) return undefined;
  const enumerable: Record<string, unknown> = {};
  const hidden: Record<string, unknown> = {};
  for (const key of Object.getOwnPropertyNames(value)) {
    const target = Object.prototype.propertyIsEnumerable.call(value, key) ? enumerable : hidden;
    // defineProperty: an own `__proto__` key stays a key (the codec escapes it when storing).
    Object.defineProperty(target, key, {
      value: (value as Record<string, unknown>)[key],
      writable: true,
      enumerable: true,
      configurable: true,
    });
  }
  return { type, enumerable, hidden };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === "object" && value !== null && Object.getPrototypeOf(value) === Object.prototype
  );
}

/**
 * devalue reviver: an instance of the stored built-in error class with exactly the stored own
 * properties (the constructor's own `stack` is replaced by the stored one). Throws on a payload
 * the codec cannot have written.
 */
export function reviveError(payload: unknown): Error {
  const type = isRecord(payload) ? payload.type : undefined;
  const constructor = typeof type === "string" ? ERROR_CLASSES.get(type) : undefined;
  if (
    !isRecord(payload) ||
    constructor === undefined ||
    !isRecord(payload.enumerable) ||
    !isRecord(payload.hidden)
  )
    throw new TypeError("malformed stored error"); // eslint-disable-line no-restricted-syntax -- caught by decodeValue, which raises a ValueCodecError
  const error = Reflect.construct(constructor, type === "AggregateError" ? [[]] : []) as Error;
  for (const key of Object.getOwnPropertyNames(error)) Reflect.deleteProperty(error, key);
  for (const [properties, enumerable] of [
    [payload.hidden, false],
    [payload.enumerable, true],
  ] as const) {
    for (const key of Object.keys(properties)) {
      Object.defineProperty(error, key, {
        value: properties[key],
        writable: true,
        enumerable,
        configurable: true,
      });
    }
  }
  return error;
}
