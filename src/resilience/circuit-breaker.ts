/**
 * Circuit breaker. States and transitions:
 *
 *   closed    -> open        the strategy trips (failure rate, consecutive failures...)
 *   open      -> half-open   a call arrives at or after `openUntil`
 *   half-open -> closed      all `halfOpenProbes` probes succeeded
 *   half-open -> open        a probe failed, or the probes did not finish within
 *                            `halfOpenTimeoutMs` (so the breaker is never stuck half-open)
 *   any       -> open        `isolate()`, until the returned release function is called
 *   open      -> closed      that release
 *
 * Each re-open without a close in between lengthens the open duration by `openDurationFactor`,
 * up to `maxOpenDurationMs`. Exactly `halfOpenProbes` calls are let through while half-open;
 * calls that end without a verdict (caller aborts, local rejections) give their slot back.
 * The state is plain data and can be exported and restored (`exportState`, `state` option).
 */
import type { Clock, Random } from "../core/ports.ts";
import type { HealthVerdict } from "../core/classify-outcome.ts";
import { classifyError, classifyResult, type Outcome } from "./classify.ts";
import type { Context, ExecuteOptions, PolicyContext } from "./context.ts";
import { BrokenCircuitError, type TripReason } from "./errors.ts";
import { failureRate, type BreakerStrategy } from "./breaker-strategies.ts";
import { isBreakerState, type BreakerSnapshot, type BreakerState } from "./breaker-state.ts";
import { Emitter, type EventSource } from "./events.ts";
import { check, executeWith, internal, rejected, type Operation, type Policy } from "./policy.ts";
import { mathRandom, systemClock } from "./system.ts";
import { InvalidOptionError } from "../core/errors.ts";

/** Options of `circuitBreaker()`. */
export interface CircuitBreakerOptions {
  /** When to open. Default `failureRate()`: 50 % over 10 s, at least 20 calls. */
  strategy?: BreakerStrategy;
  /** Time the breaker stays open the first time, in ms. Default 5,000. */
  openDurationMs?: number;
  /** Growth of the open duration on each re-open without a close. Default 2 (1 to keep it fixed). */
  openDurationFactor?: number;
  /** Cap on the open duration, in ms. Default 60,000. */
  maxOpenDurationMs?: number;
  /**
   * Spread of the open duration, as a fraction: 0.2 draws it in [0.8 d, 1.2 d), so instances that
   * opened together do not probe together. Default 0.
   */
  openDurationJitter?: number;
  /** Probes let through while half-open; all must succeed to close. Default 1. */
  halfOpenProbes?: number;
  /** Time after which unfinished probes count as failed, in ms. Default 60,000. */
  halfOpenTimeoutMs?: number;
  /**
   * How an outcome counts. Default: the `health` of `classify` (one rule with the engine's
   * destinations): errors, 408 and 5xx results but 501 and 505 are failures; 429 and 425
   * results, caller aborts and rejections by other local policies are ignored; the rest (other
   * 4xx included) are successes.
   */
  classify?: (outcome: Outcome) => HealthVerdict;
  /** A state exported by `exportState()`, to start from. */
  state?: BreakerSnapshot;
  /** Default: the system clock. */
  clock?: Clock;
  /** Default: `Math.random`. */
  random?: Random;
}

/** Events of `circuitBreaker()`. */
export interface BreakerEvents {
  "breaker:opened": {
    reason: TripReason;
    openedAt: number;
    openUntil: number;
    openDurationMs: number;
  };
  "breaker:half-opened": { at: number };
  "breaker:closed": { at: number };
  "breaker:rejected": { state: "open" | "half-open"; retryAfterMs: number };
}

/** The circuit breaker policy. */
export class CircuitBreakerPolicy implements Policy, EventSource<BreakerEvents> {
  /** Time open the first time, in ms. */
  readonly openDurationMs: number;
  /** Growth of the open duration per re-open without a close. */
  readonly openDurationFactor: number;
  /** Cap on the open duration, in ms. */
  readonly maxOpenDurationMs: number;
  /** Spread of the open duration, as a fraction. */
  readonly openDurationJitter: number;
  /** Probes let through while half-open. */
  readonly halfOpenProbes: number;
  /** Time after which unfinished probes count as lost, in ms. */
  readonly halfOpenTimeoutMs: number;
  readonly #strategy: BreakerStrategy;
  readonly #classify: ((outcome: Outcome) => HealthVerdict) | undefined;
  readonly #clock: Clock;
  readonly #random: Random;
  readonly #events = new Emitter<BreakerEvents>();
  readonly #fastPath: boolean;
  #latestStart = Number.NEGATIVE_INFINITY;
  #state: BreakerState = { state: "closed" };
  #consecutiveOpens = 0;

  constructor(options: CircuitBreakerOptions = {}) {
    this.#strategy = options.strategy ?? failureRate();
    this.openDurationMs = options.openDurationMs ?? 5_000;
    this.openDurationFactor = options.openDurationFactor ?? 2;
    this.maxOpenDurationMs = options.maxOpenDurationMs ?? Math.max(60_000, this.openDurationMs);
    this.openDurationJitter = options.openDurationJitter ?? 0;
    this.halfOpenProbes = options.halfOpenProbes ?? 1;
    this.halfOpenTimeoutMs = options.halfOpenTimeoutMs ?? 60_000;
    check(
      this.openDurationMs > 0,
      "circuitBreaker",
      `openDurationMs must be > 0, got ${this.openDurationMs}`,
    );
    check(
      this.openDurationFactor >= 1,
      "circuitBreaker",
      `openDurationFactor must be >= 1, got ${this.openDurationFactor}`,
    );
    check(
      this.maxOpenDurationMs >= this.openDurationMs,
      "circuitBreaker",
      `maxOpenDurationMs (${this.maxOpenDurationMs}) must be >= openDurationMs (${this.openDurationMs})`,
    );
    check(
      this.openDurationJitter >= 0 && this.openDurationJitter < 1,
      "circuitBreaker",
      `openDurationJitter must be in [0, 1), got ${this.openDurationJitter}`,
    );
    check(
      Number.isInteger(this.halfOpenProbes) && this.halfOpenProbes >= 1,
      "circuitBreaker",
      `halfOpenProbes must be an integer >= 1, got ${this.halfOpenProbes}`,
    );
    check(
      this.halfOpenTimeoutMs > 0,
      "circuitBreaker",
      `halfOpenTimeoutMs must be > 0, got ${this.halfOpenTimeoutMs}`,
    );
    this.#classify = options.classify;
    this.#fastPath = this.#classify === undefined && !this.#strategy.needsDuration;
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? mathRandom;
    if (options.state !== undefined) this.restore(options.state);
  }

  on: EventSource<BreakerEvents>["on"] = (name, listener) => this.#events.on(name, listener);

  /** The current state (a copy). An open breaker past `openUntil` still reads `open` until a call arrives. */
  get state(): BreakerState {
    return { ...this.#state };
  }

  execute<T>(fn: Operation<T>, options?: ExecuteOptions): Promise<T> {
    return executeWith(this, fn, options);
  }

  run<T>(fn: Operation<T>, context: PolicyContext): Promise<T> {
    const ctx = internal(context);
    if (this.#state.state !== "closed" || !this.#fastPath) return this.#runSlow(fn, ctx);
    // Fast path (closed, default classification, no durations): `.then` with handlers allocated
    // once, instead of an async frame per call.
    let result: T | PromiseLike<T>;
    ctx.startedAt = Number.NaN;
    try {
      result = fn(ctx);
    } catch (error) {
      this.#record(classifyError(error, this.#clock.now()).health, undefined, 0);
      return rejected(error);
    }
    // An inner timeout published its clock reading on `ctx` (synchronously, inside `fn`): at
    // most one wheel tick older than this call's start. The latest such reading, from this call
    // or a later one, is good enough to bucket a success (buckets are 1 s by default), and saves a
    // clock read (40-100 ns on virtual machines).
    if (this.#strategy.needsClock && ctx.startedAtClock === this.#clock && ctx.startedAt >= 0) {
      // The latest reading, not the largest: after a wall-clock step backwards a maximum would
      // pin successes in a bucket from the future, which the window does not count.
      this.#latestStart = ctx.startedAt;
      return Promise.resolve(result).then(this.#closedValueTimed, this.#closedError) as Promise<T>;
    }
    return Promise.resolve(result).then(this.#closedValue, this.#closedError) as Promise<T>;
  }

  readonly #closedValue = (value: unknown): unknown => {
    this.#record(this.#verdictOfValue(value), undefined, 0);
    return value;
  };

  readonly #closedValueTimed = (value: unknown): unknown => {
    this.#record(this.#verdictOfValue(value), undefined, 0, this.#latestStart);
    return value;
  };

  readonly #closedError = (error: unknown): never => {
    this.#record(classifyError(error, this.#clock.now()).health, undefined, 0);
    throw error;
  };

  async #runSlow<T>(fn: Operation<T>, ctx: Context): Promise<T> {
    const probeOf = this.#state.state === "closed" ? undefined : this.#admit();
    const startedAt = this.#strategy.needsDuration ? this.#clock.now() : 0;
    let value: T;
    try {
      value = await fn(ctx);
    } catch (error) {
      const verdict =
        this.#classify === undefined
          ? classifyError(error, this.#clock.now()).health
          : this.#classify({ type: "error", error });
      this.#record(verdict, probeOf, startedAt);
      throw error;
    }
    const verdict =
      this.#classify === undefined
        ? this.#verdictOfValue(value)
        : this.#classify({ type: "result", value });
    this.#record(verdict, probeOf, startedAt);
    return value;
  }

  #verdictOfValue(value: unknown): HealthVerdict {
    if (typeof value !== "object" || value === null) return "success";
    return classifyResult(value, this.#clock.now()).health;
  }

  /**
   * Opens the breaker until the returned function is called (which closes it), whatever the
   * calls do meanwhile. For maintenance windows and kill switches.
   */
  isolate(): () => void {
    const now = this.#clock.now();
    const isolated: BreakerState = {
      state: "open",
      openedAt: now,
      openUntil: Infinity,
      reason: { strategy: "isolated" },
    };
    this.#state = isolated;
    this.#emitOpened(isolated, Infinity);
    return () => {
      if (this.#state === isolated) this.#close(this.#clock.now());
    };
  }

  /** The state as plain JSON, to persist or to hand to another instance. */
  exportState(): BreakerSnapshot {
    const state = this.#state;
    return {
      version: 1,
      // Probes in flight belong to this process; whoever restores starts with none.
      state: state.state === "half-open" ? { ...state, probesInFlight: 0 } : { ...state },
      consecutiveOpens: this.#consecutiveOpens,
      strategy: this.#strategy.export(),
    };
  }

  /** Replaces the state with an exported one. */
  restore(snapshot: BreakerSnapshot): void {
    if (snapshot.version !== 1 || !isBreakerState(snapshot.state)) {
      throw new InvalidOptionError(
        `circuitBreaker: cannot restore ${JSON.stringify(snapshot).slice(0, 200)}; pass the value exportState() returned`,
      );
    }
    const state = snapshot.state;
    this.#state =
      state.state === "half-open"
        ? { state: "half-open", since: this.#clock.now(), probesInFlight: 0, probesSucceeded: 0 }
        : {
            ...state,
            ...(state.state === "open" && state.openUntil === null ? { openUntil: Infinity } : {}),
          };
    this.#consecutiveOpens = snapshot.consecutiveOpens;
    this.#strategy.restore(snapshot.strategy);
  }

  /** Lets a call through, or throws. Returns the half-open state it probes, if it is a probe. */
  #admit(): BreakerState | undefined {
    const now = this.#clock.now();
    let state = this.#state;
    if (state.state === "open") {
      if (now < state.openUntil) throw this.#reject(state, now);
      state = { state: "half-open", since: now, probesInFlight: 0, probesSucceeded: 0 };
      this.#state = state;
      if (this.#events.has("breaker:half-opened"))
        this.#events.emit("breaker:half-opened", { at: now });
    }
    if (state.state === "half-open") {
      if (state.probesInFlight + state.probesSucceeded < this.halfOpenProbes) {
        state.probesInFlight++;
        return state;
      }
      if (now - state.since >= this.halfOpenTimeoutMs) {
        const reopened = this.#open(now, {
          strategy: "half-open-probe-lost",
          halfOpenTimeoutMs: this.halfOpenTimeoutMs,
        });
        throw this.#reject(reopened, now);
      }
      throw this.#reject(state, now);
    }
    return undefined;
  }

  #record(
    verdict: HealthVerdict,
    probeOf: BreakerState | undefined,
    startedAt: number,
    knownNow = Number.NaN,
  ): void {
    if (probeOf !== undefined) {
      // A probe of a half-open period that has since ended (lost, isolated, restored) says nothing.
      if (this.#state !== probeOf || probeOf.state !== "half-open") return;
      probeOf.probesInFlight--;
      if (verdict === "ignore") return;
      const now = this.#clock.now();
      if (verdict === "failure") {
        this.#open(now, { strategy: "half-open-probe-failed" });
        return;
      }
      probeOf.probesSucceeded++;
      if (probeOf.probesSucceeded >= this.halfOpenProbes) this.#close(now);
      return;
    }
    // Calls let in while closed that end after the breaker opened are not counted twice.
    if (this.#state.state !== "closed" || verdict === "ignore") return;
    const strategy = this.#strategy;
    // A success is bucketed by a published reading when there is one; failures read the clock.
    const now = !strategy.needsClock
      ? 0
      : verdict === "success" && !Number.isNaN(knownNow)
        ? knownNow
        : this.#clock.now();
    const durationMs = strategy.needsDuration ? now - startedAt : Number.NaN;
    const trip = strategy.record(verdict === "failure", durationMs, now);
    if (trip !== undefined) this.#open(strategy.needsClock ? now : this.#clock.now(), trip);
  }

  #open(now: number, reason: TripReason): BreakerState {
    this.#consecutiveOpens++;
    const grown =
      this.openDurationMs * Math.pow(this.openDurationFactor, this.#consecutiveOpens - 1);
    let openDurationMs = Math.min(this.maxOpenDurationMs, grown);
    if (this.openDurationJitter > 0) {
      openDurationMs *=
        1 - this.openDurationJitter + 2 * this.openDurationJitter * this.#random.next();
    }
    openDurationMs = Math.round(openDurationMs);
    const state: BreakerState = {
      state: "open",
      openedAt: now,
      openUntil: now + openDurationMs,
      reason,
    };
    this.#state = state;
    this.#strategy.reset();
    this.#emitOpened(state, openDurationMs);
    return state;
  }

  #close(now: number): void {
    this.#state = { state: "closed" };
    this.#consecutiveOpens = 0;
    this.#strategy.reset();
    if (this.#events.has("breaker:closed")) this.#events.emit("breaker:closed", { at: now });
  }

  #emitOpened(state: BreakerState, openDurationMs: number): void {
    if (state.state !== "open" || !this.#events.has("breaker:opened")) return;
    this.#events.emit("breaker:opened", {
      reason: state.reason,
      openedAt: state.openedAt,
      openUntil: state.openUntil,
      openDurationMs,
    });
  }

  #reject(state: BreakerState, now: number): BrokenCircuitError {
    const open = state.state === "open";
    const openedAt = open ? state.openedAt : state.state === "half-open" ? state.since : now;
    // Half-open and full: the probes decide within halfOpenTimeoutMs at the latest.
    const openUntil = open
      ? state.openUntil
      : state.state === "half-open"
        ? state.since + this.halfOpenTimeoutMs
        : now;
    const retryAfterMs = Math.max(0, openUntil - now);
    if (this.#events.has("breaker:rejected")) {
      this.#events.emit("breaker:rejected", { state: open ? "open" : "half-open", retryAfterMs });
    }
    return new BrokenCircuitError({
      state: open ? "open" : "half-open",
      openedAt,
      openUntil,
      retryAfterMs,
      reason: open ? state.reason : { strategy: "half-open-probe-failed" },
    });
  }
}

/**
 * Stops calling a dependency that is failing, and lets `halfOpenProbes` calls test it after
 * `openDurationMs`. Rejects with `BrokenCircuitError` while open. Share one breaker among every
 * caller of a dependency.
 *
 * @example
 * const breaker = circuitBreaker({ openDurationMs: 10_000, halfOpenProbes: 2 });
 * breaker.on("breaker:opened", (e) => log.warn(e, "payments circuit opened"));
 * await pipeline(retry(), breaker, timeout(2_000)).execute(() => callPayments());
 */
export function circuitBreaker(options: CircuitBreakerOptions = {}): CircuitBreakerPolicy {
  return new CircuitBreakerPolicy(options);
}
