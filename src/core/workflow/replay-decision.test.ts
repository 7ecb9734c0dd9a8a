import { describe, expect, it } from "vitest";
import type { Checkpoint } from "./checkpoint.ts";
import { decideReplay } from "./replay-decision.ts";
import type { StepId } from "./step-id.ts";

const id = "step" as StepId;
const base = { stepId: id, startedAt: 0, attempts: 1 };
const error = { name: "Error", message: "x", terminal: true };

describe("decideReplay", () => {
  it("executes what is not recorded", () => {
    expect(decideReplay(undefined, "run", id, 0)).toEqual({ type: "execute" });
  });

  it("memoizes a completed step and rethrows a failed one", () => {
    const completed: Checkpoint = {
      ...base,
      status: "completed",
      kind: "run",
      output: "o",
      completedAt: 1,
    };
    expect(decideReplay(completed, "run", id, 5)).toEqual({ type: "memoized", output: "o" });
    const failed: Checkpoint = { ...base, status: "failed", kind: "run", error, completedAt: 1 };
    expect(decideReplay(failed, "run", id, 5)).toEqual({ type: "rethrow", error });
  });

  it("runs a retry once due, parks again before", () => {
    const retrying: Checkpoint = {
      ...base,
      status: "retrying",
      kind: "run",
      retryAt: 100,
      lastError: error,
    };
    expect(decideReplay(retrying, "run", id, 99)).toEqual({ type: "retry-pending", retryAt: 100 });
    expect(decideReplay(retrying, "run", id, 100)).toEqual({
      type: "retry-due",
      checkpoint: retrying,
    });
  });

  it("ends a due sleep with undefined and a timed-out event wait with null; otherwise waits", () => {
    const sleeping: Checkpoint = {
      ...base,
      status: "waiting",
      kind: "sleep",
      wait: { type: "sleep", until: 50 },
    };
    expect(decideReplay(sleeping, "sleep", id, 49)).toEqual({
      type: "still-waiting",
      wait: { type: "sleep", until: 50 },
    });
    expect(decideReplay(sleeping, "sleep", id, 50)).toEqual({
      type: "wait-over",
      checkpoint: sleeping,
      value: undefined,
    });
    const waiting: Checkpoint = {
      ...base,
      status: "waiting",
      kind: "waitForEvent",
      wait: { type: "event", event: "e", timeoutAt: 70 },
    };
    expect(decideReplay(waiting, "waitForEvent", id, 69).type).toBe("still-waiting");
    expect(decideReplay(waiting, "waitForEvent", id, 70)).toEqual({
      type: "wait-over",
      checkpoint: waiting,
      value: null,
    });
    const forever: Checkpoint = { ...waiting, wait: { type: "event", event: "e" } };
    expect(decideReplay(forever, "waitForEvent", id, 1e15).type).toBe("still-waiting");
    const child: Checkpoint = {
      ...base,
      status: "waiting",
      kind: "fetch",
      wait: { type: "child_call", request: {}, idempotencyKey: "k" },
    };
    expect(decideReplay(child, "fetch", id, 1e15).type).toBe("still-waiting");
  });

  it("diverges when another kind is recorded under the id, whatever its state", () => {
    const records: Checkpoint[] = [
      { ...base, status: "completed", kind: "run", output: "o", completedAt: 1 },
      { ...base, status: "failed", kind: "invoke", error, completedAt: 1 },
      { ...base, status: "waiting", kind: "sleep", wait: { type: "sleep", until: 1 } },
      { ...base, status: "completed", kind: "now", output: "1", completedAt: 1 },
    ];
    for (const recorded of records) {
      const decision = decideReplay(recorded, "waitForEvent", id, 0);
      expect(decision.type).toBe("diverged");
      if (decision.type !== "diverged") continue;
      expect(decision.error).toMatchObject({
        code: "replay_diverged",
        stepId: id,
        recordedKind: recorded.kind,
        calledKind: "waitForEvent",
      });
      expect(decision.error.message).toMatch(
        /Deploy code whose steps keep their ids, or cancel the run\.$/,
      );
    }
  });
});
