/**
 * The check the run executor makes before a commit that starts child runs (`step.invoke`): a
 * child that exists already (the step ran before, in an invocation that was retried) is left as
 * it is by the store, so it is looked at here: retried if it is this run's own failed child, or
 * reported as unable to wake the run (ended otherwise, or not this step's).
 */
import type { Store } from "../../core/store.ts";
import type { RunRecord, StepBatch } from "../../core/run-log.ts";
import { isFinalRunStatus } from "../../core/workflow/run-state.ts";
import { isOwnChild } from "./step-children.ts";

/** What the check needs from the store: reading a child run, and retrying a failed one. */
export type ChildrenStore = Pick<Store, "getRun" | "retryRun">;

/**
 * Whether the child runs of `batch` that exist already can wake nobody, so that `run` must run
 * again now (the step then gets the child's end, or its refusal): a step invoked again after its
 * run was retried finds the child it started before. A failed child of this run that can be
 * retried is retried at `now` (the step starts again from the child's failed step) and
 * `onRetried(now)` is called; one that has ended otherwise, or a run under that id this step did
 * not start, makes the answer true.
 *
 * @example if (await existingChildren(store, run, batch, now, notify)) wakeNow = true;
 */
export async function existingChildren(
  store: ChildrenStore,
  run: RunRecord,
  batch: StepBatch,
  now: number,
  onRetried: (now: number) => void,
): Promise<boolean> {
  let again = false;
  for (const child of batch.runs ?? []) {
    const existing = (await store.getRun(run.tenantId, child.id))?.run;
    if (existing === undefined || existing.uid === child.uid) continue;
    if (!isOwnChild(existing, run.uid, child.inputFingerprint)) {
      again = true;
      continue;
    }
    if (existing.status === "failed") {
      const retried = await store.retryRun(run.tenantId, existing.id, now);
      if (retried.type === "ok") {
        onRetried(now);
        continue;
      }
    }
    if (isFinalRunStatus(existing.status)) again = true;
  }
  return again;
}
