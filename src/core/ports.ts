/**
 * Ports through which the pure core reaches time and randomness. Production wires `SystemClock`
 * and a crypto-backed random in the composition root; tests use `FakeClock` and `SeededRandom`
 * from `steadfast/testing`.
 */

/** A source of time. `now()` is milliseconds since the Unix epoch. */
export interface Clock {
  /** Current time in epoch milliseconds. */
  now(): number;
  /**
   * Resolves after `ms` milliseconds of this clock's time. Rejects with the signal's reason when
   * `signal` aborts first.
   */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** A source of uniformly distributed numbers in [0, 1). */
export interface Random {
  /** The next number in [0, 1). */
  next(): number;
}
