/**
 * The codec the workflow runner stores values with: `core/value-codec.ts` (devalue, tagged `dv1:`)
 * behind the runner's `ValueCodec` port. Inputs, step results and outputs go through it, so they
 * come back on replay as they went in (`Date`, `Map`, `BigInt`, `undefined`...), and a value that
 * cannot be stored fails its step with the path that could not be (`value.items[2].fn`), and one
 * over the largest storable size (32 MiB encoded) fails it naming that limit.
 */
import { decodeValue, encodeValue } from "../../core/value-codec.ts";
import { placeValue } from "../../core/value-size.ts";
import type { ValueCodec } from "../../core/workflow/checkpoint.ts";

/** Stores and reads a workflow value (see the file's comment). */
export const storedValueCodec: ValueCodec = {
  encode: (value) => {
    const encoded = encodeValue(value, "value");
    // Over the largest storable value (32 MiB): refused here, naming the limit, so the step
    // fails with that reason rather than the store failing the commit.
    placeValue(encoded.bytes, "value");
    return encoded.text;
  },
  decode: (text) => decodeValue(text, "value"),
};
