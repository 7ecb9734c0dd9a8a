import { describe, expect, it } from "vitest";
import type { CheckpointBatch } from "./invocation.ts";
import type { WorkflowContext } from "./workflow-definition.ts";
import { RunDriver } from "./workflow-driver.test-support.ts";

describe("runInvocation: committing step by step", () => {
  it("commits each step's records before the step returns, so the next step starts after", async () => {
    const log: string[] = [];
    const driver = new RunDriver(async ({ step }) => {
      const a = await step.run("a", () => (log.push("run a"), 1));
      const t = await step.now();
      const b = await step.run("b", () => (log.push("run b"), a + 1));
      await step.sleep("nap", 1_000);
      return [a, b, t];
    }, undefined);
    const commit = async (batch: CheckpointBatch) => {
      await Promise.resolve();
      log.push(
        `commit ${batch.checkpoints.map((c) => c.stepId).join(",")} (${batch.attempts.length} attempts)`,
      );
      driver.commit(batch);
    };
    const first = await driver.invoke({ commit });
    expect(log).toEqual([
      "run a",
      "commit a (1 attempts)",
      "commit $now (0 attempts)",
      "run b",
      "commit b (1 attempts)",
    ]);
    // What is left for the end-of-invocation commit: the park.
    expect(first.checkpoints.map((c) => [c.stepId, c.status])).toEqual([["nap", "waiting"]]);
    expect(first.attempts).toEqual([]);
    await driver.clock.advance(1_000);
    const second = await driver.invoke({ commit });
    expect(second.outcome).toMatchObject({ type: "completed", output: [1, 2, 1_000_000] });
    expect(log.at(-1)).toBe("commit nap (0 attempts)");
    expect(second.checkpoints).toEqual([]);
  });

  it("after a crash, resumes from the last committed step: committed steps do not run again", async () => {
    const ran: string[] = [];
    const workflow = async ({ step }: WorkflowContext<undefined>) => {
      for (const name of ["s1", "s2", "s3", "s4"]) await step.run(name, () => ran.push(name));
      return "done";
    };
    const driver = new RunDriver(workflow, undefined);
    let commits = 0;
    let died: () => void = () => {};
    const death = new Promise<void>((resolve) => (died = resolve));
    // The process dies during the third commit: it never returns, and its batch is lost.
    const dying = (batch: CheckpointBatch) => {
      if (++commits === 3) {
        died();
        return new Promise<void>(() => {});
      }
      driver.commit(batch);
      return Promise.resolve();
    };
    void driver.invoke({ commit: dying });
    await death;
    expect(ran).toEqual(["s1", "s2", "s3"]);
    expect([...driver.store.keys()]).toEqual(["s1", "s2"]);
    // A new process replays: s1 and s2 are memoized, s3 (interrupted) runs again, then s4.
    const resumed = await driver.invoke({
      commit: (batch) => Promise.resolve(driver.commit(batch)),
    });
    expect(resumed.outcome).toMatchObject({ type: "completed", output: "done" });
    expect(ran).toEqual(["s1", "s2", "s3", "s3", "s4"]);
  });

  it("stops when a commit fails (a lost lease): the step never returns and nothing more runs", async () => {
    const ran: string[] = [];
    const caught: unknown[] = [];
    const driver = new RunDriver(async ({ step }) => {
      try {
        await step.run("a", () => ran.push("a"));
      } catch (error) {
        caught.push(error);
      }
      await step.run("b", () => ran.push("b"));
      return "end";
    }, undefined);
    const fenced = new Error("fenced: the lease is another process's");
    const result = await driver.invoke({ commit: () => Promise.reject(fenced) });
    expect(result.outcome).toEqual({ type: "interrupted", error: fenced });
    expect(ran).toEqual(["a"]);
    expect(caught).toEqual([]);
  });

  it("stops compensating when a compensation's commit fails", async () => {
    const ran: string[] = [];
    const driver = new RunDriver(async ({ step }) => {
      await step.run("a", () => 1, { compensate: () => ran.push("undo a") });
      await step.run("b", () => 2, { compensate: () => ran.push("undo b") });
      throw new Error("failed");
    }, undefined);
    let commits = 0;
    const result = await driver.invoke({
      commit: (batch) => {
        if (++commits === 3) return Promise.reject(new Error("store away"));
        driver.commit(batch);
        return Promise.resolve();
      },
    });
    expect(result.outcome).toMatchObject({ type: "interrupted" });
    expect(ran).toEqual(["undo b"]);
  });
});
