/** Types flow: the input from the declaration, step results from callbacks, the output from the function. */
import { describe, expectTypeOf, it } from "vitest";
import { runInvocation, type InvocationOutcome } from "./run-invocation.ts";
import {
  defineWorkflow,
  type StepFetchResponse,
  type WorkflowContext,
} from "./workflow-definition.ts";
import { jsonCodec } from "./workflow-driver.test-support.ts";
import { FakeClock } from "../../testing/fake-clock.ts";
import { SeededRandom } from "../../testing/seeded-random.ts";

describe("workflow types", () => {
  it("types input, step results, child outputs and the run's output", async () => {
    const receipt = defineWorkflow(
      "receipt",
      ({ input }: WorkflowContext<{ orderId: string }>) => ({
        receiptId: `r-${input.orderId}`,
      }),
    );
    const checkout = defineWorkflow(
      "checkout",
      async ({ input, step }: WorkflowContext<{ orderId: string }>) => {
        expectTypeOf(input).toEqualTypeOf<{ orderId: string }>();
        const charge = await step.run("charge", () => Promise.resolve({ id: "c1", cents: 100 }), {
          compensate: (c) => {
            expectTypeOf(c).toEqualTypeOf<{ id: string; cents: number }>();
          },
        });
        expectTypeOf(charge).toEqualTypeOf<{ id: string; cents: number }>();
        const sync = await step.run("sync", () => 42);
        expectTypeOf(sync).toEqualTypeOf<number>();
        const crm = await step.fetch("crm", { url: "https://crm.example.com" });
        expectTypeOf(crm).toEqualTypeOf<StepFetchResponse>();
        const approval = await step.waitForEvent<{ by: string }>("approval", {
          event: "order.approved",
        });
        expectTypeOf(approval).toEqualTypeOf<{ by: string } | null>();
        const child = await step.invoke("receipt", receipt, { orderId: input.orderId });
        expectTypeOf(child).toEqualTypeOf<{ receiptId: string }>();
        // @ts-expect-error the child's input type is checked
        void step.invoke("receipt", receipt, { order: 1 });
        expectTypeOf(await step.now()).toEqualTypeOf<number>();
        return { charge, status: crm.status, approved: approval !== null, child };
      },
    );
    type Output = {
      charge: { id: string; cents: number };
      status: number;
      approved: boolean;
      child: { receiptId: string };
    };
    expectTypeOf(checkout.fn).returns.resolves.toEqualTypeOf<Output>();

    const result = await runInvocation({
      fn: checkout.fn,
      input: { orderId: "o-1" },
      runId: "r",
      checkpoints: [],
      codec: jsonCodec,
      clock: new FakeClock(),
      random: new SeededRandom(),
    });
    expectTypeOf(result.outcome).toEqualTypeOf<InvocationOutcome<Output>>();
    if (result.outcome.type === "completed")
      expectTypeOf(result.outcome.output).toEqualTypeOf<Output>();
    const _mistyped = () =>
      runInvocation({
        fn: checkout.fn,
        // @ts-expect-error the input must match the workflow's declaration
        input: { id: 1 },
        runId: "r",
        checkpoints: [],
        codec: jsonCodec,
        clock: new FakeClock(),
        random: new SeededRandom(),
      });
  });
});
