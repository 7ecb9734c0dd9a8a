/**
 * Per-attempt timeouts. An attempt that runs past its limit is abandoned: its signal aborts with
 * a `TimeoutError` and the caller gets that error at once, whether or not the function cooperates.
 * When a deadline applies, the limit is carved from it (the nearer of the two wins, and hitting
 * the deadline raises `DeadlineExceededError`, which is not retried); no attempt starts when the
 * deadline leaves less than its `minAttemptMs`.
 *
 * No timer and no clock read per call: attempts are stamped by a coarse wheel (see
 * `timeout-wheel.ts`): never abandoned early, at most `resolutionMs` (1/20 of `timeoutMs`, 1 to
 * 100 ms) late. With a deadline the limit is tracked exactly by the shared watchdog. No
 * `AbortController` exists unless the function reads `context.signal`.
 */
import type { Clock } from "../core/ports.ts";
import type { Context, ExecuteOptions, PolicyContext } from "./context.ts";
import type { Deadline } from "./deadline.ts";
import { TimeoutError } from "./errors.ts";
import { Emitter, type EventSource } from "./events.ts";
import { check, executeWith, internal, type Operation, type Policy } from "./policy.ts";
import { systemClock } from "./system.ts";
import { TimeoutWheel, type TimeoutOwner } from "./timeout-wheel.ts";
import { Watchdog, runUntil, type ExpiryOwner, type WatchedCall } from "./watchdog.ts";

/** Options of `timeout()`. */
export interface TimeoutOptions {
  /** Longest an attempt may run, in ms. Required. */
  timeoutMs: number;
  /** Default: the system clock. */
  clock?: Clock;
}

/** Events of `timeout()`. */
export interface TimeoutEvents {
  /** An attempt was abandoned. `byDeadline` when the deadline, not `timeoutMs`, was the limit. */
  "timeout:fired": { timeoutMs: number; elapsedMs: number; byDeadline: boolean };
}

/** A per-attempt timeout. */
export class TimeoutPolicy implements Policy, EventSource<TimeoutEvents> {
  /** Longest an attempt may run, in ms. */
  readonly timeoutMs: number;
  readonly #clock: Clock;
  readonly #watchdog: Watchdog;
  readonly #wheel: TimeoutWheel;
  readonly #wheelOwner: TimeoutOwner;
  readonly #carvedOwner: ExpiryOwner;
  readonly #events = new Emitter<TimeoutEvents>();

  constructor(options: TimeoutOptions) {
    check(
      options.timeoutMs > 0 && options.timeoutMs <= 2_147_483_647,
      "timeout",
      `timeoutMs must be > 0 and fit a timer (<= 2147483647 ms), got ${options.timeoutMs}`,
    );
    this.timeoutMs = options.timeoutMs;
    this.#clock = options.clock ?? systemClock;
    this.#watchdog = Watchdog.for(this.#clock);
    this.#wheel = TimeoutWheel.for(this.#clock, this.timeoutMs);
    this.#wheelOwner = {
      expiredAttempt: (_scope, stampedAt) => this.#expiredAttempt(stampedAt),
    };
    this.#carvedOwner = { expired: (call) => this.#expiredCarved(call) };
  }

  /** How late an attempt may be abandoned, in ms: 1/20 of `timeoutMs`, within [1, 100]. */
  get resolutionMs(): number {
    return this.#wheel.resolutionMs;
  }

  on: EventSource<TimeoutEvents>["on"] = (name, listener) => this.#events.on(name, listener);

  execute<T>(fn: Operation<T>, options?: ExecuteOptions): Promise<T> {
    return executeWith(this, fn, options);
  }

  run<T>(fn: Operation<T>, context: PolicyContext): Promise<T> {
    const parent = internal(context);
    if (parent.deadline === undefined) {
      const now = this.#wheel.now();
      // Published for an outer breaker, which buckets the outcome by it (see circuit-breaker.ts).
      parent.startedAt = now;
      parent.startedAtClock = this.#clock;
      const scope = parent.scope();
      // `now` may be up to one tick old, so this errs early: right for telling a downstream
      // service how long it has.
      if (now + this.timeoutMs < scope.expiresAt) {
        scope.expiresAt = now + this.timeoutMs;
        scope.clock = this.#clock;
      }
      return this.#wheel.run(fn, scope, this.#wheelOwner);
    }
    return this.#runCarved(fn, parent, parent.deadline);
  }

  /** With a deadline: the nearer of the two limits, tracked exactly. */
  #runCarved<T>(fn: Operation<T>, parent: Context, deadline: Deadline): Promise<T> {
    const startedAt = this.#clock.now();
    parent.startedAt = startedAt;
    parent.startedAtClock = this.#clock;
    let dueAt = startedAt + this.timeoutMs;
    let byDeadline = false;
    if (!deadline.allows()) return Promise.reject(deadline.exceeded());
    if (deadline.expiresAt <= dueAt) {
      dueAt = deadline.expiresAt;
      byDeadline = true;
    }
    const scope = parent.scope();
    if (dueAt < scope.expiresAt) {
      scope.expiresAt = dueAt;
      scope.clock = this.#clock;
    }
    return runUntil(fn, scope, dueAt, startedAt, this.#watchdog, this.#carvedOwner, byDeadline);
  }

  /** The wheel calls this when an attempt passes `timeoutMs`. */
  #expiredAttempt(stampedAt: number): unknown {
    const elapsedMs = this.#clock.now() - stampedAt;
    if (this.#events.has("timeout:fired")) {
      this.#events.emit("timeout:fired", {
        timeoutMs: this.timeoutMs,
        elapsedMs,
        byDeadline: false,
      });
    }
    return new TimeoutError({ timeoutMs: this.timeoutMs, elapsedMs });
  }

  /** The watchdog calls this when a deadline-carved attempt passes its limit. */
  #expiredCarved(call: WatchedCall<unknown>): unknown {
    const { scope, startedAt, dueAt, flag: byDeadline } = call;
    const elapsedMs = this.#clock.now() - startedAt;
    const limitMs = dueAt - startedAt;
    if (this.#events.has("timeout:fired")) {
      this.#events.emit("timeout:fired", { timeoutMs: limitMs, elapsedMs, byDeadline });
    }
    if (byDeadline && scope.deadline !== undefined) return scope.deadline.exceeded();
    return new TimeoutError({ timeoutMs: limitMs, elapsedMs });
  }
}

/**
 * Abandons any attempt that runs longer than `timeoutMs`: the caller gets a `TimeoutError`
 * (retryable) and the function's `signal` aborts with it.
 *
 * @example
 * const policy = timeout(2_000);
 * await policy.execute(({ signal }) => fetch(url, { signal }));
 */
export function timeout(options: number | TimeoutOptions): TimeoutPolicy {
  return new TimeoutPolicy(typeof options === "number" ? { timeoutMs: options } : options);
}
