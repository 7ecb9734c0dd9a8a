/**
 * When a circuit breaker opens: pluggable strategies behind one interface, each run through the
 * same contract test (breaker-strategies.test.ts).
 *
 * - `consecutiveFailures`: opens after N failures in a row. Simple, and blind to a dependency
 *   that fails half the time.
 * - `failureRate` (the default): opens when the failure rate (or the slow-call rate) over a
 *   rolling window crosses a threshold, once the window holds a minimum number of calls, so one
 *   failure among two calls at night does not open the circuit.
 */
import type { TripReason } from "./errors.ts";
import { check } from "./policy.ts";
import { RollingWindow } from "./rolling-window.ts";

/** A strategy's exportable state (JSON). */
export type StrategySnapshot =
  | { strategy: "consecutive-failures"; consecutiveFailures: number }
  | { strategy: "failure-rate"; slots: number[][] };

/** Decides, from the outcomes seen while closed, when the breaker opens. */
export interface BreakerStrategy {
  /** The strategy, as named in trip reasons and snapshots. */
  readonly name: StrategySnapshot["strategy"];
  /** True when `record` needs a real `nowMs`. */
  readonly needsClock: boolean;
  /** True when `record` needs the call's `durationMs` (slow-call detection). */
  readonly needsDuration: boolean;
  /**
   * Records one outcome while closed. Returns why the breaker must open, or `undefined`.
   * `durationMs` is `NaN` unless `needsDuration`; `nowMs` is 0 unless `needsClock`.
   */
  record(failure: boolean, durationMs: number, nowMs: number): TripReason | undefined;
  /** Forgets every outcome (called when the breaker opens and when it closes). */
  reset(): void;
  /** The state, for `circuitBreaker().exportState()`. */
  export(): StrategySnapshot;
  /** Restores `export()`ed state; ignores a snapshot of another strategy. */
  restore(snapshot: StrategySnapshot): void;
}

/** Options of `consecutiveFailures()`. */
export interface ConsecutiveFailuresOptions {
  /** Failures in a row that open the breaker. Default 5. */
  threshold?: number;
}

/**
 * Opens after `threshold` failures in a row; any success starts the count again.
 *
 * @example
 * const breaker = circuitBreaker({ strategy: consecutiveFailures({ threshold: 5 }) });
 */
export function consecutiveFailures(options: ConsecutiveFailuresOptions = {}): BreakerStrategy {
  const threshold = options.threshold ?? 5;
  check(
    Number.isInteger(threshold) && threshold >= 1,
    "consecutiveFailures",
    `threshold must be an integer >= 1, got ${threshold}`,
  );
  let count = 0;
  return {
    name: "consecutive-failures",
    needsClock: false,
    needsDuration: false,
    record(failure) {
      if (!failure) {
        count = 0;
        return undefined;
      }
      count++;
      return count >= threshold
        ? { strategy: "consecutive-failures", consecutiveFailures: count, threshold }
        : undefined;
    },
    reset() {
      count = 0;
    },
    export: () => ({ strategy: "consecutive-failures", consecutiveFailures: count }),
    restore(snapshot) {
      if (snapshot.strategy === "consecutive-failures") count = snapshot.consecutiveFailures;
    },
  };
}

/** Options of `failureRate()`. */
export interface FailureRateOptions {
  /** Failure rate in (0, 1] that opens the breaker. Default 0.5. */
  threshold?: number;
  /** Length of the rolling window, in ms. Default 10,000. */
  windowMs?: number;
  /** Slots the window is kept in. Default 10. */
  buckets?: number;
  /** Calls the window must hold before any rate counts. Default 20. */
  minimumThroughput?: number;
  /** A call taking at least this long is slow, in ms. Default: slow calls are not tracked. */
  slowCallDurationMs?: number;
  /** Slow-call rate in (0, 1] that opens the breaker. Default 1 (every call slow). */
  slowCallRateThreshold?: number;
}

const CALLS = 0;
const FAILURES = 1;
const SLOW = 2;

/**
 * Opens when failures (or slow calls) reach a rate over a rolling window, once the window holds
 * `minimumThroughput` calls.
 *
 * @example
 * const breaker = circuitBreaker({
 *   strategy: failureRate({ threshold: 0.5, windowMs: 30_000, minimumThroughput: 50, slowCallDurationMs: 2_000 }),
 * });
 */
export function failureRate(options: FailureRateOptions = {}): BreakerStrategy {
  const threshold = options.threshold ?? 0.5;
  const windowMs = options.windowMs ?? 10_000;
  const buckets = options.buckets ?? 10;
  const minimumThroughput = options.minimumThroughput ?? 20;
  const slowCallDurationMs = options.slowCallDurationMs;
  const slowCallRateThreshold = options.slowCallRateThreshold ?? 1;
  check(
    threshold > 0 && threshold <= 1,
    "failureRate",
    `threshold must be in (0, 1], got ${threshold}`,
  );
  check(windowMs > 0, "failureRate", `windowMs must be > 0, got ${windowMs}`);
  check(
    Number.isInteger(buckets) && buckets >= 1,
    "failureRate",
    `buckets must be an integer >= 1, got ${buckets}`,
  );
  check(
    Number.isInteger(minimumThroughput) && minimumThroughput >= 1,
    "failureRate",
    `minimumThroughput must be an integer >= 1, got ${minimumThroughput}`,
  );
  check(
    slowCallRateThreshold > 0 && slowCallRateThreshold <= 1,
    "failureRate",
    `slowCallRateThreshold must be in (0, 1], got ${slowCallRateThreshold}`,
  );
  const window = new RollingWindow(windowMs, buckets, 3);
  return {
    name: "failure-rate",
    needsClock: true,
    needsDuration: slowCallDurationMs !== undefined,
    record(failure, durationMs, nowMs) {
      const slow = slowCallDurationMs !== undefined && durationMs >= slowCallDurationMs;
      window.add(nowMs, CALLS);
      if (failure) window.add(nowMs, FAILURES);
      if (slow) window.add(nowMs, SLOW);
      // A rate can only cross its threshold upwards on a failure or a slow call.
      if (!failure && !slow) return undefined;
      const calls = window.sum(nowMs, CALLS);
      if (calls < minimumThroughput) return undefined;
      const failures = window.sum(nowMs, FAILURES);
      const slowCalls = window.sum(nowMs, SLOW);
      const base = { strategy: "failure-rate", calls, failures, slowCalls, windowMs } as const;
      if (failures / calls >= threshold) {
        return { ...base, metric: "failure-rate", rate: failures / calls, threshold };
      }
      if (slowCallDurationMs !== undefined && slowCalls / calls >= slowCallRateThreshold) {
        return {
          ...base,
          metric: "slow-call-rate",
          rate: slowCalls / calls,
          threshold: slowCallRateThreshold,
        };
      }
      return undefined;
    },
    reset() {
      window.clear();
    },
    export: () => ({ strategy: "failure-rate", slots: window.export() }),
    restore(snapshot) {
      if (snapshot.strategy === "failure-rate") window.restore(snapshot.slots);
    },
  };
}
