/**
 * Named crash windows (STYLE.md, "Tests"). A test can stop the engine exactly at one of these
 * points: in process through `SteadfastOptions.faults`, or in a crash test's child process
 * started through `test/steadfast-with-faults.ts`. Nothing arms them from the environment.
 *
 * - `after-claim`: the call is claimed (lease held) and nothing was sent.
 * - `after-request-sent`: the upstream has answered; the attempt is not yet committed.
 * - `after-attempt-commit`: the attempt and the call's transition are committed.
 * - `before-step-commit`: a workflow step has ended (its function returned or threw, or it parked)
 *   and its checkpoint is not yet committed.
 * - `after-step-commit`: the step's checkpoint (and its attempts, its children) is committed; the
 *   workflow has not yet been given its result.
 */
import { InvalidOptionError } from "../core/errors.ts";
export const FaultPoints = [
  "after-claim",
  "after-request-sent",
  "after-attempt-commit",
  "before-step-commit",
  "after-step-commit",
] as const;
/** One of `FaultPoints`. */
export type FaultPoint = (typeof FaultPoints)[number];

/** Called at each fault point; may pause (return a promise) or end the process. */
export interface FaultInjector {
  hit(point: FaultPoint): void | Promise<void>;
}

/**
 * Parses a list of faults like `after-request-sent@500`: at the 500th time the engine passes
 * that point, the process kills itself with SIGKILL (no cleanup, like a power cut). Returns
 * `undefined` for an empty list. For crash tests only: `steadfast serve` and `worker` never arm
 * faults (issue 10, item 6).
 */
export function parseFaults(value: string | undefined): FaultInjector | undefined {
  if (value === undefined || value.trim() === "") return undefined;
  const triggers = new Map<FaultPoint, number>();
  for (const part of value.split(",")) {
    const [point, countText] = part.trim().split("@");
    if (
      !(FaultPoints as readonly string[]).includes(point ?? "") ||
      !/^\d+$/.test(countText ?? "")
    ) {
      throw new InvalidOptionError(
        `Fault "${part}" is not <point>@<count>; points are ${FaultPoints.join(", ")}`,
      );
    }
    triggers.set(point as FaultPoint, Number(countText));
  }
  const seen = new Map<FaultPoint, number>();
  return {
    hit(point) {
      const at = triggers.get(point);
      if (at === undefined) return;
      const count = (seen.get(point) ?? 0) + 1;
      seen.set(point, count);
      if (count >= at) process.kill(process.pid, "SIGKILL");
    },
  };
}
