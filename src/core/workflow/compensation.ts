/**
 * Sagas: when a run fails, the `compensate` callbacks of its completed steps run in reverse call
 * order, each as a durable step of its own (`$compensate:<stepId>`: recorded, retried with its own
 * policy, memoized, resumed after a crash).
 *
 * Reverse *call* order, not completion order: call order is what a replay reproduces (parallel
 * steps may complete in any order), and for sequential code the two are the same. A compensation
 * that fails for good is recorded and the others still run: each undoes its own step. The run
 * then ends `failed`, with this report beside its error. A run that fails with `replay_diverged`
 * is not compensated (its code, not its work, is wrong: fixed code can retry it).
 */
import type { StepId } from "./step-id.ts";
import type { RecordedError } from "./workflow-errors.ts";

/** How one compensation ended. */
export type CompensationOutcome =
  | { stepId: StepId; compensationId: StepId; status: "compensated" }
  | { stepId: StepId; compensationId: StepId; status: "failed"; error: RecordedError };

/** What the compensations of a failed run did, in the order they ran. */
export interface CompensationReport {
  outcomes: CompensationOutcome[];
}

/**
 * The order in which compensations run: by `callIndex` (the step's place in call order),
 * latest first. Returns a new array.
 *
 * @example compensationOrder([{ callIndex: 0 }, { callIndex: 2 }]) // [{ callIndex: 2 }, { callIndex: 0 }]
 */
export function compensationOrder<T extends { callIndex: number }>(steps: readonly T[]): T[] {
  return [...steps].sort((a, b) => b.callIndex - a.callIndex);
}
