import { describe, expect, it } from "vitest";
import { isSteadfastError } from "../../core/errors.ts";
import { defineWorkflow, type WorkflowContext } from "./workflow-definition.ts";
import { RunDriver } from "./workflow-driver.test-support.ts";

describe("runInvocation: replay and memoization", () => {
  it("never runs a completed step's function again, and returns its recorded result", async () => {
    const ran: string[] = [];
    const driver = new RunDriver(
      async ({ input, step }: WorkflowContext<{ n: number }>) => {
        const a = await step.run("a", () => {
          ran.push("a");
          return input.n + 1;
        });
        await step.sleep("pause", "1m");
        const b = await step.run("b", () => {
          ran.push("b");
          return a * 10;
        });
        return { a, b };
      },
      { n: 1 },
    );

    const first = await driver.invoke();
    expect(first.outcome).toMatchObject({ type: "parked", wakeAt: driver.clock.now() + 60_000 });
    expect(ran).toEqual(["a"]);
    await driver.clock.advance(60_000);
    const second = await driver.invoke();
    expect(second.outcome).toEqual({
      type: "completed",
      output: { a: 2, b: 20 },
      encodedOutput: '{"v":{"a":2,"b":20}}',
    });
    expect(ran).toEqual(["a", "b"]);
    // Replaying a finished run runs nothing and returns the same output.
    const third = await driver.invoke();
    expect(third.outcome).toMatchObject({ type: "completed", output: { a: 2, b: 20 } });
    expect(third.checkpoints).toEqual([]);
    expect(ran).toEqual(["a", "b"]);
  });

  it("returns the recorded value, decoded, on the live path too (the same on replay)", async () => {
    const driver = new RunDriver(async ({ step }) => {
      const live = await step.run("date", () => ({ when: new Date(0) }));
      return typeof live.when;
    }, undefined);
    // The JSON stand-in codec turns a Date into a string: the live path sees what replay sees.
    expect((await driver.invoke()).outcome).toMatchObject({ output: "string" });
    expect((await driver.invoke()).outcome).toMatchObject({ output: "string" });
  });

  it("numbers an id used again in a loop: id, id#2, id#3", async () => {
    const driver = new RunDriver(async ({ step }) => {
      const pages: number[] = [];
      for (let page = 1; page <= 3; page++) pages.push(await step.run("fetch-page", () => page));
      return pages;
    }, undefined);
    const result = await driver.invoke();
    expect(result.outcome).toMatchObject({ type: "completed", output: [1, 2, 3] });
    expect(result.visited).toEqual(["fetch-page", "fetch-page#2", "fetch-page#3"]);
    expect([...driver.store.keys()]).toEqual(["fetch-page", "fetch-page#2", "fetch-page#3"]);
  });

  it("lets steps with distinct ids be added, removed or reordered under an in-flight run", async () => {
    const ran: string[] = [];
    let version = 1;
    const driver = new RunDriver(async ({ step }) => {
      const run = (id: string) => step.run(id, () => (ran.push(id), id));
      if (version === 1) {
        await run("a");
        await run("b");
        await step.sleep("wait", 1_000);
        return "v1";
      }
      // v2: b moved before a, a removed... no: a kept, c added, the order changed.
      await run("c");
      await run("b");
      await run("a");
      await step.sleep("wait", 1_000);
      return "v2";
    }, undefined);
    await driver.invoke();
    expect(ran).toEqual(["a", "b"]);
    version = 2;
    await driver.clock.advance(1_000);
    expect((await driver.invoke()).outcome).toMatchObject({ type: "completed", output: "v2" });
    expect(ran).toEqual(["a", "b", "c"]);
  });

  it("runs parallel steps (Promise.all) and memoizes each", async () => {
    let calls = 0;
    const driver = new RunDriver(async ({ step }) => {
      const values = await Promise.all(
        [3, 1, 2].map((n) =>
          step.run(`p${n}`, async () => {
            calls++;
            await Promise.resolve();
            return n;
          }),
        ),
      );
      await step.sleep("s", 10);
      return values;
    }, undefined);
    const first = await driver.invoke();
    expect(first.checkpoints.map((c) => c.stepId).sort()).toEqual(["p1", "p2", "p3", "s"]);
    await driver.clock.advance(10);
    expect((await driver.invoke()).outcome).toMatchObject({ output: [3, 1, 2] });
    expect(calls).toBe(3);
  });

  it("on a park, lets step functions already started finish and be recorded, and starts no new one", async () => {
    const ran: string[] = [];
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    const driver = new RunDriver(async ({ step }) => {
      await Promise.all([
        step.sleep("nap", "1h"),
        step
          .run("slow", async () => {
            ran.push("slow");
            await gate;
            return "done";
          })
          .then(() => step.run("after-slow", () => ran.push("after-slow"))),
      ]);
      return "end";
    }, undefined);
    const pending = driver.invoke();
    await new Promise((resolve) => setTimeout(resolve, 5));
    release();
    const result = await pending;
    expect(result.outcome).toMatchObject({
      type: "parked",
      waits: [{ stepId: "nap", type: "sleep" }],
    });
    expect(ran).toEqual(["slow"]);
    expect(result.checkpoints.map((c) => [c.stepId, c.status])).toEqual([
      ["nap", "waiting"],
      ["slow", "completed"],
    ]);
    await driver.clock.advance(3_600_000);
    expect((await driver.invoke()).outcome).toMatchObject({ type: "completed", output: "end" });
    expect(ran).toEqual(["slow", "after-slow"]);
  });

  it("parks even when the workflow catches around a parking step (no throw through user code)", async () => {
    const driver = new RunDriver(async ({ step }) => {
      try {
        await step.sleep("nap", 1_000);
      } catch {
        return "swallowed";
      }
      return "slept";
    }, undefined);
    expect((await driver.invoke()).outcome.type).toBe("parked");
    await driver.clock.advance(1_000);
    expect((await driver.invoke()).outcome).toMatchObject({ output: "slept" });
  });

  it("refuses an invalid step id with an error naming it and the fix", async () => {
    for (const id of ["", "$now", "a#2", "x".repeat(257), "tab\there"]) {
      const driver = new RunDriver(async ({ step }) => step.run(id, () => 1), undefined);
      const result = await driver.invoke();
      expect(result.outcome.type).toBe("failed");
      if (result.outcome.type !== "failed") continue;
      expect(result.outcome.error).toMatchObject({
        name: "InvalidOptionError",
        code: "invalid_option",
      });
      expect(result.outcome.error.message).toMatch(/^Step id .* Use a short, stable name/);
    }
  });
});

describe("runInvocation: nested steps", () => {
  it("refuses a step called inside another step's function, naming both", async () => {
    const driver = new RunDriver(
      async ({ step }) => step.run("outer", () => step.run("inner", () => 1)),
      undefined,
    );
    const result = await driver.invoke();
    expect(result.outcome).toMatchObject({ type: "failed", error: { name: "StepFailedError" } });
    expect(driver.store.get("outer")).toMatchObject({
      status: "failed",
      error: {
        code: "invalid_option",
        message:
          'step.run("inner") was called inside the function of step "outer": steps cannot be nested. Call it from the workflow function, before or after that step.',
      },
    });
  });
});

describe("runInvocation: divergence", () => {
  it("fails with replay_diverged naming the step, both kinds and the fix, and runs nothing", async () => {
    let version = 1;
    const ran: string[] = [];
    const driver = new RunDriver(async ({ step }) => {
      if (version === 1) await step.run("pay", () => ran.push("pay"));
      else await step.sleep("pay", 1_000);
      await step.run("next", () => ran.push("next"));
      await step.sleep("end", 5);
      return "ok";
    }, undefined);
    await driver.invoke();
    version = 2;
    const result = await driver.invoke();
    expect(result.outcome.type).toBe("diverged");
    if (result.outcome.type !== "diverged") return;
    const error = result.outcome.error;
    expect(isSteadfastError(error) && error.code).toBe("replay_diverged");
    expect(error).toMatchObject({ stepId: "pay", recordedKind: "run", calledKind: "sleep" });
    expect(error.message).toContain('step "pay"');
    expect(error.message).toContain("step.run()");
    expect(error.message).toContain("step.sleep()");
    expect(error.message).toContain("Deploy code whose steps keep their ids, or cancel the run");
    expect(result.checkpoints).toEqual([]);
    expect(ran).toEqual(["pay", "next"]);
  });

  it("cannot be swallowed by the workflow's try/catch", async () => {
    let version = 1;
    const driver = new RunDriver(async ({ step }) => {
      try {
        if (version === 1) await step.run("x", () => 1);
        else await step.waitForEvent("x", { event: "e" });
      } catch {
        return "swallowed";
      }
      await step.sleep("later", 1);
      return "went on";
    }, undefined);
    await driver.invoke();
    version = 2;
    expect((await driver.invoke()).outcome.type).toBe("diverged");
  });
});

describe("runInvocation: step.now and step.random", () => {
  it("records them under $now, $random (numbered by call order) and replays the values", async () => {
    const seen: number[][] = [];
    const driver = new RunDriver(async ({ step }) => {
      const t1 = await step.now();
      const r1 = await step.random();
      const t2 = await step.now();
      const pinned = await step.now("pinned");
      seen.push([t1, r1, t2, pinned]);
      await step.sleep("s", 500);
      return [t1, r1, t2, pinned];
    }, undefined);
    const first = await driver.invoke();
    expect(first.visited).toEqual(["$now", "$random", "$now#2", "pinned", "s"]);
    await driver.clock.advance(500);
    const second = await driver.invoke();
    expect(seen[1]).toEqual(seen[0]);
    expect(second.outcome).toMatchObject({ output: seen[0] });
    expect(seen[0]![0]).toBe(1_000_000);
    expect(seen[0]![1]).toBeGreaterThanOrEqual(0);
    expect(seen[0]![1]).toBeLessThan(1);
  });
});

describe("runInvocation: cancellation", () => {
  it("stops at the next step call when the signal aborts, and compensates nothing", async () => {
    const controller = new AbortController();
    const ran: string[] = [];
    const driver = new RunDriver(async ({ step }) => {
      await step.run("a", () => ran.push("a"), { compensate: () => ran.push("undo a") });
      controller.abort();
      await step.run("b", () => ran.push("b"));
      return "end";
    }, undefined);
    const result = await driver.invoke({ signal: controller.signal });
    expect(result.outcome).toEqual({ type: "cancelled" });
    expect(ran).toEqual(["a"]);
  });
});

describe("runInvocation: cancellation during a step", () => {
  it("ends cancelled, without retry or compensation, when a step fails because of the abort", async () => {
    for (const maxAttempts of [1, 4]) {
      const controller = new AbortController();
      const ran: string[] = [];
      const driver = new RunDriver(async ({ step }) => {
        await step.run("a", () => ran.push("a"), { compensate: () => ran.push("undo a") });
        await step.run(
          "b",
          ({ signal }) => {
            controller.abort();
            signal.throwIfAborted();
          },
          { retry: { maxAttempts } },
        );
        return "end";
      }, undefined);
      const result = await driver.invoke({ signal: controller.signal });
      expect(result.outcome).toEqual({ type: "cancelled" });
      expect(ran).toEqual(["a"]);
      expect(result.checkpoints.map((c) => [c.stepId, c.status])).toEqual([["a", "completed"]]);
      expect(result.attempts.at(-1)).toMatchObject({
        stepId: "b",
        decision: { type: "fail", code: "cancelled" },
      });
    }
  });
});

describe("defineWorkflow", () => {
  it("refuses a name that is not stable-looking", () => {
    expect(() => defineWorkflow("", () => 1)).toThrow(/Workflow name "" is not valid/);
    expect(defineWorkflow("checkout", () => 1).name).toBe("checkout");
  });
});
