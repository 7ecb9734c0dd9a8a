/**
 * Hedging: if the first attempt has not answered after `delayMs`, start another one and take
 * whichever succeeds first; the others are aborted. Each extra attempt is paid from the retry
 * budget when one is given, and is only sent when repeating the call is safe (an idempotent
 * method, or an idempotency key), since two copies of the request will reach the server.
 *
 * A failure does not launch a hedge early: failures are `retry`'s business. The execution fails
 * when every attempt started has failed (with the first failure).
 */
import type { Clock } from "../core/ports.ts";
import { isIdempotentMethod } from "./classify.ts";
import type { Context, ExecuteOptions, PolicyContext } from "./context.ts";
import { Emitter, type EventSource } from "./events.ts";
import { check, executeWith, internal, type Operation, type Policy } from "./policy.ts";
import type { RetryBudget } from "./retry-budget.ts";
import { systemClock } from "./system.ts";
import { Watchdog, type WatchEntry } from "./watchdog.ts";

/** Options of `hedge()`. */
export interface HedgeOptions {
  /** Wait before each extra attempt, in ms (a high percentile of the latency, p95 say). Required. */
  delayMs: number;
  /** Extra attempts at most. Default 1. */
  maxHedges?: number;
  /** Budget the extra attempts are paid from. Default: none (unlimited). */
  budget?: RetryBudget;
  /** Whether the function is safe to run twice at once. Default: decided like `retry`'s. */
  idempotent?: boolean;
  /** Default: the system clock. */
  clock?: Clock;
}

/** Events of `hedge()`. */
export interface HedgeEvents {
  /** An extra attempt started. `hedge` counts from 1. */
  "hedge:launched": { hedge: number; afterMs: number };
  /** An extra attempt was due but not started. */
  "hedge:skipped": { reason: "budget-exhausted" | "not-idempotent" };
  /** An attempt succeeded; `hedge` is 0 for the first attempt. */
  "hedge:won": { hedge: number };
}

/** The reason the losing attempts' signals abort with. */
export function hedgeLostError(): DOMException {
  return new DOMException("another hedged attempt answered first", "AbortError");
}

/** The hedge policy. */
export class HedgePolicy implements Policy, EventSource<HedgeEvents> {
  /** Wait before each extra attempt, in ms. */
  readonly delayMs: number;
  /** Extra attempts at most. */
  readonly maxHedges: number;
  readonly #settings: HedgeSettings;

  constructor(options: HedgeOptions) {
    this.delayMs = options.delayMs;
    this.maxHedges = options.maxHedges ?? 1;
    check(
      Number.isFinite(this.delayMs) && this.delayMs >= 0,
      "hedge",
      `delayMs must be a finite number >= 0, got ${this.delayMs}`,
    );
    check(
      Number.isInteger(this.maxHedges) && this.maxHedges >= 0,
      "hedge",
      `maxHedges must be an integer >= 0, got ${this.maxHedges}`,
    );
    const clock = options.clock ?? systemClock;
    this.#settings = {
      delayMs: this.delayMs,
      maxHedges: this.maxHedges,
      budget: options.budget,
      idempotent: options.idempotent,
      clock,
      watchdog: Watchdog.for(clock),
      events: new Emitter<HedgeEvents>(),
    };
  }

  on: EventSource<HedgeEvents>["on"] = (name, listener) => this.#settings.events.on(name, listener);

  execute<T>(fn: Operation<T>, options?: ExecuteOptions): Promise<T> {
    return executeWith(this, fn, options);
  }

  run<T>(fn: Operation<T>, context: PolicyContext): Promise<T> {
    const parent = internal(context);
    this.#settings.budget?.recordRequestOnce(parent);
    return new Promise<T>((resolve, reject) => {
      new HedgeRace(this.#settings, fn, parent, resolve, reject).start();
    });
  }
}

/** What a race needs from its policy. */
interface HedgeSettings {
  readonly delayMs: number;
  readonly maxHedges: number;
  readonly budget: RetryBudget | undefined;
  readonly idempotent: boolean | undefined;
  readonly clock: Clock;
  readonly watchdog: Watchdog;
  readonly events: Emitter<HedgeEvents>;
}

/** Whether two copies of the request may be in flight: as `retry` decides repeating. */
function mayHedge(settings: HedgeSettings, context: Context): boolean {
  if (context.idempotencyKey !== undefined) return true;
  if (settings.idempotent !== undefined) return settings.idempotent;
  return context.method === undefined || isIdempotentMethod(context.method);
}

/** One execution of a hedge policy: its attempts and its timer. */
class HedgeRace<T> implements WatchEntry {
  dueAt = 0;
  index = -1;
  seq = 0;
  readonly #policy: HedgeSettings;
  readonly #fn: Operation<T>;
  readonly #parent: Context;
  readonly #resolve: (value: T) => void;
  readonly #reject: (error: unknown) => void;
  readonly #scopes: Context[] = [];
  #running = 0;
  #settled = false;
  #firstError: { error: unknown } | undefined;
  #startedAt = 0;

  constructor(
    policy: HedgeSettings,
    fn: Operation<T>,
    parent: Context,
    resolve: (value: T) => void,
    reject: (error: unknown) => void,
  ) {
    this.#policy = policy;
    this.#fn = fn;
    this.#parent = parent;
    this.#resolve = resolve;
    this.#reject = reject;
  }

  start(): void {
    this.#startedAt = this.#policy.clock.now();
    this.#launch(0);
    if (!this.#settled && this.#policy.maxHedges > 0) this.#schedule();
  }

  /** The watchdog calls this when the hedge delay has passed. */
  expire(): void {
    if (this.#settled) return;
    const policy = this.#policy;
    const hedge = this.#scopes.length;
    if (!mayHedge(policy, this.#parent)) {
      this.#skipped("not-idempotent");
      return;
    }
    if (policy.budget !== undefined && !policy.budget.tryAcquire()) {
      this.#skipped("budget-exhausted");
      return;
    }
    if (policy.events.has("hedge:launched")) {
      policy.events.emit("hedge:launched", {
        hedge,
        afterMs: policy.clock.now() - this.#startedAt,
      });
    }
    this.#launch(hedge);
    if (!this.#settled && hedge < policy.maxHedges) this.#schedule();
  }

  #schedule(): void {
    this.dueAt = this.#policy.clock.now() + this.#policy.delayMs;
    this.#policy.watchdog.add(this);
  }

  #skipped(reason: "budget-exhausted" | "not-idempotent"): void {
    const events = this.#policy.events;
    if (events.has("hedge:skipped")) events.emit("hedge:skipped", { reason });
  }

  #launch(hedge: number): void {
    const scope = this.#parent.scope();
    this.#scopes.push(scope);
    this.#running++;
    let result: T | PromiseLike<T>;
    try {
      result = this.#fn(scope);
    } catch (error) {
      this.#failed(scope, error);
      return;
    }
    Promise.resolve(result).then(
      (value) => this.#succeeded(scope, hedge, value),
      (error: unknown) => this.#failed(scope, error),
    );
  }

  #succeeded(scope: Context, hedge: number, value: T): void {
    this.#running--;
    scope.dispose();
    if (this.#settled) return;
    this.#finish(scope);
    const events = this.#policy.events;
    if (events.has("hedge:won")) events.emit("hedge:won", { hedge });
    this.#resolve(value);
  }

  #failed(scope: Context, error: unknown): void {
    this.#running--;
    scope.dispose();
    if (this.#settled) return;
    this.#firstError ??= { error };
    // Others still running may yet succeed; a hedge still to come does not wait on a failure.
    if (this.#running > 0) return;
    this.#finish(undefined);
    this.#reject(this.#firstError.error);
  }

  /** Settles the race; the attempts other than `winner` still running are aborted. */
  #finish(winner: Context | undefined): void {
    this.#settled = true;
    this.#policy.watchdog.remove(this);
    if (winner === undefined || this.#scopes.length === 1) return;
    const lost = hedgeLostError();
    // The winner is left alone: its result (a response body, say) may still be being read.
    for (const scope of this.#scopes) {
      if (scope === winner) continue;
      // Aborted for good: unlink it from the caller's signal now, not when it gets round to
      // settling (it may never).
      scope.abort(lost);
      scope.dispose();
    }
  }
}

/**
 * Starts a second attempt when the first is slow, and takes whichever answers first.
 *
 * @example
 * const budget = retryBudget();
 * const policy = pipeline(hedge({ delayMs: 250, budget }), timeout(2_000));
 * const page = await policy.execute(({ signal }) => fetch(url, { signal }), { method: "GET" });
 */
export function hedge(options: HedgeOptions): HedgePolicy {
  return new HedgePolicy(options);
}
