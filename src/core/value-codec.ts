/**
 * The value codec (issue 11, "Faithful values"): workflow inputs, step results and outputs to
 * stored text and back, faithfully. `undefined` (as a value, in objects and arrays), `NaN`,
 * `Infinity`, `-0`, `BigInt`, `Date` (an invalid one too), `Map`, `Set` (in order), `RegExp`,
 * `URL`, `URLSearchParams`, boxed primitives, typed arrays, `DataView`, `ArrayBuffer`, sparse
 * arrays, null-prototype objects, errors of the built-in classes (`error-value.ts`), shared
 * references and cycles all come back as they went in. Keys `__proto__`, `constructor` and
 * `prototype` are data, kept as own properties.
 *
 * What cannot be stored faithfully is refused when encoding, never dropped: functions, symbols,
 * Promises, class instances (a subclass of a built-in too: a Node `Buffer`, a class extending
 * `Error` or `Map`), objects with enumerable symbol keys, arrays with non-index properties. The
 * `ValueCodecError` names where (`output.items[2].fn`) and what to do. Not kept: non-enumerable
 * properties of plain objects and arrays, accessors (stored as the value they return), and
 * whether an object was frozen or sealed.
 *
 * The text is `<format>:<payload>`. Format `dv1` is devalue's `stringify` (JSON, parsed with
 * `JSON.parse` and rebuilt by devalue's `parse`: nothing is evaluated) with the codec's operations
 * (`value-operations.ts`). Decoding a format this Steadfast does not know fails with a
 * `ValueCodecError` naming it, so a later format can be added beside `dv1` without misreading
 * stored runs. Values nest at most `MAX_VALUE_DEPTH` (1,000) levels deep
 * (`value-depth.ts`), so that whatever encodes decodes.
 */
import { DevalueError, parse, stringify } from "devalue";
import { ERROR_TAG, reduceError, reviveError } from "./error-value.ts";
import { readOperations, storeOperations } from "./value-operations.ts";
import { describeUnstorable } from "./unstorable-value.ts";
import { ValueCodecError } from "./value-errors.ts";
import { MAX_VALUE_DEPTH, nestsTooDeeply } from "./value-depth.ts";
import { utf8ByteLength } from "./value-size.ts";

/** The format the codec writes: devalue `stringify`, codec operations, version 1. */
export const VALUE_FORMAT = "dv1";

/** Formats the codec reads. */
const READABLE_FORMATS: readonly string[] = [VALUE_FORMAT];

/** A value as stored: its text and that text's size. */
export interface EncodedValue {
  /** `<format>:<payload>`, for one TEXT column. */
  readonly text: string;
  /** Size of `text` in UTF-8 bytes (what `placeValue` decides on). */
  readonly bytes: number;
}

/**
 * Encodes `value` for storage. `label` names the value in errors and starts their paths
 * (`output`, `input`, `result of step "charge"`). Throws a `ValueCodecError`
 * (`value_not_storable`) naming the path of the first part that cannot be stored, and what to do.
 *
 * @example
 * const { text, bytes } = encodeValue({ at: new Date(0), tags: new Set(["a"]) }, "output");
 * decodeValue(text, "output"); // { at: Date(0), tags: Set { "a" } }
 */
export function encodeValue(value: unknown, label: string): EncodedValue {
  let sawError = false;
  const reducers = {
    [ERROR_TAG]: (thing: unknown) => {
      const payload = reduceError(thing);
      if (payload !== undefined) sawError = true;
      return payload;
    },
  };
  if (nestsTooDeeply(value))
    throw new ValueCodecError(
      "value_not_storable",
      label,
      `${label} nests more than ${MAX_VALUE_DEPTH} levels deep (objects, arrays, maps and sets), too deep to be read back reliably: flatten it, for example a linked list into an array`,
    );
  let payload: string;
  try {
    payload = stringify(value, reducers, { operations: storeOperations });
  } catch (error) {
    throw unstorable(error, label);
  }
  const text = `${VALUE_FORMAT}:${payload}`;
  // A cycle through an error (`error.cause = error`) cannot be rebuilt (a reviver gets its
  // payload whole): find out now, not when the run is replayed.
  if (sawError) {
    try {
      decodeValue(text, label);
    } catch (error) {
      // In a cycle, devalue hands the error's reviver its payload before the payload is
      // complete, and the reviver refuses it: this is the failure to expect.
      throw new ValueCodecError(
        "value_not_storable",
        label,
        `${label} holds an Error that cannot be read back once stored, because it refers back to itself (through its cause or a property): break the cycle, or store the error's name and message`,
        { cause: error },
      );
    }
  }
  return { text, bytes: utf8ByteLength(text) };
}

function unstorable(error: unknown, label: string): unknown {
  if (error instanceof DevalueError) {
    // The walk saw `__proto__` keys escaped (`value-operations.ts`): show them as written.
    const path = `${label}${error.path.replace(/\["~(~*__proto__)"\]/g, '["$1"]')}`;
    return new ValueCodecError(
      "value_not_storable",
      path,
      `${path} cannot be stored: it is ${describeUnstorable(error.value)}`,
      { cause: error },
    );
  }
  if (isStackOverflow(error))
    return new ValueCodecError(
      "value_not_storable",
      label,
      `${label} nests too deeply to be stored here (the call stack ran out): flatten it`,
      { cause: error },
    );
  return error; // thrown by the value itself (a getter): the caller's error, as it is
}

function isStackOverflow(error: unknown): boolean {
  return error instanceof RangeError && /call stack/i.test(error.message);
}

/**
 * Decodes a text written by `encodeValue` (or by a Steadfast that wrote an older readable format).
 * Throws a `ValueCodecError` (`value_unreadable`) naming `label` and the format when the format
 * is unknown or the payload is not a valid one. Never evaluates code; a payload cannot change a
 * prototype or give a decoded object one other than the built-in it names.
 */
export function decodeValue(text: string, label: string): unknown {
  const colon = text.indexOf(":");
  const format = colon < 0 ? undefined : text.slice(0, colon);
  if (format === undefined || !/^[a-z][a-z0-9-]{0,31}$/.test(format))
    throw new ValueCodecError(
      "value_unreadable",
      label,
      `${label} is not a stored value: it does not start with a format tag such as "${VALUE_FORMAT}:" (got ${JSON.stringify(text.slice(0, 20))})`,
    );
  if (!READABLE_FORMATS.includes(format))
    throw new ValueCodecError(
      "value_unreadable",
      label,
      `${label} is stored in format "${format}", which this version of Steadfast cannot read (it reads ${READABLE_FORMATS.map((known) => `"${known}"`).join(", ")}): run a Steadfast at least as new as the one that stored it`,
    );
  try {
    return parse(
      text.slice(colon + 1),
      { [ERROR_TAG]: reviveError },
      { operations: readOperations },
    ) as unknown;
  } catch (error) {
    throw new ValueCodecError(
      "value_unreadable",
      label,
      isStackOverflow(error)
        ? `${label} nests too deeply to be read here`
        : `${label} is not a valid "${format}" payload (${error instanceof Error ? error.message : String(error)}): it was corrupted or not written by Steadfast`,
      { cause: error },
    );
  }
}
