/**
 * Defaults for callers that do not inject time and randomness: the wall clock with Node timers,
 * and `Math.random` (jitter needs spread, not secrecy). The engine injects its own `Clock` and
 * `Random`; tests inject `FakeClock` and `SeededRandom`.
 */
import { setTimeout as sleepTimer } from "node:timers/promises";
import type { Clock, Random } from "../core/ports.ts";

/**
 * A `Clock` that can also sleep without keeping the process alive. The timeout watchdog uses
 * `sleepUnref` when a clock offers it: a watchdog only guards work that keeps the process alive
 * on its own, so it must never be the reason a process lingers after its work is done.
 */
export interface UnrefClock extends Clock {
  /** Like `sleep`, but the timer does not keep the event loop alive. */
  sleepUnref(ms: number, signal?: AbortSignal): Promise<void>;
}

/**
 * The wall clock, a monotonic reading (`performance.now()`) and Node timers. Used by every
 * policy whose options give no `clock`.
 */
export const systemClock: UnrefClock = {
  now: () => Date.now(),
  monotonicNow: () => performance.now(),
  sleep: (ms, signal) =>
    sleepTimer(Math.max(0, ms), undefined, signal === undefined ? undefined : { signal }),
  sleepUnref: (ms, signal) =>
    sleepTimer(
      Math.max(0, ms),
      undefined,
      signal === undefined ? { ref: false } : { signal, ref: false },
    ),
};

/** `Math.random` as a `Random`. Used by every policy whose options give no `random`. */
export const mathRandom: Random = { next: () => Math.random() };

/** True when `clock` offers `sleepUnref`. */
export function isUnrefClock(clock: Clock): clock is UnrefClock {
  return typeof (clock as Partial<UnrefClock>).sleepUnref === "function";
}
