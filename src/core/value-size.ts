/**
 * Where an encoded value goes, decided by its size (issue 11, "Faithful values"): inline in its
 * row up to `maxInlineBytes`, out of line (a row of its own, read only when needed) above it, and
 * refused above `maxValueBytes`. A pure decision: the store does the placing.
 */
import { InvalidOptionError } from "./errors.ts";
import { ValueCodecError } from "./value-errors.ts";

/** Size limits of stored values (workflow inputs, step results, outputs), in UTF-8 bytes. */
export interface ValueLimits {
  /** Largest value kept inline in its row. Default 256 KiB (issue 11). */
  maxInlineBytes: number;
  /**
   * Largest value stored at all. Default 32 MiB: far below what either store accepts in one
   * TEXT value (about 1 GB for SQLite and PostgreSQL), yet an encoded value is held several
   * times over while it is written or read (the value, its text, the driver's bytes), and a run
   * reads its step results again on every replay; larger data belongs in an object store, with
   * its key as the step's result.
   */
  maxValueBytes: number;
}

/** The default `ValueLimits`: 256 KiB inline, 32 MiB at most. */
export const DEFAULT_VALUE_LIMITS: Readonly<ValueLimits> = Object.freeze({
  maxInlineBytes: 256 * 1024,
  maxValueBytes: 32 * 1024 * 1024,
});

/** Where a value of a given size is stored. */
export type ValuePlacement = "inline" | "external";

/**
 * Fills `options` with the defaults and checks them: whole numbers of bytes, the inline limit
 * not above the value limit. Throws `InvalidOptionError` naming the option otherwise.
 *
 * @example valueLimits({ maxValueBytes: 64 * 1024 * 1024 })
 */
export function valueLimits(options: Partial<ValueLimits> = {}): ValueLimits {
  const limits = { ...DEFAULT_VALUE_LIMITS, ...definedOnly(options) };
  for (const name of ["maxInlineBytes", "maxValueBytes"] as const) {
    const value = limits[name];
    if (!Number.isSafeInteger(value) || value < 0)
      throw new InvalidOptionError(
        `${name} must be a whole number of bytes, 0 or more; got ${String(value)}`,
      );
  }
  if (limits.maxInlineBytes > limits.maxValueBytes)
    throw new InvalidOptionError(
      `maxInlineBytes (${limits.maxInlineBytes}) must not be above maxValueBytes (${limits.maxValueBytes})`,
    );
  return limits;
}

function definedOnly(options: Partial<ValueLimits>): Partial<ValueLimits> {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined));
}

/**
 * Where a value of `bytes` UTF-8 bytes goes: `inline` up to `limits.maxInlineBytes`, `external`
 * above. Throws a `ValueCodecError` (`value_too_large`) naming `label`, the size, the limit and
 * the option that raises it when `bytes` is over `limits.maxValueBytes`.
 *
 * @example placeValue(300_000, 'result of step "charge"') // "external"
 */
export function placeValue(
  bytes: number,
  label: string,
  limits: ValueLimits = DEFAULT_VALUE_LIMITS,
): ValuePlacement {
  if (bytes > limits.maxValueBytes)
    throw new ValueCodecError(
      "value_too_large",
      label,
      `${label} is ${formatBytes(bytes)} (${bytes} bytes) encoded, over the limit of ` +
        `${formatBytes(limits.maxValueBytes)} (maxValueBytes = ${limits.maxValueBytes}): keep ` +
        `large data elsewhere (an object store) and return its key, or raise maxValueBytes`,
    );
  return bytes > limits.maxInlineBytes ? "external" : "inline";
}

/** `512 B`, `256 KiB`, `40.3 MiB`. */
function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const [amount, unit] = bytes < 1024 * 1024 ? [bytes / 1024, "KiB"] : [bytes / 1024 ** 2, "MiB"];
  return `${Number.isInteger(amount) ? amount : amount.toFixed(1)} ${unit}`;
}

/**
 * The length of `text` in UTF-8 bytes, as the stores write it, counted without encoding it. A
 * lone surrogate counts 3 bytes (it is written as U+FFFD); the codec's texts have none.
 */
export function utf8ByteLength(text: string): number {
  let bytes = text.length;
  for (let index = 0; index < text.length; index += 1) {
    const code = text.charCodeAt(index);
    if (code < 0x80) continue;
    if (code < 0x800) bytes += 1;
    else if (code >= 0xd800 && code <= 0xdbff && isLowSurrogate(text.charCodeAt(index + 1))) {
      bytes += 2; // the pair's two UTF-16 units are 4 bytes
      index += 1;
    } else bytes += 2;
  }
  return bytes;
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}
