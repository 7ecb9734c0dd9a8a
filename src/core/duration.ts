/**
 * Durations given by users (issue 11: `step.sleep("cool-off", "10m")`, `timeout: "1d"`): a number
 * of milliseconds, or a string of a number and a unit, read by the `ms` package (`"500ms"`,
 * `"10s"`, `"1.5h"`, `"2 days"`). On top of its grammar: a string needs its unit (is `"10"` ten
 * seconds?), units are lowercase (`"1M"` reads as a minute in `ms`, a month to many readers),
 * nothing negative, and nothing above `MAX_DURATION_MS`.
 */
import ms from "ms";
import { InvalidOptionError } from "./errors.ts";

/** Units a duration string may use (those of the `ms` package, lowercase). */
export type DurationUnit =
  | "ms"
  | "msec"
  | "msecs"
  | "millisecond"
  | "milliseconds"
  | "s"
  | "sec"
  | "secs"
  | "second"
  | "seconds"
  | "m"
  | "min"
  | "mins"
  | "minute"
  | "minutes"
  | "h"
  | "hr"
  | "hrs"
  | "hour"
  | "hours"
  | "d"
  | "day"
  | "days"
  | "w"
  | "week"
  | "weeks"
  | "y"
  | "yr"
  | "yrs"
  | "year"
  | "years";

/**
 * A duration: milliseconds, or a number and a unit (`"500ms"`, `"10m"`, `"1d"`, `"2 weeks"`).
 * A year is 365.25 days, as in `ms`.
 */
export type Duration = number | `${number}${DurationUnit}` | `${number} ${DurationUnit}`;

/**
 * The longest duration accepted by default: 366 days. A longer sleep or timeout is much more
 * often a mistake (a timestamp where a duration belongs, seconds multiplied twice) than a plan;
 * a date that far away is what `sleepUntil` is for.
 */
export const MAX_DURATION_MS = 366 * 86_400_000;

/** Options of `parseDuration`. */
export interface ParseDurationOptions {
  /** The longest duration accepted, ms. Default `MAX_DURATION_MS` (366 days). */
  maxMs?: number;
}

const EXAMPLES = '"500ms", "10s", "10m", "2h", "1d" or "1w"';

/**
 * Milliseconds in `value`, a `Duration`. A number is milliseconds; a fraction of a millisecond is
 * rounded up (a sleep never ends early). Throws `InvalidOptionError` naming `field`, the value and
 * the fix when `value` is negative, not finite, empty, without a unit or with an unknown one, or
 * above `options.maxMs`.
 *
 * @example
 * parseDuration("10m", "sleep duration") // 600_000
 * parseDuration(1_500, "timeout")        // 1_500
 */
export function parseDuration(
  value: number | string,
  field: string,
  options: ParseDurationOptions = {},
): number {
  const maxMs = options.maxMs ?? MAX_DURATION_MS;
  const shown = typeof value === "string" ? JSON.stringify(value) : String(value);
  const invalid = (problem: string) => new InvalidOptionError(`${field} ${problem}; got ${shown}`);
  let milliseconds: number;
  if (typeof value === "number") {
    if (!Number.isFinite(value))
      throw invalid(`must be a finite number of milliseconds or a string such as ${EXAMPLES}`);
    milliseconds = value;
  } else if (typeof value === "string") {
    milliseconds = parseDurationString(value, invalid);
  } else {
    throw new InvalidOptionError(
      `${field} must be a number of milliseconds or a string such as ${EXAMPLES}; got ${typeof value}`,
    );
  }
  if (milliseconds < 0 || (typeof value === "string" && value.startsWith("-")))
    throw invalid("must not be negative");
  const rounded = Math.ceil(milliseconds) + 0; // + 0: -0 is 0
  if (rounded > maxMs)
    throw invalid(
      `must be at most ${ms(maxMs, { long: true })} (${maxMs} ms): for a later time, give a date (sleepUntil) instead of a duration; if a duration is meant, check its unit`,
    );
  return rounded;
}

function parseDurationString(value: string, invalid: (problem: string) => Error): number {
  if (value.trim() === "") throw invalid(`must not be empty: give a duration such as ${EXAMPLES}`);
  if (!/[a-z]$/i.test(value))
    throw invalid(`needs a unit, such as ${EXAMPLES} (or pass a number of milliseconds)`);
  if (/[A-Z]/.test(value))
    throw invalid(`must use a lowercase unit (ms, s, m, h, d, w, y): "M" is not months`);
  const parsed = ms(value as ms.StringValue) as number | undefined;
  if (parsed === undefined || Number.isNaN(parsed))
    throw invalid(
      `is not a duration: write a number and one unit (ms, s, m, h, d, w or y), such as ${EXAMPLES}`,
    );
  return parsed;
}
