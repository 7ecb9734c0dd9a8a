import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { consecutiveFailures } from "../resilience/breaker-strategies.ts";
import { createSteadfast, type Steadfast } from "../steadfast.ts";
import { startFlakyUpstream } from "../testing/flaky-upstream.ts";
import { SeededRandom } from "../testing/seeded-random.ts";
import type { FaultPoint } from "./fault-points.ts";
import type { DestinationSettings } from "./destinations/destination-settings.ts";
import { harness, settle, type Harness } from "./engine-harness.test-support.ts";

let h: Harness | undefined;
const extra: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const resource of extra.splice(0)) await resource.close();
  await h?.cleanup();
  h = undefined;
});

/** Opens after 3 failures in a row, for 5 s, then 10 s...; no jitter, so times are exact. */
const BREAKER: Partial<DestinationSettings> = {
  strategy: () => consecutiveFailures({ threshold: 3 }),
  openDurationMs: 5_000,
  openDurationJitter: 0,
};

/** Three calls of one attempt each that fail with 503: the breaker opens. */
async function openBreaker(harnessed: Harness, url: string): Promise<void> {
  const opened = harnessed.next("breaker:opened");
  for (let i = 0; i < 3; i++) {
    const call = await harnessed.sf.fetch({ url, retry: { maxAttempts: 1 } });
    expect(await call.result()).toMatchObject({ status: "failed", attempts: 1 });
  }
  await opened;
}

describe("engine: per-destination protection", () => {
  it("holds calls while the breaker is open without burning attempts; one probe decides", async () => {
    let healthy = false;
    h = await harness(() => (healthy ? { status: 200, body: "ok" } : { status: 503 }), {
      destinations: BREAKER,
    });
    const { sf, upstream, clock } = h;
    const opensAt = clock.now();
    await openBreaker(h, upstream.url);
    expect(upstream.requests).toHaveLength(3);

    const held = [];
    for (let i = 0; i < 5; i++) {
      const heldEvent = h.next("call:held");
      const call = await sf.fetch({ url: `${upstream.url}/orders/${i}` });
      const { waitingFor, runAt } = await heldEvent;
      expect(waitingFor).toMatchObject({ reason: "circuit_open", destination: upstream.url });
      expect(runAt).toBe(opensAt + 5_000);
      held.push(call);
    }
    await settle();
    expect(upstream.requests).toHaveLength(3);
    const view = await held[0]!.call();
    expect(view).toMatchObject({ status: "waiting", attempts: 0 });
    expect(view.waitingFor).toEqual({
      reason: "circuit_open",
      message: expect.stringMatching(
        /^circuit open for 127\.0\.0\.1:\d+ until 00:00:05Z \(3 consecutive failures, threshold 3\)$/,
      ) as string,
      destination: upstream.url,
      until: "2026-01-01T00:00:05.000Z",
    });

    // The first probe fails: open again, for twice as long; still exactly one request more.
    const reopened = h.next("breaker:opened");
    await clock.advance(5_000);
    expect((await reopened).openUntil).toBe(opensAt + 15_000);
    await settle();
    expect(upstream.requests).toHaveLength(4);
    await clock.advance(9_000);
    await settle();
    expect(upstream.requests).toHaveLength(4);

    // It recovers: the next probe succeeds, the breaker closes and the held calls drain.
    healthy = true;
    const closed = h.next("breaker:closed");
    await clock.advance(1_000);
    await closed;
    for (const call of held) {
      const final = await call.result();
      expect(final.status).toBe("succeeded");
    }
    const attempts = await Promise.all(held.map(async (call) => (await call.attempts()).length));
    // The probe's call made two attempts (the failed probe and a retry); the others one each.
    expect(attempts.sort()).toEqual([1, 1, 1, 1, 2]);
    expect(upstream.requests).toHaveLength(3 + 1 + 5);
    const [destination] = await sf.destinations.list();
    expect(destination).toMatchObject({
      destination: upstream.url,
      breaker: { state: "closed", consecutiveOpens: 0 },
    });
  });

  it("pauses the destination for every call on a 503 with Retry-After", async () => {
    h = await harness((r) =>
      r.n === 1 ? { status: 503, headers: { "retry-after": "30" } } : { status: 200 },
    );
    const { sf, upstream, clock } = h;
    const start = clock.now();
    // Subscribed first: the engine may claim a call as soon as it is committed.
    const pausing = h.next("destination:paused");
    const first = await sf.fetch({ url: `${upstream.url}/a` });
    const paused = await pausing;
    expect(paused).toMatchObject({ destination: upstream.url, until: start + 30_000 });

    const heldEvent = h.next("call:held");
    const second = await sf.fetch({ url: `${upstream.url}/b` });
    expect(await heldEvent).toMatchObject({
      runAt: start + 30_000,
      waitingFor: { reason: "destination_paused", destination: upstream.url },
    });
    const other = await startFlakyUpstream([{ status: 200 }]);
    extra.push(other);
    const elsewhere = await sf.fetch({ url: other.url });
    expect(await elsewhere.result()).toMatchObject({ status: "succeeded" });

    await clock.advance(29_999);
    await settle();
    expect(upstream.requests).toHaveLength(1);
    expect(await second.status()).toBe("waiting");
    await clock.advance(1);
    expect(await first.result()).toMatchObject({ status: "succeeded", attempts: 2 });
    expect(await second.result()).toMatchObject({ status: "succeeded", attempts: 1 });
  });

  it("spaces calls to a destination's rate limit", async () => {
    h = await harness([{ status: 200 }]);
    const { sf, upstream, clock } = h;
    await sf.destinations.setLimits(upstream.url, { rateLimitPerSecond: 1 });
    const held: string[] = [];
    sf.engine.events.on("call:held", ({ waitingFor }) => void held.push(waitingFor.reason));
    const calls = [];
    for (let i = 0; i < 4; i++) calls.push(await sf.fetch({ url: `${upstream.url}/${i}` }));
    await upstream.waitForRequests(1);
    // One per second: the next slot is waited for in memory, later ones are held in the store.
    for (let second = 1; second <= 3; second++) {
      await clock.advance(999);
      await settle();
      expect(upstream.requests).toHaveLength(second);
      await clock.advance(1);
      await upstream.waitForRequests(second + 1);
    }
    for (const call of calls) expect(await call.result()).toMatchObject({ attempts: 1 });
    expect(held.length).toBeGreaterThan(0);
    expect(new Set(held)).toEqual(new Set(["rate_limited"]));
  });

  it("runs a call over a destination's concurrency limit when a slot frees, without a write", async () => {
    h = await harness((r) => (r.n <= 2 ? "hang" : { status: 200 }));
    const { sf, upstream } = h;
    await sf.destinations.setLimits(`${upstream.url}/`, { maxConcurrency: 2 });
    const hanging = [];
    for (let i = 0; i < 2; i++) {
      hanging.push(
        await sf.fetch({ url: upstream.url, timeout: { readMs: 300 }, retry: { maxAttempts: 1 } }),
      );
    }
    await upstream.waitForRequests(2);
    const held: unknown[] = [];
    sf.engine.events.on("call:held", (event) => void held.push(event));
    const next = await sf.fetch({ url: `${upstream.url}/next` });
    // Claimed, and waiting in this process for one of the two slots.
    for (let turn = 0; (await sf.destinations.get(upstream.url)).health.waitingForSlot < 1; turn++)
      if (turn > 1_000) throw new Error("the call never waited for a slot");
      else await settle(1);
    expect(upstream.requests).toHaveLength(2);
    // The hanging attempts time out (undici's read timer is real time): the waiting call goes.
    for (const call of hanging) expect((await call.result()).status).toBe("failed");
    expect(await next.result()).toMatchObject({ status: "succeeded", attempts: 1 });
    expect(upstream.requests).toHaveLength(3);
    expect(held).toEqual([]);
  });

  it("frees a concurrency slot when the exchange ends, before the attempt is committed", async () => {
    // The first attempt is held between the upstream's answer and its commit.
    let unblock: () => void = () => undefined;
    const blocked = new Promise<void>((resolve) => (unblock = resolve));
    let held = 0;
    const faults = {
      hit(point: FaultPoint): Promise<void> | undefined {
        if (point !== "after-request-sent" || held++ > 0) return undefined;
        return blocked;
      },
    };
    h = await harness(() => ({ status: 200 }), { faults });
    const { sf, upstream } = h;
    await sf.destinations.setLimits(`${upstream.url}/`, { maxConcurrency: 1 });
    const first = await sf.fetch({ url: `${upstream.url}/first` });
    await upstream.waitForRequests(1);
    for (let turn = 0; held === 0; turn++)
      if (turn > 1_000) throw new Error("the first attempt never reached its commit");
      else await settle(1);

    // The destination has nothing in flight: the second call goes while the first still commits.
    const second = await sf.fetch({ url: `${upstream.url}/second` });
    await upstream.waitForRequests(2);
    expect(await second.result()).toMatchObject({ status: "succeeded", attempts: 1 });
    expect((await first.call()).status).toBe("running");
    unblock();
    expect(await first.result()).toMatchObject({ status: "succeeded", attempts: 1 });
    expect((await sf.destinations.get(upstream.url)).health.inFlight).toBe(0);
  });

  it("holds calls over the limit in the store while the destination finishes nothing", async () => {
    h = await harness((r) => (r.n <= 2 ? "hang" : { status: 200 }));
    const { sf, upstream, clock } = h;
    await sf.destinations.setLimits(`${upstream.url}/`, { maxConcurrency: 2 });
    const hanging = [];
    for (let i = 0; i < 2; i++) {
      hanging.push(
        await sf.fetch({
          url: upstream.url,
          timeout: { readMs: 1_000 },
          retry: { maxAttempts: 1 },
        }),
      );
    }
    await upstream.waitForRequests(2);
    // Nothing has finished for longer than a call may wait in memory (100 ms by default).
    await clock.advance(101);
    const held = h.next("call:held");
    const waiting = await sf.fetch({ url: `${upstream.url}/next` });
    expect(await held).toMatchObject({
      waitingFor: {
        reason: "concurrency_limited",
        message: expect.stringMatching(
          /is at its limit \(maxConcurrency 2, shared by every process\): 2 attempts in flight in this one/,
        ) as string,
      },
    });
    expect(upstream.requests).toHaveLength(2);
    for (const call of hanging) expect((await call.result()).status).toBe("failed");
    await clock.advance(1_000);
    expect(await waiting.result()).toMatchObject({ status: "succeeded", attempts: 1 });
    expect(upstream.requests).toHaveLength(3);
  });

  it("restores an open breaker and limits after a restart", async () => {
    h = await harness([{ status: 503 }], { destinations: BREAKER });
    const { upstream, clock, dir } = h;
    await openBreaker(h, upstream.url);
    await h.sf.destinations.setLimits(upstream.url, { maxConcurrency: 7 });
    await h.sf.close();

    const reopened: Steadfast = await createSteadfast({
      db: `sqlite:${join(dir, "steadfast.db")}`,
      clock,
      random: new SeededRandom(2),
      allowPrivateNetworks: true,
      destinations: BREAKER,
    });
    extra.push(reopened);
    const held = new Promise((resolve) => reopened.engine.events.on("call:held", resolve));
    const call = await reopened.fetch({ url: upstream.url });
    expect(await held).toMatchObject({ waitingFor: { reason: "circuit_open" } });
    expect(await call.call()).toMatchObject({ status: "waiting", attempts: 0 });
    expect(upstream.requests).toHaveLength(3);
    const [view] = await reopened.destinations.list();
    expect(view).toMatchObject({
      breaker: { state: "open", consecutiveOpens: 1 },
      limits: { rateLimitPerSecond: null, maxConcurrency: 7 },
    });
  });

  it("resets an open breaker by hand, and the held calls go at once", async () => {
    let healthy = false;
    h = await harness(() => (healthy ? { status: 200 } : { status: 503 }), {
      destinations: BREAKER,
    });
    const { sf, upstream } = h;
    await openBreaker(h, upstream.url);
    const held = h.next("call:held");
    const call = await sf.fetch({ url: upstream.url });
    await held;
    healthy = true;
    const view = await sf.destinations.reset(upstream.url);
    expect(view.breaker).toEqual({ state: "closed", consecutiveOpens: 0 });
    expect(await call.result()).toMatchObject({ status: "succeeded", attempts: 1 });
  });

  it("holds a destination's maxConcurrency in the store: renewed with its leases, given back when it stops", async () => {
    h = await harness(() => "hang", { leaseMs: 3_000, shutdownGraceMs: 1_000 });
    const { sf, upstream, clock } = h;
    await sf.destinations.setLimits(upstream.url, { maxConcurrency: 2 });
    for (let i = 0; i < 3; i++) await sf.fetch({ url: `${upstream.url}/${i}` });
    await upstream.waitForRequests(2);
    // Another process asking for the limit finds it all held, lease after lease.
    const other = async (): Promise<number> =>
      (
        await sf.store.holdPermits({
          destination: upstream.url,
          holder: "worker_other",
          wanted: 2,
          limit: 2,
          now: clock.now(),
          expiresAt: clock.now() + 3_000,
        })
      ).granted;
    expect(await other()).toBe(0);
    expect((await sf.destinations.get(upstream.url)).health).toMatchObject({
      inFlight: 2,
      permits: 2,
    });
    for (let i = 0; i < 4; i++) {
      await clock.advance(1_000);
      await settle();
    }
    expect(await other()).toBe(0);
    expect(upstream.requests).toHaveLength(2);
    // Stopping (the hanging attempts are aborted after the grace period) frees them at once.
    const stopped = sf.engine.stop();
    await clock.advance(1_000);
    await stopped;
    expect(await other()).toBe(2);
    expect((await sf.destinations.get(upstream.url)).health.permits).toBe(0);
  });

  it("fails a held call at its deadline rather than after it", async () => {
    h = await harness([{ status: 503 }], { destinations: BREAKER });
    const { sf, upstream, clock } = h;
    await openBreaker(h, upstream.url);
    const held = h.next("call:held");
    const call = await sf.fetch({ url: upstream.url, deadlineMs: 2_000 });
    expect((await held).runAt).toBe(clock.now() + 2_000);
    await clock.advance(2_000);
    expect(await call.result()).toMatchObject({
      status: "failed",
      error: { code: "deadline_exceeded" },
    });
    expect(upstream.requests).toHaveLength(3);
  });
});
