import { afterEach, describe, expect, it } from "vitest";
import { tenantId, type WorkerId } from "../core/ids.ts";
import { verifyWebhook } from "../http/webhook-signature.ts";
import { startFlakyUpstream, type FlakyUpstream } from "../testing/flaky-upstream.ts";
import { harness, settle, type Harness } from "./engine-harness.test-support.ts";

let h: Harness | undefined;
let receiver: FlakyUpstream | undefined;
afterEach(async () => {
  await receiver?.close();
  await h?.cleanup();
  h = undefined;
  receiver = undefined;
});

describe("engine recovery and callbacks", () => {
  it("takes over a dead worker's call when its lease expires, and fences the dead worker out", async () => {
    h = await harness([{ status: 200 }], { startEngine: false, leaseMs: 30_000 });
    const call = await h.sf.fetch({ url: h.upstream.url });
    const [dead] = await h.sf.store.claimDue({
      now: h.clock.now(),
      limit: 1,
      leaseMs: 30_000,
      workerId: "dead" as WorkerId,
    });
    expect(dead?.call.id).toBe(call.id);

    h.sf.engine.start();
    await settle();
    expect(h.upstream.requests).toHaveLength(0);
    await h.clock.advance(30_000);
    // The attempt the dead worker had begun is on record: whether it was sent is unknown.
    expect(await call.result()).toMatchObject({ status: "succeeded", attempts: 2 });
    expect((await call.attempts()).map((a) => [a.outcome.type, a.sent])).toEqual([
      ["interrupted", "unknown"],
      ["response", true],
    ]);

    const stale = await h.sf.store.commitAttempt({
      callId: call.id,
      leaseToken: dead!.leaseToken,
      now: h.clock.now(),
      attempt: {
        callId: call.id,
        number: 1,
        startedAt: h.clock.now(),
        durationMs: 1,
        outcome: { type: "response", status: 500 },
        sent: true,
        decision: { type: "fail", code: "not_retryable", reason: "stale" },
      },
      transition: {
        status: "failed",
        error: { code: "not_retryable", message: "stale" },
        idempotencyExpiresAt: h.clock.now(),
      },
    });
    expect(stale).toBe(false);
    expect(await call.status()).toBe("succeeded");
  });

  it("delivers one signed callback per ended call, retrying a failing receiver", async () => {
    h = await harness([{ status: 200, body: '{"ok":true}' }]);
    receiver = await startFlakyUpstream([{ status: 500 }, { status: 204 }]);
    const call = await h.sf.fetch({
      url: h.upstream.url,
      callback: { url: `${receiver.url}/hooks` },
    });
    await call.result();
    const { attempt } = await h.next("attempt:recorded", (p) => p.call.kind === "callback");
    expect(attempt.decision.type).toBe("retry");
    if (attempt.decision.type === "retry") await h.clock.advance(attempt.decision.delayMs);
    await receiver.waitForRequests(2);

    const secret = await h.sf.store.ensureSigningSecret(
      tenantId("default"),
      "whsec_unused",
      h.clock.now(),
    );
    const [first, second] = receiver.requests;
    expect(first?.headers["webhook-id"]).toBe(second?.headers["webhook-id"]);
    for (const delivery of [first!, second!]) {
      const headers = delivery.headers as Record<string, string>;
      expect(
        verifyWebhook({
          secret,
          headers,
          body: delivery.body,
          nowSeconds: Math.floor(h.clock.now() / 1000),
        }),
      ).toBe(true);
      expect(
        verifyWebhook({
          secret,
          headers,
          body: delivery.body + " ",
          nowSeconds: Math.floor(h.clock.now() / 1000),
        }),
      ).toBe(false);
    }
    const payload = JSON.parse(second!.body) as {
      type: string;
      data: { call: { id: string; status: string }; attempts: unknown[] };
    };
    expect(payload.type).toBe("call.succeeded");
    expect(payload.data.call).toMatchObject({ id: call.id, status: "succeeded" });
    expect(payload.data.attempts).toHaveLength(1);
    // Callback deliveries are internal: they do not show in the tenant's list.
    const page = await h.sf.calls.list(tenantId("default"));
    expect(page.calls.map((c) => c.id)).toEqual([call.id]);
  });
});

describe("waiting for a call's end", () => {
  it("returns at once when the engine stops, and sees an end it did not commit itself", async () => {
    h = await harness(["hang"], { startEngine: false });
    const call = await h.sf.fetch({ url: h.upstream.url });
    const tenant = tenantId("default");
    // Another process ends the call: this engine is not running, so only the store knows.
    const [claim] = await h.sf.store.claimDue({
      now: h.clock.now(),
      limit: 1,
      leaseMs: 30_000,
      workerId: "other" as WorkerId,
    });
    await h.sf.store.cancelCall(tenant, call.id, h.clock.now(), h.clock.now() + 1);
    expect(claim).toBeDefined();
    const waited = h.sf.calls.waitForEnd(tenant, call.id, 60_000);
    await h.clock.advance(1_000);
    expect((await waited).status).toBe("cancelled");

    const second = await h.sf.fetch({ url: h.upstream.url });
    const pending = h.sf.calls.waitForEnd(tenant, second.id, 60_000);
    await settle();
    await h.sf.engine.stop();
    expect((await pending).status).toBe("queued");
  });

  it("returns at once when its signal aborts (a client gone), leaving no waiter or timer", async () => {
    h = await harness(["hang"], { startEngine: false });
    const call = await h.sf.fetch({ url: h.upstream.url, delayMs: 3_600_000 });
    const sleepsBefore = h.clock.pendingSleeps;
    const client = new AbortController();
    const pending = h.sf.calls.waitForEnd(tenantId("default"), call.id, 60_000, client.signal);
    await settle();
    expect(h.clock.pendingSleeps).toBe(sleepsBefore + 1);
    client.abort();
    expect((await pending).status).toBe("queued");
    expect(h.clock.pendingSleeps).toBe(sleepsBefore);
  });
});
