/**
 * How the engine protects each destination: when its breaker opens and for how long, how long a
 * `Retry-After` pause may last, its retry budget, and the share of the engine one destination may
 * use. The same for every destination; limits set per destination (`PUT /v1/destinations/...`)
 * come on top.
 */
import { failureRate, type BreakerStrategy } from "../../resilience/breaker-strategies.ts";
import type { OpenDurations } from "./protection-state.ts";
import { InvalidOptionError } from "../../core/errors.ts";

/** Options of the per-destination protection. Every field has a default. */
export interface DestinationSettings extends OpenDurations {
  /**
   * Makes each destination's failure strategy (in memory, per process). Default: open when 50% of
   * at least 20 attempts in 10 s failed (`failureRate()` of `steadfast/resilience`).
   */
  strategy: () => BreakerStrategy;
  /**
   * Longest a half-open probe decides before it counts as lost and another call probes, ms. The
   * probe's own total timeout plus one second when that is shorter. Default 60,000.
   */
  maxProbeMs: number;
  /** Cap on a pause taken from `Retry-After`, ms. Default 60,000. */
  maxPauseMs: number;
  /** Retries allowed per first attempt in the budget's window, in [0, 1]. Default 0.1. */
  retryBudgetRatio: number;
  /** Retries always allowed per second, whatever the traffic. Default 1. */
  retryBudgetMinPerSecond: number;
  /** The retry budget's window, ms. Default 10,000. */
  retryBudgetWindowMs: number;
  /**
   * Share of the engine's concurrency one destination may use when it has no `maxConcurrency` of
   * its own, in (0, 1]: a destination that hangs cannot take every slot. Default 0.5.
   */
  shareOfConcurrency: number;
  /**
   * Longest a claimed call waits in memory for one of its destination's concurrency slots, ms. A
   * call claimed while its destination is at its limit waits in this process (lease kept, nothing
   * written) when the destination is finishing attempts and the expected wait is shorter than
   * this; otherwise, or once it has waited this long, it is held in the store until its turn.
   * 0 holds at once. Default 100.
   */
  maxQueueWaitMs: number;
  /** Window of the error rate and latency shown per destination, ms. Default 60,000. */
  healthWindowMs: number;
  /** How often saved destinations are read again (changes by other processes), ms. Default 2,000. */
  refreshIntervalMs: number;
  /** A destination unused this long, in its default state, is dropped from memory, ms. Default 600,000. */
  idleEvictMs: number;
}

/** The defaults of `DestinationSettings`. */
export const DEFAULT_DESTINATION_SETTINGS: DestinationSettings = Object.freeze({
  strategy: () => failureRate({ threshold: 0.5, windowMs: 10_000, minimumThroughput: 20 }),
  openDurationMs: 5_000,
  openDurationFactor: 2,
  maxOpenDurationMs: 60_000,
  openDurationJitter: 0.1,
  maxProbeMs: 60_000,
  maxPauseMs: 60_000,
  retryBudgetRatio: 0.1,
  retryBudgetMinPerSecond: 1,
  retryBudgetWindowMs: 10_000,
  shareOfConcurrency: 0.5,
  maxQueueWaitMs: 100,
  healthWindowMs: 60_000,
  refreshIntervalMs: 2_000,
  idleEvictMs: 600_000,
});

/** `DEFAULT_DESTINATION_SETTINGS` with `overrides` applied and checked. */
export function destinationSettings(
  overrides: Partial<DestinationSettings> = {},
): DestinationSettings {
  const settings: DestinationSettings = { ...DEFAULT_DESTINATION_SETTINGS };
  for (const [key, value] of Object.entries(overrides)) {
    if (value !== undefined) (settings as unknown as Record<string, unknown>)[key] = value;
  }
  const positive = [
    "openDurationMs",
    "maxOpenDurationMs",
    "maxProbeMs",
    "maxPauseMs",
    "retryBudgetWindowMs",
    "healthWindowMs",
    "refreshIntervalMs",
    "idleEvictMs",
  ] as const;
  for (const key of positive) {
    if (!(Number.isFinite(settings[key]) && settings[key] > 0))
      throw new InvalidOptionError(
        `destinations.${key} must be a number > 0, got ${settings[key]}`,
      );
  }
  if (settings.maxOpenDurationMs < settings.openDurationMs)
    throw new InvalidOptionError(
      `destinations.maxOpenDurationMs (${settings.maxOpenDurationMs}) must be >= openDurationMs (${settings.openDurationMs})`,
    );
  if (!(settings.openDurationFactor >= 1))
    throw new InvalidOptionError(
      `destinations.openDurationFactor must be >= 1, got ${settings.openDurationFactor}`,
    );
  if (!(settings.openDurationJitter >= 0 && settings.openDurationJitter < 1))
    throw new InvalidOptionError(
      `destinations.openDurationJitter must be in [0, 1), got ${settings.openDurationJitter}`,
    );
  if (!(Number.isFinite(settings.maxQueueWaitMs) && settings.maxQueueWaitMs >= 0))
    throw new InvalidOptionError(
      `destinations.maxQueueWaitMs must be a number >= 0, got ${settings.maxQueueWaitMs}`,
    );
  if (!(settings.shareOfConcurrency > 0 && settings.shareOfConcurrency <= 1))
    throw new InvalidOptionError(
      `destinations.shareOfConcurrency must be in (0, 1], got ${settings.shareOfConcurrency}`,
    );
  if (!(settings.retryBudgetRatio >= 0 && settings.retryBudgetRatio <= 1))
    throw new InvalidOptionError(
      `destinations.retryBudgetRatio must be in [0, 1], got ${settings.retryBudgetRatio}`,
    );
  if (!(settings.retryBudgetMinPerSecond >= 0))
    throw new InvalidOptionError(
      `destinations.retryBudgetMinPerSecond must be >= 0, got ${settings.retryBudgetMinPerSecond}`,
    );
  return settings;
}
