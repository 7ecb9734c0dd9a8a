/**
 * One destination as the engine holds it in memory: the protection state it believes current
 * (changes are applied here first, then saved), the stored version that state builds on, the
 * limits, and the per-process counters (failure strategy, retry budget, health, attempts in
 * flight, rate schedule). The gate (destination-gate.ts) owns every change.
 */
import type { CallRecord } from "../../core/call.ts";
import type { Clock } from "../../core/ports.ts";
import type { DestinationLimits } from "../../core/destination-ledger.ts";
import type { BreakerStrategy } from "../../resilience/breaker-strategies.ts";
import { RetryBudget } from "../../resilience/retry-budget.ts";
import type { Admission, AdmitOptions } from "./destination-gate.ts";
import { DestinationHealth } from "./destination-health.ts";
import type { DestinationSettings } from "./destination-settings.ts";
import { INITIAL_PROTECTION, type ProtectionState } from "./protection-state.ts";
import { RateSchedule, type ReserveRate } from "./rate-schedule.ts";

/** A claimed call waiting in memory for a concurrency slot of its destination. */
export interface SlotWaiter {
  readonly call: CallRecord;
  readonly options: AdmitOptions;
  readonly queuedAt: number;
  /** Settles the admission the engine awaits. */
  readonly settle: (admission: Admission | Promise<Admission>) => void;
}

/** A destination's in-memory record. */
export class DestinationEntry {
  readonly destination: string;
  /** The state as this process believes it: saved, or about to be. */
  state: ProtectionState = INITIAL_PROTECTION;
  /** The limits in force. */
  limits: DestinationLimits = {};
  /** The stored version `state` and `limits` build on (0: never saved). */
  version = 0;
  /** The state and limits as last saved or read, to skip saving what is saved already. */
  saved: { state: ProtectionState; limits: DestinationLimits } = {
    state: INITIAL_PROTECTION,
    limits: {},
  };
  readonly strategy: BreakerStrategy;
  readonly budget: RetryBudget;
  readonly health: DestinationHealth;
  rate: RateSchedule | undefined;
  /** Attempts in flight to this destination in this process. */
  inFlight = 0;
  /**
   * Of the fleet-wide `maxConcurrency`, the permits this process holds (concurrency-permits.ts):
   * its slots for this destination. 0 without a `maxConcurrency`.
   */
  permits = 0;
  /** The request for more permits under way, if any. */
  asking: Promise<void> | undefined;
  /** When a request last got fewer permits than it asked for (or failed). */
  shortAt = Number.NEGATIVE_INFINITY;
  /** The fair share of the limit as the store last said (every holder wanting permits alike). */
  share = Number.POSITIVE_INFINITY;
  /** When the store was last asked about this destination's permits. */
  checkedAt = Number.NEGATIVE_INFINITY;
  /** True while permits beyond the fair share are being given back. */
  shrinking = false;
  /** True while permits not in use are waiting to be given back. */
  lingering = false;
  /** The most slots in use (in flight and waiting) since the linger began. */
  permitPeak = 0;
  /** Permit requests, one after the other. */
  permitChain: Promise<void> = Promise.resolve();
  /** When the last call held for a concurrency slot is due back (the end of that queue). */
  concurrencyQueueAt = 0;
  /** The time between two calls of that queue, ms, as last estimated. */
  concurrencySpacingMs = 0;
  /** Claimed calls waiting in memory for a concurrency slot, oldest first. */
  readonly slotQueue: SlotWaiter[] = [];
  /** True while a timer is set to hold the calls that waited too long in `slotQueue`. */
  slotQueueTimer = false;
  /** When an attempt last ended, or the first one started (a destination making progress). */
  progressAt = Number.NEGATIVE_INFINITY;
  /** True while this process is electing a probe (one election at a time). */
  electing = false;
  /** The deadline of the probe being elected, while `electing`. */
  electingUntil = 0;
  /** Saves of this destination, one after the other. */
  chain: Promise<void> = Promise.resolve();
  /** Saves queued or running. */
  pendingSaves = 0;
  /** When the saved document was last read (a held call re-reads a stale one). */
  readAt = Number.NEGATIVE_INFINITY;
  /** Last time a call went through the gate (eviction of idle entries). */
  lastUsedAt: number;

  readonly #reserveRate: ReserveRate;

  /** `reserveRate` reserves spans of the destination's shared rate schedule (`Store.reserveRate`). */
  constructor(
    destination: string,
    settings: DestinationSettings,
    clock: Clock,
    reserveRate: ReserveRate,
  ) {
    this.destination = destination;
    this.#reserveRate = reserveRate;
    this.strategy = settings.strategy();
    this.budget = new RetryBudget({
      ratio: settings.retryBudgetRatio,
      minRetriesPerSecond: settings.retryBudgetMinPerSecond,
      windowMs: settings.retryBudgetWindowMs,
      clock,
    });
    this.health = new DestinationHealth(settings.healthWindowMs);
    this.lastUsedAt = clock.now();
  }

  /** Replaces the limits; a changed rate starts a new schedule, a changed concurrency a new share. */
  setLimits(limits: DestinationLimits): void {
    if (limits.maxConcurrency !== this.limits.maxConcurrency) {
      this.share = Number.POSITIVE_INFINITY;
      this.checkedAt = Number.NEGATIVE_INFINITY;
    }
    if (limits.rateLimitPerSecond !== this.limits.rateLimitPerSecond) {
      this.rate =
        limits.rateLimitPerSecond === undefined
          ? undefined
          : new RateSchedule({
              ratePerSecond: limits.rateLimitPerSecond,
              reserve: this.#reserveRate,
            });
    }
    this.limits = limits;
  }

  /** True when nothing distinguishes this destination from one never seen (it may be dropped). */
  isDefault(now: number): boolean {
    return (
      this.state.breaker.state === "closed" &&
      (this.state.pause === undefined || this.state.pause.until <= now) &&
      (this.state.tenantPauses ?? []).every((pause) => pause.until <= now) &&
      this.limits.rateLimitPerSecond === undefined &&
      this.limits.maxConcurrency === undefined &&
      this.inFlight === 0 &&
      this.permits === 0 &&
      this.asking === undefined &&
      this.slotQueue.length === 0 &&
      !this.electing &&
      this.pendingSaves === 0 &&
      (this.rate?.reserved ?? 0) === 0
    );
  }
}
