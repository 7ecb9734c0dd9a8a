/**
 * A retry budget (Finagle's `RetryBudget`, Envoy's retry budgets): retries and hedges to one
 * dependency are capped at a fraction of its recent requests, plus a reserved minimum rate so a
 * quiet dependency can still be retried. When a dependency is failing, retries from every caller
 * would otherwise multiply its load; with a shared budget they add at most `ratio` to it.
 *
 * Share one budget among everything that calls the same dependency: pass the same object to
 * each `retry({ budget })` and `hedge({ budget })`.
 */
import type { Clock } from "../core/ports.ts";
import type { Context } from "./context.ts";
import { RetryBudgetExhaustedError, type RetryBudgetDetails } from "./errors.ts";
import { Emitter, type EventSource } from "./events.ts";
import { check } from "./policy.ts";
import { RollingWindow } from "./rolling-window.ts";
import { systemClock } from "./system.ts";

/** Options of `retryBudget()`. */
export interface RetryBudgetOptions {
  /** Retries allowed per request in the window, in [0, 1]. Default 0.1 (10 %). */
  ratio?: number;
  /** Retries always allowed per second, whatever the traffic. Default 1. */
  minRetriesPerSecond?: number;
  /** Length of the window, in ms. Default 10,000. */
  windowMs?: number;
  /** Default: the system clock. */
  clock?: Clock;
}

/** Events of a retry budget. */
export interface RetryBudgetEvents {
  /** A retry or hedge was refused. */
  "retry-budget:exhausted": RetryBudgetDetails;
}

const REQUESTS = 0;
const RETRIES = 1;

/** A shared allowance of retries for one dependency. */
export class RetryBudget implements EventSource<RetryBudgetEvents> {
  readonly ratio: number;
  readonly minRetriesPerSecond: number;
  readonly windowMs: number;
  readonly #clock: Clock;
  readonly #window: RollingWindow;
  readonly #events = new Emitter<RetryBudgetEvents>();

  constructor(options: RetryBudgetOptions = {}) {
    this.ratio = options.ratio ?? 0.1;
    this.minRetriesPerSecond = options.minRetriesPerSecond ?? 1;
    this.windowMs = options.windowMs ?? 10_000;
    check(
      this.ratio >= 0 && this.ratio <= 1,
      "retryBudget",
      `ratio must be in [0, 1], got ${this.ratio}`,
    );
    check(
      this.minRetriesPerSecond >= 0,
      "retryBudget",
      `minRetriesPerSecond must be >= 0, got ${this.minRetriesPerSecond}`,
    );
    check(this.windowMs >= 1_000, "retryBudget", `windowMs must be >= 1000, got ${this.windowMs}`);
    this.#clock = options.clock ?? systemClock;
    this.#window = new RollingWindow(this.windowMs, 10, 2);
  }

  on: EventSource<RetryBudgetEvents>["on"] = (name, listener) => this.#events.on(name, listener);

  /**
   * Counts one request (a first attempt) at `nowMs` (default: the budget's clock). Policies call
   * it; call it yourself for calls made outside them.
   */
  recordRequest(nowMs: number = this.#clock.now()): void {
    this.#window.add(nowMs, REQUESTS);
  }

  /** Counts this execution's request once, however many policies share the budget. */
  recordRequestOnce(context: Context): void {
    const root = context.root;
    if (root.budgets?.includes(this)) return;
    (root.budgets ??= []).push(this);
    this.recordRequest();
  }

  /**
   * Spends one retry at `now` (default: the budget's clock) if the budget allows it. False (and
   * an event) when it does not.
   */
  tryAcquire(now: number = this.#clock.now()): boolean {
    const details = this.#details(now);
    if (details.retries < details.allowed) {
      this.#window.add(now, RETRIES);
      return true;
    }
    if (this.#events.has("retry-budget:exhausted"))
      this.#events.emit("retry-budget:exhausted", details);
    return false;
  }

  /**
   * Takes back a request or a retry counted at `atMs` (the time passed to `recordRequest` or
   * `tryAcquire`) that turned out to say nothing about the dependency: it never reached it, or
   * failed on the caller's side. Once `atMs` has left the window there is nothing to take back.
   */
  giveBack(kind: "request" | "retry", atMs: number): void {
    this.#window.remove(atMs, kind === "request" ? REQUESTS : RETRIES);
  }

  /** The error for a refused retry, with the current figures. */
  exhausted(cause?: unknown): RetryBudgetExhaustedError {
    return new RetryBudgetExhaustedError(
      this.#details(this.#clock.now()),
      cause === undefined ? {} : { cause },
    );
  }

  /** Current figures: requests and retries in the window and the retries it allows. */
  get stats(): RetryBudgetDetails {
    return this.#details(this.#clock.now());
  }

  #details(now: number): RetryBudgetDetails {
    const requests = this.#window.sum(now, REQUESTS);
    const retries = this.#window.sum(now, RETRIES);
    const allowed = Math.floor(
      this.minRetriesPerSecond * (this.windowMs / 1000) + this.ratio * requests,
    );
    return {
      ratio: this.ratio,
      minRetriesPerSecond: this.minRetriesPerSecond,
      windowMs: this.windowMs,
      requests,
      retries,
      allowed,
    };
  }
}

/**
 * A retry budget to share among the policies that call one dependency.
 *
 * @example
 * const budget = retryBudget({ ratio: 0.1 });
 * const users = pipeline(retry({ budget }), timeout(2_000));
 * const orders = pipeline(retry({ budget }), hedge({ delayMs: 300, budget }), timeout(2_000));
 */
export function retryBudget(options: RetryBudgetOptions = {}): RetryBudget {
  return new RetryBudget(options);
}
