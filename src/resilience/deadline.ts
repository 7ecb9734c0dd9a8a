/**
 * End-to-end deadlines. A `Deadline` is one point in time for a whole execution; per-attempt
 * timeouts are carved from what is left of it, no attempt starts when less than `minAttemptMs`
 * remains, and the remaining time can travel downstream as a header
 * (`context.deadlineHeader(name)`). The `deadline()` policy creates one per execution and
 * abandons the execution when it passes.
 */
import type { Clock } from "../core/ports.ts";
import type { ExecuteOptions, PolicyContext } from "./context.ts";
import { DeadlineExceededError } from "./errors.ts";
import { Emitter, type EventSource } from "./events.ts";
import { check, executeWith, internal, type Operation, type Policy } from "./policy.ts";
import { systemClock } from "./system.ts";
import { Watchdog, runUntil, type ExpiryOwner, type WatchedCall } from "./watchdog.ts";

/** Options of a `Deadline`. */
export interface DeadlineOptions {
  /** Default: the system clock. */
  clock?: Clock;
  /**
   * Least time an attempt needs, in ms: no attempt starts (and no retry waits) when less would
   * be left. Default 0 (only an expired deadline stops attempts).
   */
  minAttemptMs?: number;
}

/** A fixed point in time by which an execution must end. */
export class Deadline {
  /** When the deadline falls (epoch ms). */
  readonly expiresAt: number;
  /** Least time an attempt needs, in ms. */
  readonly minAttemptMs: number;
  /** The clock the deadline is measured with. */
  readonly clock: Clock;

  /** A deadline at `expiresAt` (epoch ms). See `Deadline.after` for a relative one. */
  constructor(expiresAt: number, options: DeadlineOptions = {}) {
    this.expiresAt = expiresAt;
    this.clock = options.clock ?? systemClock;
    this.minAttemptMs = options.minAttemptMs ?? 0;
    check(
      Number.isFinite(this.minAttemptMs) && this.minAttemptMs >= 0,
      "deadline",
      `minAttemptMs must be a finite number >= 0, got ${this.minAttemptMs}`,
    );
  }

  /**
   * A deadline `totalMs` from now.
   *
   * @example
   * const deadline = Deadline.after(5_000, { minAttemptMs: 100 });
   * await policy.execute(fn, { deadline });
   */
  static after(totalMs: number, options: DeadlineOptions = {}): Deadline {
    check(
      Number.isFinite(totalMs) && totalMs >= 0,
      "deadline",
      `totalMs must be a finite number >= 0, got ${totalMs}`,
    );
    return new Deadline((options.clock ?? systemClock).now() + totalMs, options);
  }

  /** Time left, in ms; 0 once passed. */
  remainingMs(): number {
    return Math.max(0, this.expiresAt - this.clock.now());
  }

  /** True once the deadline has passed. */
  get expired(): boolean {
    return this.clock.now() >= this.expiresAt;
  }

  /**
   * Whether an attempt may start after waiting `delayMs`: at least `minAttemptMs` (and more
   * than 0 ms) must be left when it starts.
   */
  allows(delayMs = 0): boolean {
    const left = this.expiresAt - this.clock.now() - delayMs;
    return left > 0 && left >= this.minAttemptMs;
  }

  /** The error for a refused attempt, with the numbers behind it. */
  exceeded(delayMs = 0, cause?: unknown): DeadlineExceededError {
    return new DeadlineExceededError(
      {
        expiresAt: this.expiresAt,
        remainingMs: this.remainingMs(),
        neededMs: delayMs + this.minAttemptMs,
      },
      cause === undefined ? {} : { cause },
    );
  }

  /** `{ [name]: "<remaining ms>" }`, for telling a downstream service how long it has. */
  header(name: string): Record<string, string> {
    return { [name]: String(Math.floor(this.remainingMs())) };
  }
}

/** Options of the `deadline()` policy. */
export interface DeadlinePolicyOptions extends DeadlineOptions {
  /** Time the whole execution may take, in ms. Required. */
  totalMs: number;
}

/** Events of the `deadline()` policy. */
export interface DeadlineEvents {
  /** The execution was abandoned at its deadline. */
  "deadline:exceeded": { expiresAt: number; totalMs: number };
}

/** A policy that gives each execution an end-to-end `Deadline`. */
export class DeadlinePolicy implements Policy, EventSource<DeadlineEvents> {
  /** Time each execution may take, in ms. */
  readonly totalMs: number;
  /** Least time an attempt needs, in ms. */
  readonly minAttemptMs: number;
  readonly #clock: Clock;
  readonly #watchdog: Watchdog;
  readonly #events = new Emitter<DeadlineEvents>();
  readonly #owner: ExpiryOwner = { expired: (call) => this.#expired(call) };

  constructor(options: DeadlinePolicyOptions) {
    check(
      Number.isFinite(options.totalMs) && options.totalMs >= 0,
      "deadline",
      `totalMs must be a finite number >= 0, got ${options.totalMs}`,
    );
    this.totalMs = options.totalMs;
    this.minAttemptMs = options.minAttemptMs ?? 0;
    this.#clock = options.clock ?? systemClock;
    this.#watchdog = Watchdog.for(this.#clock);
  }

  on: EventSource<DeadlineEvents>["on"] = (name, listener) => this.#events.on(name, listener);

  execute<T>(fn: Operation<T>, options?: ExecuteOptions): Promise<T> {
    return executeWith(this, fn, options);
  }

  run<T>(fn: Operation<T>, context: PolicyContext): Promise<T> {
    const parent = internal(context);
    let deadline = new Deadline(this.#clock.now() + this.totalMs, {
      clock: this.#clock,
      minAttemptMs: this.minAttemptMs,
    });
    // A caller's deadline that falls earlier still governs.
    if (parent.deadline !== undefined && parent.deadline.expiresAt < deadline.expiresAt) {
      deadline = parent.deadline;
    }
    if (!deadline.allows()) return Promise.reject(deadline.exceeded());
    const scope = parent.scope();
    scope.deadline = deadline;
    if (deadline.expiresAt < scope.expiresAt) {
      scope.expiresAt = deadline.expiresAt;
      scope.clock = deadline.clock;
    }
    return runUntil(fn, scope, deadline.expiresAt, 0, this.#watchdog, this.#owner);
  }

  /** The watchdog calls this when an execution passes its deadline. */
  #expired(call: WatchedCall<unknown>): unknown {
    const deadline = call.scope.deadline!;
    if (this.#events.has("deadline:exceeded")) {
      this.#events.emit("deadline:exceeded", {
        expiresAt: deadline.expiresAt,
        totalMs: this.totalMs,
      });
    }
    return deadline.exceeded();
  }
}

/**
 * An end-to-end deadline for each execution: inner per-attempt timeouts are carved from it,
 * retries do not wait past it, and the execution is abandoned (signal aborted,
 * `DeadlineExceededError`) when it passes. Place it outside `retry`.
 *
 * @example
 * const policy = pipeline(deadline({ totalMs: 10_000, minAttemptMs: 200 }), retry(), timeout(2_000));
 */
export function deadline(options: DeadlinePolicyOptions): DeadlinePolicy {
  return new DeadlinePolicy(options);
}
