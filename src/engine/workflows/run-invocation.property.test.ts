/**
 * Property tests of replay: for random workflows of steps (run steps that fail some attempts,
 * ids used again, sleeps, step.now/random), driven to their end through as many invocations as
 * their parks need (committing step by step, or once per invocation), and then replayed from
 * every prefix of the committed history:
 * - every run step's function succeeded exactly once, after exactly the attempts it failed;
 * - replaying from any prefix reproduces the same step sequence and the same output, and runs
 *   no step whose success was already committed.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Checkpoint } from "../../core/workflow/checkpoint.ts";
import { FakeClock } from "../../testing/fake-clock.ts";
import type { WorkflowContext } from "./workflow-definition.ts";
import { RunDriver } from "./workflow-driver.test-support.ts";

type Op =
  | { type: "run"; id: string; failures: number }
  | { type: "parallel"; ids: string[] }
  | { type: "sleep"; id: string; ms: number }
  | { type: "now" }
  | { type: "random" };

const id = fc.constantFrom("a", "b", "c");
const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      type: fc.constant("run" as const),
      id,
      failures: fc.integer({ min: 0, max: 2 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      type: fc.constant("parallel" as const),
      ids: fc.array(id, { minLength: 1, maxLength: 3 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      type: fc.constant("sleep" as const),
      id,
      ms: fc.integer({ min: 0, max: 10_000 }),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ type: "now" as const }) },
  { weight: 1, arbitrary: fc.constant({ type: "random" as const }) },
);

/** A workflow running `ops`; `successes` counts each step's successful executions. */
function workflowOf(ops: readonly Op[], successes: Map<string, number>) {
  return async ({ step }: WorkflowContext<undefined>) => {
    const outputs: unknown[] = [];
    const run = (name: string, failures: number) =>
      step.run(
        name,
        (context) => {
          if (context.attempt <= failures) throw new Error(`${name} attempt ${context.attempt}`);
          successes.set(context.stepId, (successes.get(context.stepId) ?? 0) + 1);
          return `${context.stepId}@${context.attempt}`;
        },
        { retry: { maxAttempts: 3, initialDelayMs: 100 } },
      );
    for (const o of ops) {
      if (o.type === "run") outputs.push(await run(o.id, o.failures));
      else if (o.type === "parallel")
        outputs.push(await Promise.all(o.ids.map((name) => run(name, 0))));
      else if (o.type === "sleep") await step.sleep(o.id, o.ms);
      else if (o.type === "now") outputs.push(await step.now());
      else outputs.push(await step.random());
    }
    return outputs;
  };
}

describe("runInvocation: replay properties", () => {
  it("runs each step to success once, and replays any prefix of its history to the same steps and output", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(op, { maxLength: 12 }),
        fc.integer({ min: 1, max: 1_000 }),
        fc.boolean(),
        async (ops, seed, stepwise) => {
          const successes = new Map<string, number>();
          const driver = new RunDriver(workflowOf(ops, successes), undefined, { seed });
          const end = await driver.runToEnd({ stepwise });
          expect(end.outcome.type).toBe("completed");
          for (const count of successes.values()) expect(count).toBe(1);
          const failedAttempts = driver.attempts.filter((a) => a.outcome.type === "failed").length;
          expect(failedAttempts).toBe(
            ops.reduce((n, o) => n + (o.type === "run" ? o.failures : 0), 0),
          );

          // The committed history, batch by batch (a batch per step when stepwise, per
          // invocation otherwise); replay it from every prefix.
          const batches = driver.history;
          for (let k = 0; k <= batches.length; k++) {
            const store = new Map<string, Checkpoint>();
            for (const batch of batches.slice(0, k)) for (const c of batch) store.set(c.stepId, c);
            const replaySuccesses = new Map<string, number>();
            const replay = new RunDriver(workflowOf(ops, replaySuccesses), undefined, {
              seed,
              clock: new FakeClock(driver.clock.now()),
            });
            for (const [stepId, checkpoint] of store) replay.store.set(stepId, checkpoint);
            const replayed = await replay.runToEnd();
            const last = end.visited;
            expect(replayed.visited).toEqual(last);
            for (const [stepId, checkpoint] of store) {
              if (checkpoint.status === "completed")
                expect(replaySuccesses.get(stepId)).toBeUndefined();
            }
            // Values recorded in the prefix come back as they were; the rest is fresh but the same shape.
            if (k === batches.length) expect(replayed.outcome).toEqual(end.outcome);
            else expect(replayed.outcome.type).toBe("completed");
          }
        },
      ),
      { numRuns: 100 },
    );
  });
});
