import { describe, expect, it } from "vitest";
import {
  isFinalRunStatus,
  NEW_RUN,
  parkedState,
  RunStatuses,
  transitionRun,
  type RunEvent,
  type RunState,
  type RunWait,
} from "./run-state.ts";
import type { StepId } from "./step-id.ts";

const s = (id: string) => id as StepId;
const sleep: RunWait = { stepId: s("nap"), type: "sleep", until: 500 };
const event: RunWait = { stepId: s("ok"), type: "event", event: "approved", timeoutAt: 900 };
const retry: RunWait = { stepId: s("pay"), type: "retry", until: 300 };

function apply(state: RunState, ...events: RunEvent[]): RunState {
  for (const e of events) {
    const t = transitionRun(state, e);
    if (!t.ok) throw t.error;
    state = t.state;
  }
  return state;
}

describe("transitionRun", () => {
  it("takes a run through sleeping, waiting and success", () => {
    expect(apply(NEW_RUN, { type: "claim" })).toEqual({ status: "running" });
    expect(apply(NEW_RUN, { type: "claim" }, { type: "park", waits: [sleep] })).toEqual({
      status: "sleeping",
      until: 500,
    });
    expect(apply(NEW_RUN, { type: "claim" }, { type: "park", waits: [sleep, event] })).toEqual({
      status: "waiting",
      code: "event",
      phase: "forward",
      until: 500,
    });
    expect(apply(NEW_RUN, { type: "claim" }, { type: "park", waits: [retry] })).toEqual({
      status: "waiting",
      code: "retry_backoff",
      phase: "forward",
      until: 300,
    });
    expect(
      apply(
        NEW_RUN,
        { type: "claim" },
        {
          type: "park",
          waits: [{ stepId: s("c"), type: "child_call", request: {}, idempotencyKey: "k" }],
        },
      ),
    ).toEqual({ status: "waiting", code: "child_call", phase: "forward" });
    expect(
      apply(
        NEW_RUN,
        { type: "claim" },
        { type: "park", waits: [sleep] },
        { type: "claim" },
        { type: "succeed" },
      ),
    ).toEqual({
      status: "succeeded",
    });
  });

  it("compensates a failed run, parks and resumes compensating, ends failed", () => {
    const compensating = apply(NEW_RUN, { type: "claim" }, { type: "fail", compensate: true });
    expect(compensating).toEqual({ status: "compensating" });
    const parked = apply(compensating, { type: "park", waits: [retry] });
    expect(parked).toEqual({
      status: "waiting",
      code: "retry_backoff",
      phase: "compensating",
      until: 300,
    });
    expect(apply(parked, { type: "claim" })).toEqual({ status: "compensating" });
    expect(apply(compensating, { type: "release" })).toEqual({
      status: "queued",
      phase: "compensating",
    });
    expect(apply(compensating, { type: "release" }, { type: "claim" })).toEqual({
      status: "compensating",
    });
    expect(apply(compensating, { type: "compensated" })).toEqual({
      status: "failed",
      reason: "error",
    });
    expect(apply(NEW_RUN, { type: "claim" }, { type: "fail", compensate: false })).toEqual({
      status: "failed",
      reason: "error",
    });
  });

  it("fails a diverged run without compensating, and lets a failed run be retried", () => {
    const diverged = apply(NEW_RUN, { type: "claim" }, { type: "diverge" });
    expect(diverged).toEqual({ status: "failed", reason: "diverged" });
    expect(apply(diverged, { type: "retry" })).toEqual({ status: "queued", phase: "forward" });
  });

  it("cancels any run that has not ended, and nothing that has", () => {
    const live: RunState[] = [
      NEW_RUN,
      { status: "running" },
      { status: "sleeping", until: 1 },
      { status: "waiting", code: "event", phase: "forward" },
      { status: "compensating" },
    ];
    for (const state of live)
      expect(apply(state, { type: "cancel" })).toEqual({ status: "cancelled" });
    for (const state of [
      { status: "succeeded" },
      { status: "failed", reason: "error" },
      { status: "cancelled" },
    ] as RunState[]) {
      const t = transitionRun(state, { type: "cancel" });
      expect(t.ok).toBe(false);
      if (!t.ok)
        expect(t.error).toMatchObject({
          code: "invalid_state",
          message: `A ${state.status} run cannot take "cancel".`,
        });
    }
  });

  it("refuses every other illegal transition", () => {
    const refused: [RunState, RunEvent][] = [
      [NEW_RUN, { type: "succeed" }],
      [NEW_RUN, { type: "park", waits: [sleep] }],
      [{ status: "running" }, { type: "claim" }],
      [{ status: "running" }, { type: "park", waits: [] }],
      [{ status: "running" }, { type: "compensated" }],
      [{ status: "sleeping", until: 1 }, { type: "succeed" }],
      [{ status: "compensating" }, { type: "succeed" }],
      [{ status: "compensating" }, { type: "fail", compensate: true }],
      [{ status: "succeeded" }, { type: "retry" }],
      [{ status: "cancelled" }, { type: "claim" }],
    ];
    for (const [state, event] of refused) expect(transitionRun(state, event).ok).toBe(false);
  });

  it("says which statuses are final", () => {
    expect(RunStatuses.filter(isFinalRunStatus)).toEqual(["succeeded", "failed", "cancelled"]);
    expect(parkedState([], "forward")).toBeUndefined();
  });
});
