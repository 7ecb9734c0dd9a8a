import { describe, expect, it } from "vitest";
import { isStepFailedError } from "../../core/workflow/workflow-errors.ts";
import { defineWorkflow, type WorkflowContext } from "./workflow-definition.ts";
import { RunDriver } from "./workflow-driver.test-support.ts";

const START = 1_000_000;

describe("runInvocation: parking steps", () => {
  it("sleeps durably: parks until the recorded due time, which a later invocation does not move", async () => {
    const driver = new RunDriver(async ({ step }) => {
      await step.sleep("cool-off", "10m");
      return "awake";
    }, undefined);
    const first = await driver.invoke();
    expect(first.outcome).toEqual({
      type: "parked",
      phase: "forward",
      waits: [{ stepId: "cool-off", type: "sleep", until: START + 600_000 }],
      wakeAt: START + 600_000,
    });
    expect(first.checkpoints).toEqual([
      {
        status: "waiting",
        stepId: "cool-off",
        kind: "sleep",
        startedAt: START,
        attempts: 0,
        wait: { type: "sleep", until: START + 600_000 },
      },
    ]);
    // Woken early (a spurious wake-up): parks again on the same due time, writes nothing.
    await driver.clock.advance(60_000);
    const early = await driver.invoke();
    expect(early.outcome).toMatchObject({ type: "parked", wakeAt: START + 600_000 });
    expect(early.checkpoints).toEqual([]);
    await driver.clock.advance(540_000);
    const due = await driver.invoke();
    expect(due.outcome).toMatchObject({ type: "completed", output: "awake" });
    expect(due.checkpoints).toMatchObject([
      { stepId: "cool-off", status: "completed", completedAt: START + 600_000 },
    ]);
  });

  it("sleepUntil a past date or a zero sleep ends at once", async () => {
    const driver = new RunDriver(async ({ step }) => {
      await step.sleepUntil("past", new Date(0));
      await step.sleep("zero", 0);
      return "through";
    }, undefined);
    const result = await driver.invoke();
    expect(result.outcome).toMatchObject({ type: "completed", output: "through" });
    expect(result.checkpoints.map((c) => c.status)).toEqual(["completed", "completed"]);
  });

  it("refuses a duration it does not understand, naming the step", async () => {
    const driver = new RunDriver(
      // @ts-expect-error: not a Duration; a caller without types is refused at run time too
      async ({ step }) => step.sleep("nap", "ten minutes"),
      undefined,
    );
    const result = await driver.invoke();
    expect(result.outcome).toMatchObject({ type: "failed", error: { code: "invalid_option" } });
    if (result.outcome.type === "failed")
      expect(result.outcome.error.message).toContain('step.sleep("nap")');
  });

  it("waits for an event: parks with its name, match and timeout; returns the delivered payload", async () => {
    const driver = new RunDriver(
      async ({ input, step }: WorkflowContext<{ orderId: string }>) => {
        const approval = await step.waitForEvent<{ by: string }>("approval", {
          event: "order.approved",
          match: { orderId: input.orderId },
          timeout: "1d",
        });
        return approval?.by ?? "nobody";
      },
      { orderId: "o-42" },
    );
    const first = await driver.invoke();
    expect(first.outcome).toMatchObject({
      type: "parked",
      waits: [
        {
          stepId: "approval",
          type: "event",
          event: "order.approved",
          match: { orderId: "o-42" },
          timeoutAt: START + 86_400_000,
        },
      ],
      wakeAt: START + 86_400_000,
    });
    await driver.clock.advance(1_000);
    driver.resolve("approval", { by: "ada" });
    expect((await driver.invoke()).outcome).toMatchObject({ type: "completed", output: "ada" });
  });

  it("returns null from an event wait whose timeout has passed", async () => {
    const driver = new RunDriver(async ({ step }) => {
      const event = await step.waitForEvent("approval", {
        event: "order.approved",
        timeout: 5_000,
      });
      return event === null ? "timed out" : "approved";
    }, undefined);
    const result = await driver.runToEnd();
    expect(result.outcome).toMatchObject({ output: "timed out" });
    expect(driver.store.get("approval")).toMatchObject({
      status: "completed",
      output: '{"v":null}',
    });
  });

  it("an event wait without a timeout parks with no wake-up time", async () => {
    const driver = new RunDriver(
      async ({ step }) => step.waitForEvent("e", { event: "x" }),
      undefined,
    );
    const result = await driver.invoke();
    expect(result.outcome).toMatchObject({ type: "parked", phase: "forward" });
    expect(result.outcome).not.toHaveProperty("wakeAt");
  });

  it("fetch parks on a child call keyed <runId>:<stepId> and returns its recorded response", async () => {
    const driver = new RunDriver(
      async ({ step }) => {
        const response = await step.fetch("notify-crm", {
          url: "https://crm.example.com/orders",
          method: "POST",
          body: { orderId: "o-42" },
        });
        return response.status;
      },
      undefined,
      { runId: "order-o-42" },
    );
    const first = await driver.invoke();
    expect(first.outcome).toMatchObject({
      type: "parked",
      waits: [
        {
          stepId: "notify-crm",
          type: "child_call",
          idempotencyKey: "order-o-42:notify-crm",
          request: {
            url: "https://crm.example.com/orders",
            method: "POST",
            body: { orderId: "o-42" },
          },
        },
      ],
    });
    driver.resolve("notify-crm", {
      status: 201,
      headers: {},
      body: "",
      bodyEncoding: "utf8",
      bodyTruncated: false,
      bodyBytes: 0,
    });
    expect((await driver.invoke()).outcome).toMatchObject({ output: 201 });
  });

  it("fetch refuses a request POST /v1/fetch would refuse, and a callback", async () => {
    const bad = new RunDriver(
      async ({ step }) => step.fetch("f", { url: "https://x.example", method: "GET /" }),
      undefined,
    );
    expect((await bad.invoke()).outcome).toMatchObject({
      type: "failed",
      error: { code: "invalid_request" },
    });
    const callback = new RunDriver(
      async ({ step }) =>
        step.fetch("f", {
          url: "https://x.example",
          callback: { url: "https://y.example" },
        } as never),
      undefined,
    );
    expect((await callback.invoke()).outcome).toMatchObject({
      type: "failed",
      error: { code: "invalid_option" },
    });
  });

  it("invoke parks on a child run (id <runId>:<stepId>, encoded input) and returns its output", async () => {
    const receipt = defineWorkflow(
      "send-receipt",
      ({ input }: WorkflowContext<{ orderId: string }>) => `receipt for ${input.orderId}`,
    );
    const driver = new RunDriver(
      async ({ step }) => step.invoke("receipt", receipt, { orderId: "o-42" }),
      undefined,
      {
        runId: "parent",
      },
    );
    const first = await driver.invoke();
    expect(first.outcome).toMatchObject({
      type: "parked",
      waits: [
        {
          stepId: "receipt",
          type: "child_run",
          workflow: "send-receipt",
          runId: "parent:receipt",
          input: '{"v":{"orderId":"o-42"}}',
        },
      ],
    });
    driver.resolve("receipt", "receipt for o-42");
    expect((await driver.invoke()).outcome).toMatchObject({ output: "receipt for o-42" });
  });

  it("a child that failed rejects the step with a StepFailedError, now and on replay", async () => {
    const child = defineWorkflow("child", () => 1);
    const caught: unknown[] = [];
    const driver = new RunDriver(async ({ step }) => {
      try {
        await step.invoke("child", child, undefined);
      } catch (error) {
        caught.push(error);
      }
      await step.sleep("after", 1);
      return "handled";
    }, undefined);
    await driver.invoke();
    driver.reject("child", {
      name: "TerminalError",
      message: "boom",
      code: "boom",
      terminal: true,
    });
    await driver.runToEnd();
    expect(caught).toHaveLength(2);
    for (const error of caught) {
      expect(isStepFailedError(error)).toBe(true);
      expect(error).toMatchObject({ stepId: "child", failure: { code: "boom" } });
    }
  });

  it("parallel waits park together: wakeAt is the earliest time among them", async () => {
    const driver = new RunDriver(async ({ step }) => {
      await Promise.all([
        step.sleep("long", 10_000),
        step.waitForEvent("e", { event: "x", timeout: 2_000 }),
        step.sleep("short", 5_000),
      ]);
      return "all";
    }, undefined);
    const first = await driver.invoke();
    expect(first.outcome).toMatchObject({ type: "parked", wakeAt: START + 2_000 });
    expect(first.outcome.type === "parked" && first.outcome.waits.map((w) => w.stepId)).toEqual([
      "long",
      "e",
      "short",
    ]);
    const end = await driver.runToEnd();
    expect(end.outcome).toMatchObject({ output: "all" });
    // Woken at 0 (again), 2 s (the timeout), 5 s, 10 s.
    expect(driver.invocations.map((r) => r.outcome.type === "parked" && r.outcome.wakeAt)).toEqual([
      START + 2_000,
      START + 2_000,
      START + 5_000,
      START + 10_000,
      false,
    ]);
  });
});
