/**
 * Rate limiter: a token bucket refilled at `tokensPerSecond` up to `burst`. A call takes a token;
 * when none is left it waits for one if that takes at most `maxWaitMs`, and is refused with
 * `RateLimitedError` (saying how long to wait) otherwise. Waiting calls reserve their token, so
 * they are served in arrival order.
 *
 * The limiter can be paused until a time (`pauseUntil`), and by default pauses itself when the
 * upstream answers 429 or 503 with `Retry-After` (ARCHITECTURE.md section 4: a 429 pauses the
 * destination, not only the call), capped at `maxPauseMs`.
 */
import type { Clock } from "../core/ports.ts";
import { classifyError, classifyResult, type Verdict } from "./classify.ts";
import type { ExecuteOptions, PolicyContext } from "./context.ts";
import { RateLimitedError } from "./errors.ts";
import { Emitter, type EventSource } from "./events.ts";
import { check, executeWith, internal, type Operation, type Policy } from "./policy.ts";
import { systemClock } from "./system.ts";

/** Options of `rateLimiter()`. */
export interface RateLimiterOptions {
  /** Refill rate, tokens per second. Required. */
  tokensPerSecond: number;
  /** Bucket size: the most calls allowed back to back. Default: `tokensPerSecond` (at least 1). */
  burst?: number;
  /** Longest a call may wait for a token (or a pause to end), in ms. Default 0 (refuse at once). */
  maxWaitMs?: number;
  /** Pause on a 429 or 503 that carries `Retry-After`. Default true. */
  pauseOnRetryAfter?: boolean;
  /** Cap on a pause taken from `Retry-After`, in ms. Default 60,000. */
  maxPauseMs?: number;
  /** Default: the system clock. */
  clock?: Clock;
}

/** Events of `rateLimiter()`. */
export interface RateLimiterEvents {
  "rate-limiter:rejected": { retryAfterMs: number; pausedUntil?: number };
  "rate-limiter:waited": { waitMs: number };
  /** The limiter paused; `capped` when `maxPauseMs` shortened the pause asked for. */
  "rate-limiter:paused": { until: number; reason: string; requestedMs: number; capped: boolean };
}

/** The rate limiter policy. */
export class RateLimiterPolicy implements Policy, EventSource<RateLimiterEvents> {
  /** Refill rate, tokens per second. */
  readonly tokensPerSecond: number;
  /** Bucket size. */
  readonly burst: number;
  /** Longest a call may wait for a token, in ms. */
  readonly maxWaitMs: number;
  /** Cap on a pause taken from `Retry-After`, in ms. */
  readonly maxPauseMs: number;
  readonly #pauseOnRetryAfter: boolean;
  readonly #clock: Clock;
  readonly #events = new Emitter<RateLimiterEvents>();
  #tokens: number;
  #refilledAt: number;
  #pausedUntil = -Infinity;

  constructor(options: RateLimiterOptions) {
    this.tokensPerSecond = options.tokensPerSecond;
    check(
      Number.isFinite(this.tokensPerSecond) && this.tokensPerSecond > 0,
      "rateLimiter",
      `tokensPerSecond must be a finite number > 0, got ${this.tokensPerSecond}`,
    );
    this.burst = options.burst ?? Math.max(1, this.tokensPerSecond);
    check(this.burst >= 1, "rateLimiter", `burst must be >= 1, got ${this.burst}`);
    this.maxWaitMs = options.maxWaitMs ?? 0;
    check(this.maxWaitMs >= 0, "rateLimiter", `maxWaitMs must be >= 0, got ${this.maxWaitMs}`);
    this.maxPauseMs = options.maxPauseMs ?? 60_000;
    this.#pauseOnRetryAfter = options.pauseOnRetryAfter ?? true;
    this.#clock = options.clock ?? systemClock;
    this.#tokens = this.burst;
    this.#refilledAt = this.#clock.now();
  }

  on: EventSource<RateLimiterEvents>["on"] = (name, listener) => this.#events.on(name, listener);

  /** Tokens available now (negative while calls wait on reserved tokens). */
  get tokens(): number {
    this.#refill(this.#clock.now());
    return this.#tokens;
  }

  /** End of the current pause (epoch ms), or `undefined` when not paused. */
  get pausedUntil(): number | undefined {
    return this.#pausedUntil > this.#clock.now() ? this.#pausedUntil : undefined;
  }

  /** Admits no call before `epochMs` (a later pause already in force is kept). */
  pauseUntil(epochMs: number, reason = "paused"): void {
    const now = this.#clock.now();
    this.#pause(now, Math.max(0, epochMs - now), reason, Infinity);
  }

  /** Ends a pause early. */
  resume(): void {
    this.#pausedUntil = -Infinity;
  }

  execute<T>(fn: Operation<T>, options?: ExecuteOptions): Promise<T> {
    return executeWith(this, fn, options);
  }

  async run<T>(fn: Operation<T>, context: PolicyContext): Promise<T> {
    const ctx = internal(context);
    const now = this.#clock.now();
    this.#refill(now);
    const pauseWaitMs = Math.max(0, this.#pausedUntil - now);
    const tokenWaitMs = this.#tokens >= 1 ? 0 : ((1 - this.#tokens) / this.tokensPerSecond) * 1000;
    const waitMs = Math.ceil(Math.max(pauseWaitMs, tokenWaitMs));
    if (waitMs > this.maxWaitMs) {
      const pausedUntil = pauseWaitMs > 0 ? this.#pausedUntil : undefined;
      if (this.#events.has("rate-limiter:rejected")) {
        this.#events.emit("rate-limiter:rejected", {
          retryAfterMs: waitMs,
          ...(pausedUntil === undefined ? {} : { pausedUntil }),
        });
      }
      throw new RateLimitedError({
        retryAfterMs: waitMs,
        tokensPerSecond: this.tokensPerSecond,
        maxWaitMs: this.maxWaitMs,
        ...(pausedUntil === undefined ? {} : { pausedUntil }),
      });
    }
    this.#tokens -= 1;
    if (waitMs > 0) {
      if (this.#events.has("rate-limiter:waited"))
        this.#events.emit("rate-limiter:waited", { waitMs });
      try {
        await this.#clock.sleep(waitMs, ctx.signal);
      } catch (error) {
        this.#tokens += 1;
        throw ctx.aborted ? ctx.reason : error;
      }
    }
    if (!this.#pauseOnRetryAfter) return await fn(ctx);
    let value: T;
    try {
      value = await fn(ctx);
    } catch (error) {
      this.#pauseFrom(classifyError(error, this.#clock.now()));
      throw error;
    }
    if (typeof value === "object" && value !== null)
      this.#pauseFrom(classifyResult(value, this.#clock.now()));
    return value;
  }

  #pauseFrom(verdict: Verdict): void {
    if (verdict.retryAfter === undefined || (verdict.status !== 429 && verdict.status !== 503))
      return;
    this.#pause(
      this.#clock.now(),
      verdict.retryAfter.delayMs,
      `status ${verdict.status} with ${verdict.retryAfter.source}`,
      this.maxPauseMs,
    );
  }

  #pause(now: number, requestedMs: number, reason: string, capMs: number): void {
    const capped = requestedMs > capMs;
    const until = now + (capped ? capMs : requestedMs);
    if (until <= this.#pausedUntil) return;
    this.#pausedUntil = until;
    if (this.#events.has("rate-limiter:paused")) {
      this.#events.emit("rate-limiter:paused", { until, reason, requestedMs, capped });
    }
  }

  #refill(now: number): void {
    const elapsed = now - this.#refilledAt;
    if (elapsed <= 0) return;
    this.#refilledAt = now;
    this.#tokens = Math.min(this.burst, this.#tokens + (elapsed * this.tokensPerSecond) / 1000);
  }
}

/**
 * A token-bucket rate limiter that can be paused until a time.
 *
 * @example
 * const limiter = rateLimiter({ tokensPerSecond: 50, burst: 10, maxWaitMs: 1_000 });
 * limiter.pauseUntil(Date.now() + 30_000, "maintenance");
 */
export function rateLimiter(options: RateLimiterOptions): RateLimiterPolicy {
  return new RateLimiterPolicy(options);
}
