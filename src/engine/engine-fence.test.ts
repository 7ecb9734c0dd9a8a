import { afterEach, describe, expect, it } from "vitest";
import { RetryableError } from "../core/errors.ts";
import type { WorkerId } from "../core/ids.ts";
import type { Store } from "../core/store.ts";
import { tenantId } from "../core/ids.ts";
import { CallFactory, SPEC } from "../store/contract/fixtures.ts";
import { waitUntil } from "../testing/wait-until.ts";
import {
  harness,
  heldAnswer,
  registered,
  settle,
  type Harness,
} from "./engine-harness.test-support.ts";

// Issue 10, item 10 (review): a live process another one found dead (an event-loop stall, a VM
// pause, a saturated pool, a network cut to the database) must stop sending before its calls
// can be taken over: the lease token fences commits, not sends.

let h: Harness | undefined;
/** Stalled heartbeats let go of before cleanup, so that a failed test's engine can stop. */
const stalled: (() => void)[] = [];
afterEach(async () => {
  for (const resume of stalled.splice(0)) resume();
  await h?.cleanup();
  h = undefined;
});

const LEASE_MS = 60_000;

/** Holds back the store's heartbeats and registrations (wrapping the real store) until resumed. */
function stallLiveness(store: Store): { stall(): void; resume(): void } {
  let held: Promise<void> | undefined;
  let release = (): void => {};
  const heartbeat = store.heartbeatWorker.bind(store);
  const register = store.registerWorker.bind(store);
  store.heartbeatWorker = async (...args) => {
    await held;
    return heartbeat(...args);
  };
  store.registerWorker = async (...args) => {
    await held;
    return register(...args);
  };
  const resume = (): void => {
    held = undefined;
    release();
  };
  stalled.push(resume);
  return {
    stall() {
      held = new Promise((resolve) => (release = resolve));
    },
    resume,
  };
}

/** Advances the fake clock by `ms` in quarter-second steps, letting I/O run between them. */
async function advance(h: Harness, ms: number): Promise<void> {
  for (let done = 0; done < ms; done += 250) {
    await h.clock.advance(Math.min(250, ms - done));
    await settle();
  }
}

describe("engine fence", () => {
  it("sends nothing once its heartbeat stalls long enough for another process to find it dead, aborts what it had in flight, and sheds queued calls without committing anything; it registers again once heartbeats get through", async () => {
    const first = heldAnswer();
    h = await harness(
      (request) =>
        request.n === 1 ? { status: 200, body: "first", after: first.after } : { status: 200 },
      {
        leaseMs: LEASE_MS,
        liveness: true,
        // One request at a time to the upstream; the others wait in memory for the slot.
        concurrency: 4,
        destinations: { shareOfConcurrency: 0.25, maxQueueWaitMs: 60_000 },
      },
    );
    const { sf, upstream } = h;
    const liveness = stallLiveness(sf.store);
    await registered(h);
    const calls = [];
    for (let i = 0; i < 3; i++) calls.push(await sf.fetch({ url: `${upstream.url}/${i}` }));
    await upstream.waitForRequests(1);
    expect(sf.engine.inFlight).toBe(3);

    // Registered at 0; the next heartbeats never reach the store. Another process could find it
    // dead at 5 s: by 4 s it must have stopped.
    liveness.stall();
    await advance(h, 4_000);
    // Its request in flight was aborted (the upstream saw the connection close) ...
    await waitUntil(() => upstream.requests[0]!.finishedAt !== undefined);
    await waitUntil(() => sf.engine.inFlight === 0);
    // ... and the answer, had it come, would be read by nobody.
    first.release();
    await advance(h, 2_000);
    // The calls waiting for the destination's slot were not sent, nor is a new one.
    const late = await sf.fetch({ url: `${upstream.url}/late` });
    await advance(h, 2_000);
    expect(upstream.requests.map((r) => r.path)).toEqual(["/0"]);
    // The attempt it cut off is recorded by this process, which knows it was sent (its claim
    // was still its own); the calls that waited are not.
    expect(await calls[0]!.attempts()).toEqual([
      expect.objectContaining({
        sent: true,
        outcome: expect.objectContaining({
          type: "interrupted",
          code: "process_fenced",
        }) as unknown,
        decision: expect.objectContaining({ type: "retry", delayMs: 0 }) as unknown,
      }),
    ]);
    for (const call of [...calls.slice(1), late]) expect((await call.attempts()).length).toBe(0);

    // Heartbeats get through again: it registers again and the calls run.
    liveness.resume();
    await waitUntil(async () => (await sf.store.listWorkers()).length === 1);
    await advance(h, 1_000);
    for (const call of [...calls, late])
      expect(await call.result()).toMatchObject({ status: "succeeded" });
    expect((await calls[0]!.attempts()).map((a) => a.outcome.type)).toEqual([
      "interrupted",
      "response",
    ]);
    for (const call of [...calls.slice(1), late])
      expect((await call.attempts()).map((a) => a.outcome.type)).toEqual(["response"]);
    expect(upstream.requests.map((r) => r.path).sort()).toEqual(["/0", "/0", "/1", "/2", "/late"]);
  });

  it("found dead by another process, aborts its flights at its next heartbeat and commits nothing of them", async () => {
    const first = heldAnswer();
    h = await harness(
      (request) => (request.n === 1 ? { status: 200, after: first.after } : { status: 200 }),
      { leaseMs: LEASE_MS, liveness: true },
    );
    const { sf, upstream } = h;
    await registered(h);
    const call = await sf.fetch({ url: upstream.url });
    await upstream.waitForRequests(1);

    // Another process finds it dead (its heartbeat seen as it is now), ends its claims and
    // takes the call over.
    const [self] = await sf.store.listWorkers();
    const now = h.clock.now();
    await sf.store.stopWorkers([{ id: self!.id, heartbeatAt: self!.heartbeatAt }], now, LEASE_MS);
    const peer = "worker_peer" as WorkerId;
    const [taken] = await sf.store.claimDue({ now, limit: 1, leaseMs: LEASE_MS, workerId: peer });
    expect(taken?.call.id).toBe(call.id);
    // Its next heartbeat is answered "stopped": the request in flight is aborted, before any
    // answer (or a lease renewal, 20 s away) could tell it.
    await advance(h, 1_000);
    await waitUntil(() => upstream.requests[0]!.finishedAt !== undefined, {
      what: "the request was aborted",
    });
    first.release();
    await advance(h, 2_000);
    await waitUntil(() => sf.engine.inFlight === 0, { what: "no flight is left" });
    // Nothing of it committed: the call is the peer's, with the attempt its takeover recorded.
    expect(await call.call()).toMatchObject({ status: "running", attempts: 1 });
    expect((await call.attempts()).map((a) => a.outcome.type)).toEqual(["interrupted"]);
    expect(upstream.requests).toHaveLength(1);
    // And it registered again.
    await waitUntil(async () => (await sf.store.listWorkers()).some((w) => w.id === self!.id), {
      what: "registered again",
    });
  });

  it("claiming again a call it still runs (its lease was ended meanwhile) aborts the older attempt", async () => {
    h = await harness(() => "hang", { leaseMs: LEASE_MS, liveness: true });
    const { sf, upstream } = h;
    await registered(h);
    await sf.fetch({ url: upstream.url });
    await upstream.waitForRequests(1);
    const [self] = await sf.store.listWorkers();
    await sf.store.stopWorkers([{ id: self!.id }], h.clock.now(), LEASE_MS);
    // Told the call is due (a wake-up from the store), it claims it again at once.
    sf.engine.notify(h.clock.now());
    await upstream.waitForRequests(2);
    await waitUntil(() => upstream.requests[0]!.finishedAt !== undefined, {
      what: "the older request was aborted",
    });
    await waitUntil(() => sf.engine.inFlight === 1, { what: "one flight is left" });
    await settle();
    expect(sf.engine.inFlight).toBe(1);
  });

  it("claims and sends nothing until a registration is acknowledged, even one the store wrote before failing", async () => {
    h = await harness([{ status: 200 }], { leaseMs: LEASE_MS, liveness: true, startEngine: false });
    const { sf, upstream } = h;
    // Each registration is written, then its answer is lost (a connection that gave up
    // client-side): nobody heartbeats that row, so others may find this worker dead 5 s later.
    let answered = false;
    const register = sf.store.registerWorker.bind(sf.store);
    let registrations = 0;
    sf.store.registerWorker = async (...args) => {
      await register(...args);
      registrations++;
      if (!answered) throw new Error("connection lost before the answer");
    };
    const started = h;
    sf.engine.start();
    await waitUntil(() => registrations === 1, { what: "the first registration" });
    const call = await sf.fetch({ url: upstream.url });
    // Registering is tried again every interval, each written and unanswered.
    await waitUntil(
      async () => {
        await advance(started, 250);
        return registrations >= 3;
      },
      { what: "two more registrations" },
    );
    expect(upstream.requests).toHaveLength(0);
    expect(await call.status()).toBe("queued");
    // A registration is acknowledged: it claims and sends.
    answered = true;
    await advance(h, 1_000);
    expect(await call.result()).toMatchObject({ status: "succeeded", attempts: 1 });
  });

  it("does not run a call created under a slot reserved before its fence closed: that claim was ended meanwhile", async () => {
    h = await harness(() => "hang", { leaseMs: LEASE_MS, liveness: true });
    const { sf, upstream } = h;
    // A call accepted while the fence is open, created already claimed ...
    const slot = sf.engine.reserveSlot();
    expect(slot).toBeDefined();
    const { callbackUrl: _, ...spec } = SPEC;
    const request = { url: upstream.url, method: "GET", headers: {} };
    const created = await sf.store.createClaimedCall(
      new CallFactory(3).call({ tenantId: tenantId("default"), spec: { ...spec, request } }),
      slot!,
    );
    // ... then, before it runs, another process finds this one dead and ends its claims; at its
    // next heartbeat this one fences itself, registers again and claims the call (its claim ended).
    const [self] = await sf.store.listWorkers();
    await sf.store.stopWorkers(
      [{ id: self!.id, heartbeatAt: self!.heartbeatAt }],
      h.clock.now(),
      LEASE_MS,
    );
    await advance(h, 1_000);
    await upstream.waitForRequests(1);
    // The slot's turn comes late: its claim was ended, and the call is running under another.
    slot!.run(created.call);
    await settle(50);
    expect(upstream.requests).toHaveLength(1);
    expect(sf.engine.inFlight).toBe(1);
  });

  it("records the attempts its fence cuts off itself, as no crash: three fences in a row do not end a call crash_loop", async () => {
    h = await harness((request) => (request.n <= 3 ? "hang" : { status: 200 }), {
      leaseMs: LEASE_MS,
      liveness: true,
    });
    const { sf, upstream } = h;
    const liveness = stallLiveness(sf.store);
    await registered(h);
    const call = await sf.fetch({ url: upstream.url, method: "POST" });
    for (let fence = 1; fence <= 3; fence++) {
      await upstream.waitForRequests(fence);
      // A database blip (or a VM pause) long enough to close the fence, during the attempt.
      liveness.stall();
      await advance(h, 4_000);
      await waitUntil(() => sf.engine.inFlight === 0, { what: `fence ${fence}: no flight left` });
      liveness.resume();
      await advance(h, 1_000);
    }
    expect(await call.result()).toMatchObject({ status: "succeeded", attempts: 4 });
    const attempts = await call.attempts();
    expect(
      attempts.map((a) => [a.outcome.type === "interrupted" && a.outcome.code, a.sent]),
    ).toEqual([
      ["process_fenced", true],
      ["process_fenced", true],
      ["process_fenced", true],
      [false, true],
    ]);
  });

  it("measures the age of its last acknowledged heartbeat on the monotonic clock: a wall clock stepped back does not keep it sending", async () => {
    h = await harness(() => "hang", { leaseMs: LEASE_MS, liveness: true });
    const { sf, upstream, clock } = h;
    const liveness = stallLiveness(sf.store);
    await sf.fetch({ url: upstream.url });
    await upstream.waitForRequests(1);
    // Heartbeats stall; 3.5 s later the wall clock is stepped 2 s back (a time sync).
    liveness.stall();
    await advance(h, 3_500);
    expect(sf.engine.canSend).toBe(true);
    clock.stepWall(-2_000);
    // 4 s after its last acknowledged heartbeat, by any clock that does not jump, it stops:
    // another process may find it dead 1 s later.
    await advance(h, 500);
    expect(sf.engine.canSend).toBe(false);
    await waitUntil(() => upstream.requests[0]!.finishedAt !== undefined, {
      what: "the request in flight to be aborted",
    });
  });

  it("keeps committing an answer in hand through its fence (the commit is fenced by its lease token): the request is not sent again", async () => {
    h = await harness([{ status: 200, body: "charged" }], { leaseMs: LEASE_MS, liveness: true });
    const { sf, upstream } = h;
    const liveness = stallLiveness(sf.store);
    // The database goes away: heartbeats hang, commits fail as unreachable.
    let away = false;
    const commitAttempt = sf.store.commitAttempt.bind(sf.store);
    sf.store.commitAttempt = (commit) =>
      away
        ? Promise.reject(new RetryableError("store_unavailable", "the database is away"))
        : commitAttempt(commit);
    liveness.stall();
    away = true;
    const call = await sf.fetch({ url: upstream.url, method: "POST" });
    await upstream.waitForRequests(1);
    // Long enough for the fence to close while the answer waits to be committed.
    await advance(h, 4_500);
    expect(sf.engine.canSend).toBe(false);
    away = false;
    liveness.resume();
    await advance(h, 3_000);
    expect(await call.result()).toMatchObject({ status: "succeeded", attempts: 1 });
    expect(upstream.requests).toHaveLength(1);
  });
});
