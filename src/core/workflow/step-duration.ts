/**
 * Durations of `step.sleep` and `waitForEvent`'s `timeout`: milliseconds, or a string such as
 * `"10m"` or `"1d"`.
 *
 * A minimal stand-in: `core/duration.ts` (`parseDuration`, being written beside this) will own
 * the rule. `stepDurationMs` is the one place that reads a duration here, so switching to it is a
 * one-line change.
 */
import { InvalidOptionError } from "../errors.ts";

/** A duration: ms, or a number and a unit (`ms`, `s`, `m`, `h`, `d`, `w`), such as `"1.5h"`. */
export type StepDuration = number | string;

const UNIT_MS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

const PATTERN = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$/;

/**
 * `duration` in whole ms; throws an `InvalidOptionError` naming `what` (`step "cool-off"`) and
 * the value when it is negative, not finite, or not understood.
 *
 * @example stepDurationMs("10m", 'step "cool-off"') // 600000
 */
export function stepDurationMs(duration: StepDuration, what: string): number {
  if (typeof duration === "number") {
    if (Number.isFinite(duration) && duration >= 0) return Math.ceil(duration);
  } else if (typeof duration === "string") {
    const match = PATTERN.exec(duration);
    if (match !== null) return Math.ceil(Number(match[1]) * UNIT_MS[match[2]!]!);
  }
  throw new InvalidOptionError(
    `${what}: duration ${JSON.stringify(duration)} is not understood. Give ms as a number >= 0, or a string such as "500ms", "30s", "10m", "2h", "1d".`,
  );
}
