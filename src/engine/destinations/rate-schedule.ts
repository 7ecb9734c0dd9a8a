/**
 * A destination's rate limit as a schedule of send slots (the generic cell rate algorithm, a
 * token bucket kept as one time): `ratePerSecond` sends per second, in bursts of up to `burst`.
 * The schedule is the fleet's: it lives in the store, and each process reserves short spans of it
 * (`Store.reserveRate`, one statement), so every process on one database together keeps to the
 * limit, not each process alone.
 *
 * `take` gives a call the next slot of this process's span (reserving the next span when it is
 * used up): now, or a later time reserved for that call. A call held until its slot carries it in
 * the store (held `rate_limited` until the slot), so whichever process claims it then sends it
 * without taking another; this process also remembers it.
 *
 * The `steadfast/resilience` rate limiter (rate-limiter.ts) keeps its bucket inside one process
 * and sleeps until a token is free; the engine needs slot times shared across processes.
 */
import { InvalidOptionError } from "../../core/errors.ts";

/** Reserves `spanMs` of the shared schedule at `now`; resolves with where the span starts. */
export type ReserveRate = (now: number, spanMs: number) => Promise<number>;

/** Options of `RateSchedule`. */
export interface RateScheduleOptions {
  ratePerSecond: number;
  reserve: ReserveRate;
  /** Default one second's worth (at least 1). */
  burst?: number;
  /** Slots one reservation takes: about this long's worth, ms. Default 50. */
  spanMs?: number;
}

// A reservation due longer ago than this is not honoured when its call comes back.
const STALE_RESERVATION_MS = 1_000;

/** See the file comment. */
export class RateSchedule {
  readonly ratePerSecond: number;
  readonly burst: number;
  readonly #intervalMs: number;
  readonly #reserve: ReserveRate;
  readonly #slotsPerSpan: number;
  // This process's span: slot i (from #next up to #count) is max(#spanNow, #spanStart + (i -
  // burst + 1) * interval); the first `burst` slots of a span reserved on an idle schedule are
  // all at once (the bucket was full).
  #spanStart = 0;
  #spanNow = 0;
  #next = 0;
  #count = 0;
  #reserving: Promise<void> | undefined;
  readonly #reservations = new Map<string, number>();

  constructor(options: RateScheduleOptions) {
    const { ratePerSecond } = options;
    if (!(Number.isFinite(ratePerSecond) && ratePerSecond > 0)) {
      throw new InvalidOptionError(
        `ratePerSecond must be a finite number > 0, got ${ratePerSecond}`,
      );
    }
    this.ratePerSecond = ratePerSecond;
    this.burst = options.burst ?? Math.max(1, Math.floor(ratePerSecond));
    this.#intervalMs = 1_000 / ratePerSecond;
    this.#reserve = options.reserve;
    this.#slotsPerSpan = Math.max(1, Math.ceil((ratePerSecond * (options.spanMs ?? 50)) / 1_000));
  }

  /**
   * The slot of `key` at `now`: `now` when it may be sent now, else the later time reserved for
   * it (its own reservation, given up once due, or the next slot of the span). Synchronous unless
   * a span must be reserved (`clock` gives the time after that wait); rejects when the store
   * cannot reserve one.
   */
  take(key: string, now: number, clock: () => number): number | Promise<number> {
    const reserved = this.#reservations.get(key);
    if (reserved !== undefined) {
      if (reserved > now) return reserved;
      this.#reservations.delete(key);
      // A reservation long past was spent elsewhere (its call was sent by another process, and
      // this is a later attempt): it does not count again.
      if (now - reserved <= STALE_RESERVATION_MS) return now;
    }
    return this.#fromSpan(key, now, clock);
  }

  /** Forgets `key`'s reservation (its call was sent on the slot it carried). */
  forget(key: string): void {
    this.#reservations.delete(key);
  }

  /** Reservations held now. */
  get reserved(): number {
    return this.#reservations.size;
  }

  /**
   * Forgets reservations due before `before` (their calls came back elsewhere, went another way,
   * or were cancelled); their slots are spent.
   */
  forgetBefore(before: number): void {
    for (const [key, at] of this.#reservations) if (at < before) this.#reservations.delete(key);
  }

  #fromSpan(key: string, now: number, clock: () => number): number | Promise<number> {
    if (this.#next < this.#count) {
      const index = this.#next++;
      const slot = Math.max(
        this.#spanNow,
        this.#spanStart + (index - this.burst + 1) * this.#intervalMs,
      );
      // A slot already past is used now: at most one span's slots per process come late.
      if (slot <= now) return now;
      const at = Math.ceil(slot);
      this.#reservations.set(key, at);
      return at;
    }
    this.#reserving ??= this.#reserveSpan(now).finally(() => {
      this.#reserving = undefined;
    });
    return this.#reserving.then(() => this.#fromSpan(key, clock(), clock));
  }

  async #reserveSpan(now: number): Promise<void> {
    const spanMs = this.#slotsPerSpan * this.#intervalMs;
    const start = await this.#reserve(now, spanMs);
    this.#spanStart = start;
    this.#spanNow = now;
    this.#next = 0;
    this.#count = this.#slotsPerSpan;
  }
}
