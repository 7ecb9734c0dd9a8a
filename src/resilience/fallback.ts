/**
 * Fallback: when the protected call fails, answer with something else, and say so. The result is
 * `{ degraded: false, value }` or `{ degraded: true, value, reason, source, staleAt? }`, so the
 * caller (and its caller) can tell a real answer from a stand-in.
 *
 * Two sources, tried in order: the last good value (opt-in, one slot: use one fallback per
 * resource), then the `value` function. With neither, the failure goes through.
 */
import type { Clock } from "../core/ports.ts";
import { classifyResult, type Outcome } from "./classify.ts";
import type { ExecuteOptions } from "./context.ts";
import { isResilienceError } from "./errors.ts";
import { Emitter, type EventSource } from "./events.ts";
import { check, executeWith, type Operation, type Policy } from "./policy.ts";
import { systemClock } from "./system.ts";

/** A real answer. */
export interface FreshResult<T> {
  degraded: false;
  value: T;
}

/** A stand-in answer. */
export interface DegradedResult<T> {
  degraded: true;
  value: T;
  /** Why: the policy that rejected or the failure (`circuit-breaker: BrokenCircuitError`, `status 503`). */
  reason: string;
  /** Where the value came from: `last-good`, or the `source` option. */
  source: string;
  /** For a last-good value: when it was obtained (epoch ms); it may be stale since then. */
  staleAt?: number;
  /** The failure that was replaced. */
  failure: Outcome;
}

/** What a fallback execution returns. */
export type FallbackResult<T> = FreshResult<T> | DegradedResult<T>;

/** What the `value` function is told. */
export interface FallbackFailure {
  /** The outcome that was replaced: a thrown error, or a failed result (a 5xx response). */
  outcome: Outcome;
  reason: string;
}

/** Options of `fallback()`. */
export interface FallbackOptions<F> {
  /** The stand-in value. Default: none (only `lastGood`, or the failure goes through). */
  value?: (failure: FallbackFailure) => F | PromiseLike<F>;
  /** Name reported as `source` for `value`. Default `fallback`. */
  source?: string;
  /**
   * Serve the last successful value when the call fails; `maxAgeMs` bounds how old it may be
   * (default: no bound). Default false.
   */
  lastGood?: boolean | { maxAgeMs?: number };
  /**
   * Which outcomes are replaced. Default: every thrown error except a caller's abort, and
   * results whose `health` is a failure (408, 5xx but 501 and 505).
   */
  handles?: (outcome: Outcome) => boolean;
  /** Default: the system clock. */
  clock?: Clock;
}

/** Events of `fallback()`. */
export interface FallbackEvents {
  "fallback:used": { reason: string; source: string; staleAt?: number };
}

/** The fallback policy. Unlike the others it changes the result type, so it goes first in a pipeline. */
export class FallbackPolicy<F> implements EventSource<FallbackEvents> {
  readonly #value: ((failure: FallbackFailure) => F | PromiseLike<F>) | undefined;
  readonly #source: string;
  readonly #lastGood: boolean;
  readonly #maxAgeMs: number;
  readonly #handles: (outcome: Outcome) => boolean;
  readonly #clock: Clock;
  readonly #inner: Policy | undefined;
  readonly #events: Emitter<FallbackEvents>;
  readonly #options: FallbackOptions<F>;
  #last: { value: unknown; at: number } | undefined;

  constructor(options: FallbackOptions<F>, inner?: Policy, events?: Emitter<FallbackEvents>) {
    this.#value = options.value;
    this.#source = options.source ?? "fallback";
    this.#lastGood = options.lastGood !== undefined && options.lastGood !== false;
    this.#maxAgeMs =
      typeof options.lastGood === "object" ? (options.lastGood.maxAgeMs ?? Infinity) : Infinity;
    check(this.#maxAgeMs >= 0, "fallback", `lastGood.maxAgeMs must be >= 0, got ${this.#maxAgeMs}`);
    this.#handles = options.handles ?? defaultHandles;
    this.#clock = options.clock ?? systemClock;
    this.#inner = inner;
    this.#events = events ?? new Emitter<FallbackEvents>();
    this.#options = options;
  }

  on: EventSource<FallbackEvents>["on"] = (name, listener) => this.#events.on(name, listener);

  /** This fallback around `inner`: `inner` runs the call, this replaces its failures. */
  wrap(inner: Policy): FallbackPolicy<F> {
    return new FallbackPolicy(this.#options, inner, this.#events);
  }

  /**
   * Runs `fn` (under the wrapped policy, if any) and replaces a failure with the fallback.
   *
   * @example
   * const { value, degraded } = await fallback({ value: () => [] }).execute(() => loadRecommendations());
   */
  async execute<T>(fn: Operation<T>, options?: ExecuteOptions): Promise<FallbackResult<T | F>> {
    let outcome: Outcome<T>;
    try {
      const value = await (this.#inner === undefined
        ? executeWith(noPolicy, fn, options)
        : this.#inner.execute(fn, options));
      outcome = { type: "result", value };
    } catch (error) {
      outcome = { type: "error", error };
    }
    if (!this.#handles(outcome)) {
      if (outcome.type === "error") throw outcome.error;
      this.#remember(outcome.value);
      return { degraded: false, value: outcome.value };
    }
    const reason = describe(outcome, this.#clock.now());
    const last = this.#last;
    if (this.#lastGood && last !== undefined && this.#clock.now() - last.at <= this.#maxAgeMs) {
      this.#used(reason, "last-good", last.at);
      return {
        degraded: true,
        value: last.value as T,
        reason,
        source: "last-good",
        staleAt: last.at,
        failure: outcome,
      };
    }
    if (this.#value === undefined) {
      if (outcome.type === "error") throw outcome.error;
      return { degraded: false, value: outcome.value };
    }
    const value = await this.#value({ outcome, reason });
    this.#used(reason, this.#source, undefined);
    return { degraded: true, value, reason, source: this.#source, failure: outcome };
  }

  #remember(value: unknown): void {
    if (this.#lastGood) this.#last = { value, at: this.#clock.now() };
  }

  #used(reason: string, source: string, staleAt: number | undefined): void {
    if (!this.#events.has("fallback:used")) return;
    this.#events.emit("fallback:used", {
      reason,
      source,
      ...(staleAt === undefined ? {} : { staleAt }),
    });
  }
}

const noPolicy: Policy = {
  execute: (fn, options) => executeWith(noPolicy, fn, options),
  run: async (fn, context) => await fn(context),
};

function defaultHandles(outcome: Outcome): boolean {
  if (outcome.type === "result") {
    return (
      typeof outcome.value === "object" &&
      outcome.value !== null &&
      classifyResult(outcome.value, 0).health === "failure"
    );
  }
  const error = outcome.error as { name?: unknown } | null;
  return !(typeof error === "object" && error !== null && error.name === "AbortError");
}

function describe(outcome: Outcome, now: number): string {
  if (outcome.type === "result") return classifyResult(outcome.value, now).reason;
  const error = outcome.error;
  if (isResilienceError(error)) return `${error.policy}: ${error.kind}`;
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

/**
 * Replaces failures with a stand-in value, marked `degraded: true` with the reason and source.
 * Put it first in a pipeline.
 *
 * @example
 * const policy = pipeline(fallback({ lastGood: { maxAgeMs: 300_000 }, value: () => DEFAULT_PRICES }), retry(), timeout(1_000));
 * const prices = await policy.execute(() => fetchPrices());
 * if (prices.degraded) log.warn({ reason: prices.reason, source: prices.source }, "serving degraded prices");
 */
export function fallback<F>(options: FallbackOptions<F>): FallbackPolicy<F> {
  return new FallbackPolicy(options);
}
