import { afterEach, describe, expect, it } from "vitest";
import { isTerminalError, WaitTimeoutError } from "../core/errors.ts";
import { tenantId } from "../core/ids.ts";
import { CallFactory, TENANT_A } from "../store/contract/fixtures.ts";
import { startFlakyUpstream } from "../testing/flaky-upstream.ts";
import { waitUntil } from "../testing/wait-until.ts";
import {
  harness,
  heldAnswer,
  holdClaims,
  registered,
  settle,
  type Harness,
} from "./engine-harness.test-support.ts";
import type { FaultPoint } from "./fault-points.ts";

let h: Harness | undefined;
afterEach(async () => {
  await h?.cleanup();
  h = undefined;
});

describe("engine", () => {
  it("retries 503 twice and succeeds on the third attempt, forwarding one key", async () => {
    h = await harness([{ status: 503 }, { status: 503 }, { status: 200, body: "done" }]);
    const call = await h.sf.fetch(
      { url: `${h.upstream.url}/charge`, method: "POST", body: { amount: 1 } },
      { idempotencyKey: "order-42" },
    );
    for (let attempt = 1; attempt <= 2; attempt++) {
      const { attempt: recorded } = await h.next(
        "attempt:recorded",
        (p) => p.attempt.number === attempt,
      );
      expect(recorded.decision.type).toBe("retry");
      if (recorded.decision.type === "retry") await h.clock.advance(recorded.decision.delayMs);
    }
    const final = await call.result();
    expect(final).toMatchObject({
      status: "succeeded",
      attempts: 3,
      response: { status: 200, body: "done" },
    });
    const attempts = await call.attempts();
    expect(attempts.map((a) => a.decision.type)).toEqual(["retry", "retry", "succeed"]);
    expect(new Set(h.upstream.requests.map((r) => r.headers["idempotency-key"]))).toEqual(
      new Set(["order-42"]),
    );
    expect(h.upstream.requests[0]?.body).toBe('{"amount":1}');
  });

  it("fails a 400 after one attempt", async () => {
    h = await harness([{ status: 400, body: "bad" }]);
    const call = await h.sf.fetch({ url: h.upstream.url, method: "POST" });
    const final = await call.result();
    expect(final).toMatchObject({
      status: "failed",
      attempts: 1,
      error: { code: "not_retryable" },
      response: { status: 400, body: "bad" },
    });
  });

  it("does not retry a 429 with Retry-After: 2 before two seconds", async () => {
    h = await harness([{ status: 429, headers: { "retry-after": "2" } }, { status: 200 }]);
    const call = await h.sf.fetch({ url: h.upstream.url });
    const { attempt } = await h.next("attempt:recorded");
    expect(attempt.decision).toMatchObject({ type: "retry", delayMs: 2_000 });
    await h.clock.advance(1_999);
    await settle();
    expect(h.upstream.requests).toHaveLength(1);
    expect(await call.status()).toBe("waiting");
    await h.clock.advance(1);
    expect(await call.result()).toMatchObject({ status: "succeeded", attempts: 2 });
  });

  for (const header of ["ratelimit-reset", "x-ratelimit-reset"]) {
    it(`waits for an epoch ${header} as a time, not 1.7e12 ms (issue 10, item 13)`, async () => {
      const epochSeconds = Date.parse("2026-01-01T00:00:00Z") / 1000 + 30;
      h = await harness([
        { status: 429, headers: { [header]: String(epochSeconds) } },
        { status: 200 },
      ]);
      const call = await h.sf.fetch({ url: h.upstream.url });
      const { attempt } = await h.next("attempt:recorded");
      expect(attempt.decision).toMatchObject({
        type: "retry",
        delayMs: 30_000,
        reason: "status 429; upstream asked to wait 30000 ms",
      });
      const [destination] = await h.sf.destinations.list();
      // A 429's rate-limit reset pauses that tenant's calls, not the destination (issue 10).
      expect(destination?.tenantPauses?.[0]?.reason).toBe("status 429 with rate-limit reset 30 s");
      await h.clock.advance(29_999);
      await settle();
      expect(h.upstream.requests).toHaveLength(1);
      await h.clock.advance(1);
      expect(await call.result()).toMatchObject({ status: "succeeded", attempts: 2 });
    });
  }

  it("ends a result() wait with a WaitTimeoutError, not a TerminalError; the call goes on (issue 10, item 14)", async () => {
    h = await harness([{ status: 200 }]);
    const call = await h.sf.fetch({ url: h.upstream.url, delayMs: 60_000 });
    const waited = call.result({ timeoutMs: 1_000 }).catch((e: unknown) => e);
    await settle();
    await h.clock.advance(1_000);
    const error = await waited;
    expect(error).toBeInstanceOf(WaitTimeoutError);
    expect(error).toMatchObject({ code: "wait_timeout", callId: call.id, timeoutMs: 1_000 });
    expect(isTerminalError(error)).toBe(false);
    await h.clock.advance(59_000);
    expect(await call.result()).toMatchObject({ status: "succeeded" });
  });

  it("logs a listener that throws, and goes on with the others and the call (issue 10, item 14)", async () => {
    const logged: { obj: object; msg: string | undefined }[] = [];
    const logger = {
      info() {},
      warn() {},
      error: (obj: object, msg?: string) => void logged.push({ obj, msg }),
    };
    h = await harness([{ status: 200 }], { logger });
    const bug = new Error("listener bug");
    h.sf.engine.events.on("attempt:recorded", () => {
      throw bug;
    });
    const seen = h.next("attempt:recorded");
    const call = await h.sf.fetch({ url: h.upstream.url });
    await seen;
    expect(await call.result()).toMatchObject({ status: "succeeded" });
    expect(logged).toEqual([
      {
        obj: { err: bug, event: "attempt:recorded" },
        msg: "an engine event listener threw; the engine went on",
      },
    ]);
  });

  it("retries a POST whose read timed out after sending, with the same forwarded key", async () => {
    h = await harness(["hang", { status: 201 }]);
    const call = await h.sf.fetch(
      { url: h.upstream.url, method: "POST", body: "x", timeout: { readMs: 100 } },
      { idempotencyKey: "pay-1" },
    );
    const { attempt } = await h.next("attempt:recorded");
    expect(attempt).toMatchObject({
      sent: true,
      outcome: { type: "error", code: "read_timeout" },
      decision: { type: "retry" },
    });
    if (attempt.decision.type === "retry") await h.clock.advance(attempt.decision.delayMs);
    expect(await call.result()).toMatchObject({ status: "succeeded" });
    expect(h.upstream.requests.map((r) => r.headers["idempotency-key"])).toEqual([
      "pay-1",
      "pay-1",
    ]);
  });

  it("derives a stable key when the client sends none", async () => {
    h = await harness([{ status: 500 }, { status: 200 }]);
    const call = await h.sf.fetch({ url: h.upstream.url, method: "POST" });
    const { attempt } = await h.next("attempt:recorded");
    if (attempt.decision.type === "retry") await h.clock.advance(attempt.decision.delayMs);
    await call.result();
    const keys = h.upstream.requests.map((r) => r.headers["idempotency-key"]);
    expect(keys[0]).toBe(`steadfast-${call.id}`);
    expect(keys[1]).toBe(keys[0]);
  });

  it("keeps serving other calls while an upstream hangs, resets or answers garbage", async () => {
    h = await harness((r) => (r.n <= 3 ? "hang" : { status: 200 }), { concurrency: 8 });
    const hanging = await Promise.all(
      [1, 2, 3].map(() => h!.sf.fetch({ url: h!.upstream.url, timeout: { readMs: 60_000 } })),
    );
    await h.upstream.waitForRequests(3);
    const fast = await h.sf.fetch({ url: h.upstream.url });
    expect(await fast.result()).toMatchObject({ status: "succeeded" });
    for (const call of hanging) expect(await call.status()).toBe("running");
    for (const behaviour of ["reset", "garbage"] as const) {
      const bad = await startBad(behaviour);
      const call = await h.sf.fetch({ url: bad.url, retry: { maxAttempts: 1 } });
      const final = await call.result();
      expect(final.status).toBe("failed");
      expect(final.error?.code).toBe("attempts_exhausted");
      await bad.close();
    }
  });

  it("fails with deadline_exceeded rather than retry past the deadline", async () => {
    h = await harness([{ status: 503 }]);
    const call = await h.sf.fetch({
      url: h.upstream.url,
      deadlineMs: 1_500,
      retry: { backoff: "fixed", initialDelayMs: 1_000, maxAttempts: 10 },
    });
    await h.next("attempt:recorded");
    await h.clock.advance(1_000);
    const final = await call.result();
    expect(final).toMatchObject({
      status: "failed",
      attempts: 2,
      error: { code: "deadline_exceeded" },
    });
  });

  it("cancels a waiting call and redrives a failed one with a fresh budget", async () => {
    h = await harness((r) =>
      r.n === 1 || r.path === "/again" ? { status: 503 } : { status: 200 },
    );
    const call = await h.sf.fetch({ url: h.upstream.url, retry: { maxAttempts: 1 } });
    expect(await call.result()).toMatchObject({ status: "failed", attempts: 1 });
    await h.sf.calls.retry(tenantId("default"), call.id);
    expect(await call.result()).toMatchObject({ status: "succeeded", attempts: 2 });
    expect((await call.attempts()).map((a) => a.number)).toEqual([1, 2]);

    const waiting = await h.sf.fetch({ url: `${h.upstream.url}/again`, retry: { maxAttempts: 5 } });
    await h.next("attempt:recorded", (p) => p.call.id === waiting.id);
    await h.sf.calls.cancel(tenantId("default"), waiting.id);
    await h.clock.advance(120_000);
    await settle();
    expect(await waiting.call()).toMatchObject({ status: "cancelled", attempts: 1 });
  });

  it("lets a call in flight finish on graceful close", async () => {
    h = await harness([{ status: 200, delayMs: 100 }]);
    const call = await h.sf.fetch({ url: h.upstream.url });
    await h.upstream.waitForRequests(1);
    const store = h.sf.store;
    await h.sf.engine.stop();
    const row = await store.getCall(tenantId("default"), call.id);
    expect(row?.status).toBe("succeeded");
  });

  it("counts exchanges against its concurrency, and at most as many attempts being committed", async () => {
    // Every attempt is held between the upstream's answer and its commit until released.
    const gates: (() => void)[] = [];
    let onGate = (): void => {};
    const faults = {
      hit(point: FaultPoint): Promise<void> | undefined {
        if (point !== "after-request-sent") return undefined;
        return new Promise<void>((resolve) => {
          gates.push(resolve);
          onGate();
        });
      },
    };
    h = await harness(() => ({ status: 200 }), { concurrency: 1, faults });
    const { sf, upstream } = h;
    // Resolves when `count` attempts are held (not after a number of turns: a loaded machine
    // takes longer to get there, not a different way).
    const waitForHeld = (count: number): Promise<void> =>
      new Promise((resolve) => {
        onGate = () => {
          if (gates.length >= count) resolve();
        };
        onGate();
      });
    const calls = [];
    for (let i = 0; i < 3; i++) calls.push(await sf.fetch({ url: `${upstream.url}/${i}` }));
    // One slot: the first call's exchange ends, and while it is committed the second goes.
    await waitForHeld(2);
    expect(upstream.requests).toHaveLength(2);
    // As many being committed as the concurrency, plus the one slot: the third waits.
    await settle(50);
    expect(upstream.requests).toHaveLength(2);
    gates[0]!();
    await waitForHeld(3);
    expect(upstream.requests).toHaveLength(3);
    gates[1]!();
    gates[2]!();
    for (const call of calls) expect((await call.result()).status).toBe("succeeded");
  });

  it("never runs more exchanges than its concurrency when a call is created already claimed while a claim is under way (issue 10, item 10, review)", async () => {
    const first = heldAnswer();
    h = await harness((r) => (r.path === "/a" ? { status: 200, after: first.after } : "hang"), {
      concurrency: 1,
    });
    const { sf, upstream } = h;
    // Another destination for the call created claimed, so no destination's share holds it.
    const elsewhere = await startFlakyUpstream(() => "hang");
    try {
      await registered(h);
      const a = await sf.fetch({ url: `${upstream.url}/a` });
      await upstream.waitForRequests(1);
      // The only slot is taken: this one is queued.
      const b = await sf.fetch({ url: `${upstream.url}/b` });
      expect(await b.status()).toBe("queued");
      // The real store's claims held back until the test lets them go.
      const claim = holdClaims(sf.store);
      // A's exchange ends: the slot is free, and the pump claims one call (B) for it.
      first.release();
      await claim.started;
      await a.result();
      await waitUntil(() => sf.engine.inFlight === 0, { what: "A's attempt to be committed" });
      // Meanwhile a call comes in and is created already claimed, or queued.
      const c = await sf.fetch({ url: `${elsewhere.url}/c` });
      claim.letGo();
      const sent = (): number => upstream.requests.length - 1 + elsewhere.requests.length;
      await waitUntil(() => sent() >= 1, { what: "B or C sent" });
      await settle(50);
      // One exchange at a time: B's or C's, the other waits in the store.
      expect(sent()).toBe(1);
      expect(sf.engine.inFlight).toBe(1);
      expect([await b.status(), await c.status()].sort()).toEqual(["queued", "running"]);
    } finally {
      await elsewhere.close();
    }
  });

  it("starts a call created already claimed at once, and gives it back if it stopped meanwhile", async () => {
    h = await harness([{ status: 200 }]);
    const { sf, upstream } = h;
    // Accepted while the engine has a free slot: created running (claimed), sent without a claim.
    const call = await sf.fetch({ url: upstream.url });
    expect((await sf.store.getCall(tenantId("default"), call.id))?.status).not.toBe("queued");
    expect(await call.result()).toMatchObject({ status: "succeeded", attempts: 1 });

    // A slot reserved just before the engine stops: the call created under it is given back.
    const slot = sf.engine.reserveSlot();
    expect(slot).toBeDefined();
    const created = await sf.store.createClaimedCall(new CallFactory(5).call(), slot!);
    await sf.engine.stop();
    expect(sf.engine.reserveSlot()).toBeUndefined();
    slot!.run(created.call);
    slot!.release();
    for (let turn = 0; turn < 100; turn++) {
      if ((await sf.store.getCall(TENANT_A, created.call.id))?.status === "queued") break;
      await settle(1);
    }
    expect(await sf.store.getCall(TENANT_A, created.call.id)).toMatchObject({ status: "queued" });
    expect(upstream.requests).toHaveLength(1);
  });
});

function startBad(behaviour: "reset" | "garbage") {
  return startFlakyUpstream([behaviour]);
}
