/**
 * The circuit breaker's state as data (see circuit-breaker.ts for the transitions) and its
 * exported form. How an outcome counts is `classify.ts`'s `health`, one rule with the engine's.
 */
import type { StrategySnapshot } from "./breaker-strategies.ts";
import type { TripReason } from "./errors.ts";

/** The breaker's state, one branch per state, each with only its own fields. */
export type BreakerState =
  | { state: "closed" }
  | { state: "open"; openedAt: number; openUntil: number; reason: TripReason }
  | { state: "half-open"; since: number; probesInFlight: number; probesSucceeded: number };

/** An exported breaker, plain JSON. */
export interface BreakerSnapshot {
  version: 1;
  state: BreakerState;
  /** Opens since the breaker last closed (drives the growing open duration). */
  consecutiveOpens: number;
  strategy: StrategySnapshot;
}

/** True for a value that is a `BreakerState` (checked when restoring a snapshot). */
export function isBreakerState(value: unknown): value is BreakerState {
  if (typeof value !== "object" || value === null) return false;
  const state = value as Record<string, unknown>;
  switch (state.state) {
    case "closed":
      return true;
    case "open":
      return (
        typeof state.openedAt === "number" &&
        (typeof state.openUntil === "number" || state.openUntil === null)
      );
    case "half-open":
      return true;
    default:
      return false;
  }
}
