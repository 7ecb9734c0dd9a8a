import { describe, expect, it } from "vitest";
import { nextCheckpoint, type Checkpoint, type StepEvent } from "./checkpoint.ts";
import type { StepId } from "./step-id.ts";

const id = "s" as StepId;
const error = { name: "Error", message: "x", terminal: false };

describe("nextCheckpoint (the step state machine)", () => {
  it("records a run step attempt by attempt: retrying, then completed with the attempt count", () => {
    let c = nextCheckpoint(
      undefined,
      { type: "attempt-failed", kind: "run", error, startedAt: 10, at: 20, retryAt: 500 },
      id,
    );
    expect(c).toEqual({
      status: "retrying",
      stepId: id,
      kind: "run",
      startedAt: 10,
      attempts: 1,
      retryAt: 500,
      lastError: error,
    });
    c = nextCheckpoint(
      c,
      { type: "attempt-failed", kind: "run", error, startedAt: 500, at: 510, retryAt: 900 },
      id,
    );
    expect(c).toMatchObject({ status: "retrying", attempts: 2, startedAt: 10, retryAt: 900 });
    c = nextCheckpoint(
      c,
      { type: "attempt-succeeded", kind: "run", output: "o", startedAt: 900, at: 950 },
      id,
    );
    expect(c).toEqual({
      status: "completed",
      stepId: id,
      kind: "run",
      startedAt: 10,
      attempts: 3,
      output: "o",
      completedAt: 950,
    });
  });

  it("fails a step for good when no retry is decided", () => {
    const c = nextCheckpoint(
      undefined,
      { type: "attempt-failed", kind: "compensate", error, startedAt: 1, at: 2 },
      id,
    );
    expect(c).toEqual({
      status: "failed",
      stepId: id,
      kind: "compensate",
      startedAt: 1,
      attempts: 1,
      error,
      completedAt: 2,
    });
  });

  it("parks a waiting step, then resolves or rejects it", () => {
    const waiting = nextCheckpoint(
      undefined,
      {
        type: "parked",
        kind: "invoke",
        wait: { type: "child_run", workflow: "w", input: "i", runId: "r:s" },
        at: 5,
      },
      id,
    );
    expect(waiting).toMatchObject({ status: "waiting", attempts: 0, startedAt: 5 });
    expect(nextCheckpoint(waiting, { type: "resolved", output: "o", at: 9 }, id)).toMatchObject({
      status: "completed",
      kind: "invoke",
      output: "o",
      completedAt: 9,
    });
    expect(nextCheckpoint(waiting, { type: "rejected", error, at: 9 }, id)).toMatchObject({
      status: "failed",
      error,
    });
  });

  it("records now/random values at once", () => {
    expect(
      nextCheckpoint(undefined, { type: "recorded", kind: "now", output: "1", at: 3 }, id),
    ).toEqual({
      status: "completed",
      stepId: id,
      kind: "now",
      startedAt: 3,
      attempts: 0,
      output: "1",
      completedAt: 3,
    });
  });

  it("refuses illegal transitions with invalid_state", () => {
    const done: Checkpoint = nextCheckpoint(
      undefined,
      { type: "recorded", kind: "now", output: "1", at: 3 },
      id,
    );
    const illegal: [Checkpoint | undefined, StepEvent][] = [
      [undefined, { type: "resolved", output: "o", at: 1 }],
      [undefined, { type: "rejected", error, at: 1 }],
      [done, { type: "resolved", output: "o", at: 1 }],
      [done, { type: "attempt-succeeded", kind: "run", output: "o", startedAt: 1, at: 1 }],
      [
        nextCheckpoint(
          undefined,
          { type: "parked", kind: "sleep", wait: { type: "sleep", until: 9 }, at: 1 },
          id,
        ),
        { type: "attempt-succeeded", kind: "run", output: "o", startedAt: 1, at: 1 },
      ],
      [
        nextCheckpoint(
          undefined,
          { type: "attempt-failed", kind: "run", error, startedAt: 1, at: 1, retryAt: 2 },
          id,
        ),
        { type: "resolved", output: "o", at: 1 },
      ],
      [
        nextCheckpoint(
          undefined,
          { type: "attempt-failed", kind: "run", error, startedAt: 1, at: 1, retryAt: 2 },
          id,
        ),
        { type: "attempt-succeeded", kind: "compensate", output: "o", startedAt: 1, at: 1 },
      ],
    ];
    for (const [current, event] of illegal) {
      expect(() => nextCheckpoint(current, event, id)).toThrow(/cannot take/);
    }
    expect(() =>
      nextCheckpoint(
        done,
        { type: "recorded", kind: "now", output: "2", at: 4 },
        "other" as StepId,
      ),
    ).toThrow(/cannot take/);
  });
});
