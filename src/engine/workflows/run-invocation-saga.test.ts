import { describe, expect, it } from "vitest";
import { NonRetriableError } from "../../core/workflow/workflow-errors.ts";
import type { WorkflowContext } from "./workflow-definition.ts";
import { RunDriver } from "./workflow-driver.test-support.ts";

interface Log {
  ran: string[];
}

/** Three steps with compensations; the third fails for good. `flakyUndo` fails undos once each. */
function saga(log: Log, options: { flakyUndo?: Set<string>; brokenUndo?: string } = {}) {
  return async ({ step }: WorkflowContext<undefined>) => {
    const undo = (name: string) => (output: unknown) => {
      if (options.flakyUndo?.delete(name)) {
        log.ran.push(`undo ${name} failed`);
        throw new Error(`undo ${name} flaked`);
      }
      if (options.brokenUndo === name) throw new NonRetriableError(`cannot undo ${name}`);
      log.ran.push(`undo ${name} ${JSON.stringify(output)}`);
    };
    const reserve = await step.run("reserve", () => (log.ran.push("reserve"), { id: "r1" }), {
      compensate: undo("reserve"),
    });
    await step.run("log", () => log.ran.push("log")); // nothing to undo
    const charge = await step.run("charge", () => (log.ran.push("charge"), { id: "c1" }), {
      compensate: {
        run: undo("charge"),
        retry: { maxAttempts: 3, backoff: "fixed", initialDelayMs: 1_000 },
      },
    });
    await step.run(
      "ship",
      () => {
        log.ran.push("ship");
        throw new NonRetriableError("no courier");
      },
      { compensate: undo("ship") },
    );
    return { reserve, charge };
  };
}

describe("runInvocation: sagas", () => {
  it("runs the compensations of completed steps in reverse order, once each, with their outputs", async () => {
    const log: Log = { ran: [] };
    const driver = new RunDriver(saga(log), undefined);
    const result = await driver.invoke();
    expect(log.ran).toEqual([
      "reserve",
      "log",
      "charge",
      "ship",
      'undo charge {"id":"c1"}',
      'undo reserve {"id":"r1"}',
    ]);
    expect(result.outcome).toEqual({
      type: "failed",
      error: {
        name: "StepFailedError",
        code: "step_failed",
        message: 'Step "ship" failed: NonRetriableError (non_retriable): no courier',
        terminal: true,
      },
      compensation: {
        outcomes: [
          { stepId: "charge", compensationId: "$compensate:charge", status: "compensated" },
          { stepId: "reserve", compensationId: "$compensate:reserve", status: "compensated" },
        ],
      },
    });
    expect(driver.store.get("$compensate:charge")).toMatchObject({
      kind: "compensate",
      status: "completed",
      attempts: 1,
    });
    // Replaying the failed run runs nothing again and reports the same.
    const again = await driver.invoke();
    expect(again.outcome).toEqual(result.outcome);
    expect(again.checkpoints).toEqual([]);
    expect(log.ran).toHaveLength(6);
  });

  it("retries a compensation durably with its own policy, then resumes the rest in order", async () => {
    const log: Log = { ran: [] };
    const driver = new RunDriver(saga(log, { flakyUndo: new Set(["charge"]) }), undefined);
    const first = await driver.invoke();
    expect(first.outcome).toEqual({
      type: "parked",
      phase: "compensating",
      waits: [{ stepId: "$compensate:charge", type: "retry", until: 1_001_000 }],
      wakeAt: 1_001_000,
    });
    const end = await driver.runToEnd();
    expect(log.ran).toEqual([
      "reserve",
      "log",
      "charge",
      "ship",
      "undo charge failed",
      'undo charge {"id":"c1"}',
      'undo reserve {"id":"r1"}',
    ]);
    expect(end.outcome).toMatchObject({
      type: "failed",
      compensation: { outcomes: [{ status: "compensated" }, { status: "compensated" }] },
    });
    expect(driver.store.get("$compensate:charge")).toMatchObject({
      status: "completed",
      attempts: 2,
    });
  });

  it("resumes mid-compensation after a crash: a recorded compensation is not run again", async () => {
    const log: Log = { ran: [] };
    const driver = new RunDriver(saga(log, { flakyUndo: new Set(["reserve"]) }), undefined);
    // charge undone and committed, reserve's undo failed once: the run parks compensating.
    const first = await driver.invoke();
    expect(first.outcome).toMatchObject({ type: "parked", phase: "compensating" });
    await driver.clock.advance(60_000);
    // A process runs the next invocation and dies before committing it: its batch is lost.
    const lost = new RunDriver(saga(log), undefined, { clock: driver.clock });
    for (const [id, checkpoint] of driver.store) lost.store.set(id, checkpoint);
    await lost.invoke();
    expect(log.ran.slice(4)).toEqual([
      'undo charge {"id":"c1"}',
      "undo reserve failed",
      'undo reserve {"id":"r1"}',
    ]);
    // The next process replays from the last commit: charge's undo is memoized, reserve's runs again.
    const end = await driver.invoke();
    expect(end.outcome).toMatchObject({ type: "failed" });
    expect(log.ran.slice(4)).toEqual([
      'undo charge {"id":"c1"}',
      "undo reserve failed",
      'undo reserve {"id":"r1"}',
      'undo reserve {"id":"r1"}',
    ]);
    expect(log.ran.filter((entry) => entry.startsWith("undo charge {"))).toHaveLength(1);
  });

  it("records a compensation that fails for good and still runs the others", async () => {
    const log: Log = { ran: [] };
    const driver = new RunDriver(saga(log, { brokenUndo: "charge" }), undefined);
    const result = await driver.invoke();
    expect(result.outcome).toMatchObject({
      type: "failed",
      compensation: {
        outcomes: [
          {
            stepId: "charge",
            status: "failed",
            error: { name: "NonRetriableError", message: "cannot undo charge" },
          },
          { stepId: "reserve", status: "compensated" },
        ],
      },
    });
  });

  it("does not compensate a run whose replay diverged", async () => {
    let version = 1;
    const ran: string[] = [];
    const driver = new RunDriver(async ({ step }) => {
      await step.run("pay", () => ran.push("pay"), { compensate: () => ran.push("refund") });
      if (version === 1) await step.sleep("wait", 1_000);
      // v2: the diverged step never settles, but another branch throws in the same invocation:
      // the divergence, not the throw, decides the outcome.
      else
        await Promise.all([
          step.run("wait", () => ran.push("wait")),
          Promise.reject(new Error("a branch threw")),
        ]);
    }, undefined);
    await driver.invoke();
    version = 2;
    const result = await driver.invoke();
    expect(result.outcome.type).toBe("diverged");
    expect(ran).toEqual(["pay"]);
  });

  it("compensates when the workflow's own code throws, not only a step", async () => {
    const ran: string[] = [];
    const driver = new RunDriver(async ({ step }) => {
      await step.run("a", () => 1, { compensate: () => ran.push("undo a") });
      throw new Error("validation failed");
    }, undefined);
    const result = await driver.invoke();
    expect(result.outcome).toMatchObject({
      type: "failed",
      error: { message: "validation failed", terminal: false },
    });
    expect(ran).toEqual(["undo a"]);
  });
});
