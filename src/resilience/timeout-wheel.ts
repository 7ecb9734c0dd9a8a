/**
 * Coarse timeouts without a clock read per call: how `timeout()` tracks attempts of one fixed
 * length `timeoutMs`. A new attempt is linked into a list of unstamped attempts (no clock read,
 * no heap work). A ticker, running every `resolutionMs` while attempts come and go, stamps that
 * list with one clock reading and hands it to the shared `Watchdog` as a bucket due at
 * `stamp + timeoutMs`. An attempt that ends unlinks itself in O(1).
 *
 * Guarantee: the stamp is taken after every attempt in the bucket started, so no attempt is
 * abandoned before `timeoutMs` has passed; an attempt is abandoned at most `resolutionMs` late
 * (later only if the event loop was blocked and could not run the ticker). The first attempt
 * after a quiet spell is stamped at once with the reading that restarts the ticker, so an
 * isolated call times out exactly at `timeoutMs`. The ticker's last reading (`lastTickAt`) is
 * also a clock reading at most `resolutionMs` old that others may use where that precision is
 * enough (the breaker's rolling window).
 */
import type { Clock } from "../core/ports.ts";
import type { Context } from "./context.ts";
import { rejected } from "./policy.ts";
import { isUnrefClock } from "./system.ts";
import { isThenable, Watchdog, type WatchEntry } from "./watchdog.ts";

/** Told which attempt expired, builds its error. */
export interface TimeoutOwner {
  /** `stampedAt` is a reading taken after the attempt started (epoch ms). */
  expiredAttempt(scope: Context, stampedAt: number): unknown;
}

/** A node of the intrusive doubly-linked lists below. */
class Link {
  prev: Link = this;
  next: Link = this;
}

/** An attempt under a coarse timeout. */
class TimedCall<T> extends Link {
  readonly scope: Context;
  readonly #owner: TimeoutOwner;
  #settled = false;
  #resolve: (value: T) => void = noop;
  #reject: (error: unknown) => void = noop;

  constructor(scope: Context, owner: TimeoutOwner) {
    super();
    this.scope = scope;
    this.#owner = owner;
  }

  settleWith(resolve: (value: T) => void, reject: (error: unknown) => void): void {
    this.#resolve = resolve;
    this.#reject = reject;
  }

  expire(stampedAt: number): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#unlink();
    const error = this.#owner.expiredAttempt(this.scope, stampedAt);
    this.scope.abort(error);
    this.scope.dispose();
    this.#reject(error);
  }

  fulfil(value: T): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#unlink();
    this.scope.dispose();
    this.#resolve(value);
  }

  fail(error: unknown): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#unlink();
    this.scope.dispose();
    this.#reject(error);
  }

  #unlink(): void {
    this.prev.next = this.next;
    this.next.prev = this.prev;
    this.prev = this;
    this.next = this;
  }
}

/** Attempts stamped together, due together. */
class Bucket extends Link implements WatchEntry {
  readonly dueAt: number;
  readonly stampedAt: number;
  index = -1;
  seq = 0;

  constructor(stampedAt: number, dueAt: number) {
    super();
    this.stampedAt = stampedAt;
    this.dueAt = dueAt;
  }

  /** Takes over every node of `list`, leaving it empty. */
  adopt(list: Link): void {
    if (list.next === list) return;
    this.next = list.next;
    this.prev = list.prev;
    this.next.prev = this;
    this.prev.next = this;
    list.next = list;
    list.prev = list;
  }

  expire(): void {
    // Expiring unlinks the head each time; stop at the sentinel.
    while (this.next !== this) (this.next as TimedCall<unknown>).expire(this.stampedAt);
  }
}

const wheels = new WeakMap<Clock, Map<number, TimeoutWheel>>();

/** Coarse per-attempt timeouts of one length, shared by every timeout of that length on a clock. */
export class TimeoutWheel {
  readonly timeoutMs: number;
  readonly resolutionMs: number;
  /** A clock reading at most `resolutionMs` old while the ticker runs; `-Infinity` before. */
  lastTickAt = Number.NEGATIVE_INFINITY;
  readonly #clock: Clock;
  readonly #watchdog: Watchdog;
  readonly #unstamped = new Link();
  #ticking = false;
  #exact = false;
  #busy = false;
  #idleTicks = 0;
  readonly #maxIdleTicks: number;
  readonly #sleep: (ms: number) => Promise<void>;

  private constructor(clock: Clock, timeoutMs: number) {
    this.timeoutMs = timeoutMs;
    // 1/20 of the timeout, between 1 ms and 100 ms: at most 5 % late, 20 ticks per timeout.
    this.resolutionMs = Math.min(100, Math.max(1, Math.floor(timeoutMs / 20)));
    this.#clock = clock;
    this.#watchdog = Watchdog.for(clock);
    // Keep ticking through a quiet spell as long as a timeout, so steady light traffic does
    // not restart the ticker on every call.
    this.#maxIdleTicks = Math.ceil(timeoutMs / this.resolutionMs);
    this.#sleep = isUnrefClock(clock) ? (ms) => clock.sleepUnref(ms) : (ms) => clock.sleep(ms);
  }

  /**
   * The wheel for timeouts of `timeoutMs` on `clock`. Shared, so policies created per call (an
   * anti-pattern, but a common one) do not each start a ticker.
   */
  static for(clock: Clock, timeoutMs: number): TimeoutWheel {
    let byLength = wheels.get(clock);
    if (byLength === undefined) {
      byLength = new Map();
      wheels.set(clock, byLength);
    }
    let wheel = byLength.get(timeoutMs);
    if (wheel === undefined) {
      wheel = new TimeoutWheel(clock, timeoutMs);
      byLength.set(timeoutMs, wheel);
    }
    return wheel;
  }

  /**
   * A clock reading at most `resolutionMs` old: the ticker's last one, or (when the ticker is
   * idle) a fresh one that restarts it. Call it right before `run`.
   */
  now(): number {
    if (this.#ticking) return this.lastTickAt;
    const now = this.#clock.now();
    this.lastTickAt = now;
    this.#ticking = true;
    this.#idleTicks = 0;
    this.#exact = true;
    this.#scheduleTick();
    return now;
  }

  /**
   * Runs `fn(scope)`; abandons it (scope aborted, promise rejected with the owner's error) once
   * `timeoutMs` has passed, at most `resolutionMs` late. Call `now()` first.
   */
  run<T>(
    fn: (context: Context) => T | PromiseLike<T>,
    scope: Context,
    owner: TimeoutOwner,
  ): Promise<T> {
    const exact = this.#exact;
    this.#exact = false;
    let result: T | PromiseLike<T>;
    try {
      result = fn(scope);
    } catch (error) {
      scope.dispose();
      return rejected(error);
    }
    if (!isThenable(result)) {
      scope.dispose();
      return Promise.resolve(result);
    }
    const call = new TimedCall<T>(scope, owner);
    capturing = call as TimedCall<unknown>;
    const promise = new Promise<T>(capture as (resolve: (value: T) => void) => void);
    this.#busy = true;
    if (exact) {
      // The reading that restarted the ticker was taken just before this attempt started.
      const bucket = new Bucket(this.lastTickAt, this.lastTickAt + this.timeoutMs);
      bucket.adopt(linkAlone(call));
      this.#watchdog.add(bucket);
    } else {
      const tail = this.#unstamped.prev;
      call.prev = tail;
      call.next = this.#unstamped;
      tail.next = call;
      this.#unstamped.prev = call;
    }
    result.then(
      (value) => call.fulfil(value),
      (error: unknown) => call.fail(error),
    );
    return promise;
  }

  #scheduleTick(): void {
    this.#sleep(this.resolutionMs).then(
      () => this.#tick(),
      () => {
        this.#ticking = false;
      },
    );
  }

  #tick(): void {
    const now = this.#clock.now();
    this.lastTickAt = now;
    if (this.#unstamped.next !== this.#unstamped) {
      const bucket = new Bucket(now, now + this.timeoutMs);
      bucket.adopt(this.#unstamped);
      this.#watchdog.add(bucket);
    }
    if (this.#busy) {
      this.#busy = false;
      this.#idleTicks = 0;
    } else if (++this.#idleTicks >= this.#maxIdleTicks) {
      this.#ticking = false;
      return;
    }
    this.#scheduleTick();
  }
}

let capturing: TimedCall<unknown> | undefined;

function capture(resolve: (value: unknown) => void, reject: (error: unknown) => void): void {
  capturing!.settleWith(resolve, reject);
  capturing = undefined;
}

function noop(): void {}

/** A one-node list holding `node`, for `Bucket.adopt`. */
function linkAlone(node: Link): Link {
  const list = new Link();
  list.next = node;
  list.prev = node;
  node.next = list;
  node.prev = list;
  return list;
}
