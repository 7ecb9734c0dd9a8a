/**
 * Errors of the value codec (issue 11, "Faithful values"): a value that cannot be stored, one too
 * large to store, and a stored text this Steadfast cannot read. All three are `TerminalError`s:
 * running the same code again produces the same value, so retrying does not help.
 */
import { TerminalError, isSteadfastError } from "./errors.ts";
import type { SteadfastErrorOptions } from "./errors.ts";

/** Codes of `ValueCodecError`. */
export const ValueCodecErrorCodes = [
  "value_not_storable",
  "value_too_large",
  "value_unreadable",
] as const;
/** One of `ValueCodecErrorCodes`. */
export type ValueCodecErrorCode = (typeof ValueCodecErrorCodes)[number];

/**
 * The codec refused a value or a stored text. `code` says how:
 *
 * - `value_not_storable`: the value holds something that cannot be stored faithfully (a
 *   function, a symbol, a class instance, a Promise...); `path` names where, such as
 *   `output.items[2].fn`;
 * - `value_too_large`: its encoding is over `maxValueBytes`;
 * - `value_unreadable`: a stored text carries an unknown format tag (written by a newer
 *   Steadfast) or is not a valid payload of its format (corrupted or hand-written).
 */
export class ValueCodecError extends TerminalError<ValueCodecErrorCode> {
  /** Where in the value the problem is (`output.items[2].fn`); the label alone when unknown. */
  readonly path: string;

  constructor(
    code: ValueCodecErrorCode,
    path: string,
    message: string,
    options: SteadfastErrorOptions = {},
  ) {
    super(code, message, options);
    this.name = "ValueCodecError";
    this.path = path;
  }
}

const CODES: ReadonlySet<string> = new Set(ValueCodecErrorCodes);

/** True for a `ValueCodecError`, from any copy of the package. */
export function isValueCodecError(value: unknown): value is ValueCodecError {
  return isSteadfastError(value) && CODES.has(value.code);
}
