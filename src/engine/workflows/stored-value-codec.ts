/**
 * The codec the workflow runner stores values with: `core/value-codec.ts` (devalue, tagged `dv1:`)
 * behind the runner's `ValueCodec` port. Inputs, step results and outputs go through it, so they
 * come back on replay as they went in (`Date`, `Map`, `BigInt`, `undefined`...), and a value that
 * cannot be stored fails its step with the path that could not be (`value.items[2].fn`).
 */
import { decodeValue, encodeValue } from "../../core/value-codec.ts";
import type { ValueCodec } from "../../core/workflow/checkpoint.ts";

/** Stores and reads a workflow value (see the file's comment). */
export const storedValueCodec: ValueCodec = {
  encode: (value) => encodeValue(value, "value").text,
  decode: (text) => decodeValue(text, "value"),
};
