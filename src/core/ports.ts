/**
 * Ports through which the pure core reaches time and randomness. Production wires `SystemClock`
 * and a crypto-backed random in the composition root; tests use `FakeClock` and `SeededRandom`
 * from `steadfast/testing`.
 */

/** A source of time. `now()` is milliseconds since the Unix epoch. */
export interface Clock {
  /** Current time in epoch milliseconds (the wall clock: NTP or a VM's time sync may step it). */
  now(): number;
  /**
   * Milliseconds since an arbitrary origin, never stepped: what durations that must not be
   * shortened or lengthened by a wall-clock step are measured with (worker liveness: how long
   * a heartbeat has gone unacknowledged, how long another worker has been silent). Only
   * differences of two readings of one clock mean anything. Optional: a clock without it is
   * read with `now()` instead (`monotonicNow`). `SystemClock` reads `performance.now()`;
   * `FakeClock` moves it with `advance`, not with a wall-clock step.
   */
  monotonicNow?(): number;
  /**
   * Resolves after `ms` milliseconds of this clock's time. Rejects with the signal's reason when
   * `signal` aborts first.
   */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/**
 * A monotonic reading of `clock` in ms (`Clock.monotonicNow`), or its wall time when it offers
 * none. Compare it only with other readings of this function on the same clock.
 */
export function monotonicNow(clock: Clock): number {
  return clock.monotonicNow?.() ?? clock.now();
}

/** A source of uniformly distributed numbers in [0, 1). */
export interface Random {
  /** The next number in [0, 1). */
  next(): number;
}
