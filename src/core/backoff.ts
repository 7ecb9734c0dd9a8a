import type { BackoffKind } from "./call.ts";
import type { Random } from "./ports.ts";

/** Inputs of `backoffDelayMs`. */
export interface BackoffOptions {
  kind: BackoffKind;
  /** Base delay in ms. */
  initialDelayMs: number;
  /** Cap on the delay in ms. */
  maxDelayMs: number;
}

/**
 * Delay before retry number `retry` (1 for the first retry), with full jitter
 * (AWS Architecture Blog, "Exponential Backoff and Jitter"):
 *
 * - exponential: `random(0, min(maxDelayMs, initialDelayMs * 2^(retry-1)))`
 * - linear:      `random(0, min(maxDelayMs, initialDelayMs * retry))`
 * - fixed:       `min(maxDelayMs, initialDelayMs)`, no jitter (a fixed delay is asked for exactly)
 *
 * @example backoffDelayMs(3, { kind: "exponential", initialDelayMs: 1000, maxDelayMs: 60000 }, random)
 */
export function backoffDelayMs(retry: number, options: BackoffOptions, random: Random): number {
  const { kind, initialDelayMs, maxDelayMs } = options;
  if (kind === "fixed") return Math.min(maxDelayMs, initialDelayMs);
  const step = Math.max(1, retry);
  const ceiling =
    kind === "linear"
      ? initialDelayMs * step
      : // 2^52 overflows nothing in a double and is far past any cap.
        initialDelayMs * 2 ** Math.min(step - 1, 52);
  return Math.floor(random.next() * Math.min(maxDelayMs, ceiling));
}
