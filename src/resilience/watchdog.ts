/**
 * One shared timer per clock that abandons attempts past their limit. Per call, a timeout costs
 * a heap insert and a removal, not a timer and an `AbortController`: the watchdog keeps a single
 * sleep armed for the earliest limit, and when an attempt finishes first nothing is cancelled
 * (the sleep fires later, finds nothing due and re-arms for the next limit, if any). With a clock
 * that offers `sleepUnref` the watchdog never keeps a process alive by itself.
 */
import type { Clock } from "../core/ports.ts";
import type { Context } from "./context.ts";
import { rejected } from "./policy.ts";
import { isUnrefClock } from "./system.ts";

/** Something the watchdog fires at `dueAt` unless it was removed first. */
export interface WatchEntry {
  /** Epoch ms at which `expire` is called. */
  readonly dueAt: number;
  /** Position in the heap; -1 when not in it. Owned by the watchdog. */
  index: number;
  /** Insertion order, breaks ties between equal `dueAt`s. Owned by the watchdog. */
  seq: number;
  expire(): void;
}

const watchdogs = new WeakMap<Clock, Watchdog>();
const MAX_TIMER_MS = 2_147_483_647;

/** A min-heap of entries keyed by `dueAt`, with one armed sleep on the clock. */
export class Watchdog {
  readonly clock: Clock;
  #heap: WatchEntry[] = [];
  #seq = 0;
  #armedAt = Infinity;
  #disarm: AbortController | undefined;
  readonly #sleep: (ms: number, signal?: AbortSignal) => Promise<void>;

  private constructor(clock: Clock) {
    this.clock = clock;
    this.#sleep = isUnrefClock(clock)
      ? (ms, signal) => clock.sleepUnref(ms, signal)
      : (ms, signal) => clock.sleep(ms, signal);
  }

  /** The watchdog shared by every policy on `clock`. */
  static for(clock: Clock): Watchdog {
    let watchdog = watchdogs.get(clock);
    if (watchdog === undefined) {
      watchdog = new Watchdog(clock);
      watchdogs.set(clock, watchdog);
    }
    return watchdog;
  }

  /** Entries waiting to fire. */
  get size(): number {
    return this.#heap.length;
  }

  /** Fires `entry.expire()` at `entry.dueAt`, unless `remove(entry)` comes first. */
  add(entry: WatchEntry): void {
    entry.seq = this.#seq++;
    const heap = this.#heap;
    entry.index = heap.length;
    heap.push(entry);
    this.#up(entry.index);
    if (entry.dueAt < this.#armedAt) this.#arm(entry.dueAt);
  }

  /** Forgets `entry`. No-op when it already fired or was removed. */
  remove(entry: WatchEntry): void {
    const index = entry.index;
    if (index < 0) return;
    entry.index = -1;
    const heap = this.#heap;
    const last = heap.pop()!;
    if (index === heap.length) return;
    heap[index] = last;
    last.index = index;
    this.#down(index);
    this.#up(last.index);
  }

  #arm(dueAt: number): void {
    // Re-arming earlier than the armed sleep is rare (a deadline-carved limit shorter than the
    // usual timeout); only then is the earlier sleep cancelled.
    this.#disarm?.abort();
    const disarm = new AbortController();
    this.#disarm = disarm;
    this.#armedAt = dueAt;
    // Node timers hold at most 2^31 - 1 ms; a later limit is reached by re-arming on wake-up.
    const delayMs = Math.min(MAX_TIMER_MS, Math.max(0, dueAt - this.clock.now()));
    this.#sleep(delayMs, disarm.signal).then(
      () => {
        if (this.#disarm === disarm) this.#fire();
      },
      () => {},
    );
  }

  #fire(): void {
    this.#disarm = undefined;
    this.#armedAt = Infinity;
    const now = this.clock.now();
    const heap = this.#heap;
    while (heap.length > 0 && heap[0]!.dueAt <= now) {
      const entry = heap[0]!;
      this.remove(entry);
      entry.expire();
    }
    if (heap.length > 0 && heap[0]!.dueAt < this.#armedAt) this.#arm(heap[0]!.dueAt);
  }

  #less(a: WatchEntry, b: WatchEntry): boolean {
    return a.dueAt < b.dueAt || (a.dueAt === b.dueAt && a.seq < b.seq);
  }

  #up(index: number): void {
    const heap = this.#heap;
    const entry = heap[index]!;
    while (index > 0) {
      const parentIndex = (index - 1) >> 1;
      const parent = heap[parentIndex]!;
      if (!this.#less(entry, parent)) break;
      heap[index] = parent;
      parent.index = index;
      index = parentIndex;
    }
    heap[index] = entry;
    entry.index = index;
  }

  #down(index: number): void {
    const heap = this.#heap;
    const length = heap.length;
    const entry = heap[index]!;
    for (;;) {
      const left = 2 * index + 1;
      if (left >= length) break;
      const right = left + 1;
      const child = right < length && this.#less(heap[right]!, heap[left]!) ? right : left;
      if (!this.#less(heap[child]!, entry)) break;
      heap[index] = heap[child]!;
      heap[index]!.index = index;
      index = child;
    }
    heap[index] = entry;
    entry.index = index;
  }
}

/** Says what an abandoned call fails with. Implemented by the policies, so no closure per call. */
export interface ExpiryOwner {
  /** The error for `call`, which has just passed its `dueAt`. Side effects (events) allowed. */
  expired(call: WatchedCall<unknown>): unknown;
}

/**
 * Runs `fn(scope)` and settles with its outcome, unless `dueAt` comes first: then the scope is
 * aborted with `owner.expired(call)` and the returned promise rejects with it at once (the
 * function is abandoned, not awaited). The scope is disposed either way.
 */
export function runUntil<T>(
  fn: (context: Context) => T | PromiseLike<T>,
  scope: Context,
  dueAt: number,
  startedAt: number,
  watchdog: Watchdog,
  owner: ExpiryOwner,
  flag = false,
): Promise<T> {
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
  const call = new WatchedCall<T>(dueAt, startedAt, flag, scope, watchdog, owner);
  // The executor runs synchronously: handing it `call` through a module variable saves a closure.
  capturing = call as WatchedCall<unknown>;
  const promise = new Promise<T>(capture as (resolve: (value: T) => void) => void);
  watchdog.add(call);
  result.then(
    (value) => call.fulfil(value),
    (error: unknown) => call.fail(error),
  );
  return promise;
}

let capturing: WatchedCall<unknown> | undefined;

function capture(resolve: (value: unknown) => void, reject: (error: unknown) => void): void {
  capturing!.settleWith(resolve, reject);
  capturing = undefined;
}

/** One call under a time limit. */
export class WatchedCall<T> implements WatchEntry {
  readonly dueAt: number;
  /** When the call started (epoch ms). */
  readonly startedAt: number;
  /** Owner-defined (the timeout uses it for "the limit came from the deadline"). */
  readonly flag: boolean;
  readonly scope: Context;
  index = -1;
  seq = 0;
  #settled = false;
  readonly #watchdog: Watchdog;
  readonly #owner: ExpiryOwner;
  #resolve: (value: T) => void = noop;
  #reject: (error: unknown) => void = noop;

  constructor(
    dueAt: number,
    startedAt: number,
    flag: boolean,
    scope: Context,
    watchdog: Watchdog,
    owner: ExpiryOwner,
  ) {
    this.dueAt = dueAt;
    this.startedAt = startedAt;
    this.flag = flag;
    this.scope = scope;
    this.#watchdog = watchdog;
    this.#owner = owner;
  }

  /** Receives the settle functions of the promise the caller holds. */
  settleWith(resolve: (value: T) => void, reject: (error: unknown) => void): void {
    this.#resolve = resolve;
    this.#reject = reject;
  }

  expire(): void {
    if (this.#settled) return;
    this.#settled = true;
    const error = this.#owner.expired(this as WatchedCall<unknown>);
    this.scope.abort(error);
    this.scope.dispose();
    this.#reject(error);
  }

  fulfil(value: T): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#watchdog.remove(this);
    this.scope.dispose();
    this.#resolve(value);
  }

  fail(error: unknown): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#watchdog.remove(this);
    this.scope.dispose();
    this.#reject(error);
  }
}

function noop(): void {}

/** True for promises and other thenables. */
export function isThenable<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return (
    value !== null &&
    (typeof value === "object" || typeof value === "function") &&
    typeof (value as PromiseLike<T>).then === "function"
  );
}
