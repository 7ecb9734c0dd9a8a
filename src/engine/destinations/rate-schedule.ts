/**
 * A rate limit as a schedule of send slots (the generic cell rate algorithm, a token bucket kept as
 * one time): `ratePerSecond` sends per second, in bursts of up to `burst`. A call that cannot be
 * sent now is given the next free slot, reserved for it, so held calls come back one at a time at
 * the rate, in the order they were held, and a call returning at its slot is not counted twice.
 *
 * The `steadfast/resilience` rate limiter (rate-limiter.ts) keeps its bucket inside a policy that
 * sleeps until a token is free; the engine cannot sleep while holding a claim, so it needs the
 * time of the slot instead, and reservations that survive the call leaving and coming back.
 */
export class RateSchedule {
  readonly ratePerSecond: number;
  readonly burst: number;
  readonly #intervalMs: number;
  // Theoretical arrival time: when the bucket will be empty again, were nothing more sent.
  #tat = Number.NEGATIVE_INFINITY;
  readonly #reservations = new Map<string, number>();

  /** `burst` defaults to one second's worth (at least 1). */
  constructor(ratePerSecond: number, burst = Math.max(1, Math.floor(ratePerSecond))) {
    if (!(Number.isFinite(ratePerSecond) && ratePerSecond > 0)) {
      throw new RangeError(`ratePerSecond must be a finite number > 0, got ${ratePerSecond}`);
    }
    this.ratePerSecond = ratePerSecond;
    this.burst = burst;
    this.#intervalMs = 1_000 / ratePerSecond;
  }

  /**
   * Whether `key` may be sent at `now`. Returns `now` when it may (its slot, or a reservation of
   * its own that is due, is taken), else the time of the slot reserved for it (later than `now`).
   */
  take(key: string, now: number): number {
    const reserved = this.#reservations.get(key);
    if (reserved !== undefined) {
      if (reserved <= now) {
        this.#reservations.delete(key);
        return now;
      }
      return reserved;
    }
    const slot = Math.max(now, this.#tat - (this.burst - 1) * this.#intervalMs);
    this.#tat = Math.max(this.#tat, now) + this.#intervalMs;
    if (slot <= now) return now;
    const at = Math.ceil(slot);
    this.#reservations.set(key, at);
    return at;
  }

  /** Reservations held now. */
  get reserved(): number {
    return this.#reservations.size;
  }

  /**
   * Forgets reservations due before `before` (their calls came back and went another way, or
   * were cancelled); their slots are spent.
   */
  forgetBefore(before: number): void {
    for (const [key, at] of this.#reservations) if (at < before) this.#reservations.delete(key);
  }
}
