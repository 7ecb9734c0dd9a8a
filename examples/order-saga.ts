// An order saga on Steadfast's durable workflows: charge a card (undone by a refund if the order
// fails later), tell the CRM over HTTP (a durable call), cool off, wait for an approval event, and
// send a receipt from a child workflow. Two orders run: one approved, one rejected, whose charge
// is refunded.
//
//   node examples/order-saga.ts            (from a checkout: npm install first)
//
// The payment provider and the CRM are small local HTTP servers started here, so the example runs
// on its own. In your code they are your real services.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createSteadfast, NonRetriableError, type WorkflowContext } from "../src/index.ts";

// --- Stand-ins for your services -----------------------------------------------------------
const crmCalls: string[] = [];
const crm = createServer((request, response) => {
  let body = "";
  request.on("data", (chunk: Buffer) => (body += chunk.toString()));
  request.on("end", () => {
    crmCalls.push(`${request.headers["idempotency-key"] as string} ${body}`);
    response.writeHead(201, { "content-type": "application/json" });
    response.end(JSON.stringify({ noted: true }));
  });
});
await new Promise<void>((resolve) => crm.listen(0, "127.0.0.1", resolve));
const crmUrl = `http://127.0.0.1:${(crm.address() as AddressInfo).port}/orders`;

const payments = {
  charged: new Map<string, number>(),
  charge(orderId: string, amountCents: number): Promise<{ id: string }> {
    this.charged.set(orderId, amountCents);
    return Promise.resolve({ id: `ch_${orderId}` });
  },
  refund(chargeId: string): Promise<void> {
    console.log(`refunded ${chargeId}`);
    return Promise.resolve();
  },
};

// --- The workflows ----------------------------------------------------------------------------
const dir = mkdtempSync(join(tmpdir(), "steadfast-saga-"));
const steadfast = await createSteadfast({
  db: `sqlite:${join(dir, "app.db")}`,
  // The stand-in CRM is on loopback, which Steadfast refuses by default.
  allowPrivateNetworks: true,
});

const sendReceipt = steadfast.workflow(
  "send-receipt",
  async ({ input, step }: WorkflowContext<{ orderId: string }>) =>
    step.run("render", () => `receipt for ${input.orderId}`),
);

const checkout = steadfast.workflow(
  "checkout",
  async ({ input, step }: WorkflowContext<{ orderId: string; amountCents: number }>) => {
    const charge = await step.run(
      "charge",
      () => payments.charge(input.orderId, input.amountCents),
      { retry: { maxAttempts: 5 }, compensate: (c) => payments.refund(c.id) },
    );
    const crmAnswer = await step.fetch("notify-crm", {
      url: crmUrl,
      method: "POST",
      body: { orderId: input.orderId },
    });
    await step.sleep("cool-off", "1s");
    const approval = await step.waitForEvent<{ orderId: string; approved: boolean }>("approval", {
      event: "order.approved",
      match: { orderId: input.orderId },
      timeout: "1d",
    });
    if (approval?.approved !== true) {
      // Fails the run: the charge's compensation (the refund) runs.
      throw new NonRetriableError(`order ${input.orderId} was not approved`);
    }
    const receipt = await step.invoke("receipt", sendReceipt, { orderId: input.orderId });
    return { charge, crmStatus: crmAnswer.status, receipt };
  },
);

// --- Two orders ---------------------------------------------------------------------------------
const approved = await checkout.start({ orderId: "o-42", amountCents: 2000 }, { id: "order-o-42" });
const rejected = await checkout.start({ orderId: "o-43", amountCents: 500 }, { id: "order-o-43" });

// Events may arrive while the runs are still busy with earlier steps: they are not lost.
await steadfast.sendEvent("order.approved", { orderId: "o-42", approved: true });
await steadfast.sendEvent("order.approved", { orderId: "o-43", approved: false });

console.log("order-o-42:", JSON.stringify(await approved.result()));
await rejected.result().catch((error: Error) => console.log("order-o-43:", error.message));
console.log("crm saw:", crmCalls.sort().join(" | "));

await steadfast.close();
crm.close();
rmSync(dir, { recursive: true, force: true });
