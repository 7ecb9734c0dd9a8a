import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { CallRecord } from "../../core/call.ts";
import { tenantId, type CallId } from "../../core/ids.ts";
import type { SendResult } from "../../core/transport.ts";
import { consecutiveFailures } from "../../resilience/breaker-strategies.ts";
import { SqliteStore } from "../../store/sqlite/sqlite-store.ts";
import { FakeClock } from "../../testing/fake-clock.ts";
import { SeededRandom } from "../../testing/seeded-random.ts";
import {
  DestinationGate,
  type Admission,
  type DestinationEvents,
  type DestinationGateOptions,
  type Ticket,
} from "./destination-gate.ts";
import type { DestinationSettings } from "./destination-settings.ts";
import { MAX_TENANT_PAUSES, parseProtectionState } from "./protection-state.ts";

const API = "https://api.example.com";
const T0 = Date.parse("2026-01-01T12:00:00Z");

let store: SqliteStore;
let clock: FakeClock;
let events: { name: keyof DestinationEvents; payload: unknown }[];
let woken: number[];

beforeEach(async () => {
  store = SqliteStore.open({ path: ":memory:" });
  await store.migrate();
  clock = new FakeClock(T0);
  events = [];
  woken = [];
});
afterEach(async () => {
  await store.close();
});

const SETTINGS: Partial<DestinationSettings> = {
  strategy: () => consecutiveFailures({ threshold: 3 }),
  openDurationMs: 5_000,
  openDurationJitter: 0,
  maxOpenDurationMs: 60_000,
};

function gate(
  settings: Partial<DestinationSettings> = {},
  options: Partial<DestinationGateOptions> = {},
): DestinationGate {
  return new DestinationGate({
    store,
    clock,
    random: new SeededRandom(3),
    owner: "worker-a",
    engineConcurrency: 10,
    settings: { ...SETTINGS, ...settings },
    events: { emit: (name, payload) => void events.push({ name, payload }) },
    onWake: (at) => void woken.push(at),
    ...options,
  });
}

let n = 0;
function call(overrides: Partial<CallRecord> = {}, url = `${API}/v1/orders`): CallRecord {
  n++;
  return {
    id: `call_${String(n).padStart(26, "0")}` as CallId,
    tenantId: tenantId("t"),
    kind: "call",
    status: "running",
    spec: {
      request: { url, method: "GET", headers: {} },
      retry: { maxAttempts: 5, backoff: "exponential", initialDelayMs: 1_000, maxDelayMs: 60_000 },
      timeout: { connectMs: 1_000, readMs: 1_000, totalMs: 5_000 },
    },
    forwardedKey: "k",
    attempts: 0,
    attemptBase: 0,
    crashesInARow: 0,
    createdAt: T0,
    updatedAt: T0,
    ...overrides,
  };
}

function response(status: number, headers: Record<string, string> = {}): SendResult {
  return {
    type: "response",
    status,
    headers,
    body: new Uint8Array(),
    bodyTruncated: false,
    bodyBytes: 0,
    timings: { startedAt: clock.now(), durationMs: 12 },
  };
}

/** The limits of the calls above (`call()`): long enough for a timeout to count. */
const LIMITS = { connectTimeoutMs: 1_000, readTimeoutMs: 1_000, totalTimeoutMs: 5_000 };

const refused: SendResult = {
  type: "error",
  code: "connect_refused",
  message: "ECONNREFUSED",
  sent: false,
  timings: { startedAt: T0, durationMs: 1 },
};

/** Admits `c` and, if let through, records `result` and releases it. */
async function attempt(g: DestinationGate, c: CallRecord, result: SendResult): Promise<Admission> {
  const admission = await g.admit(c, clock.now());
  if (admission.type === "proceed") {
    g.observe(admission.ticket, result, clock.now(), LIMITS);
    g.release(admission.ticket);
  }
  return admission;
}

async function admitAll(g: DestinationGate, count: number): Promise<Ticket[]> {
  const tickets: Ticket[] = [];
  for (let i = 0; i < count; i++) {
    const admission = await g.admit(call(), clock.now());
    if (admission.type !== "proceed") throw new Error(`call ${i} was held`);
    tickets.push(admission.ticket);
  }
  return tickets;
}

async function failTimes(g: DestinationGate, times: number): Promise<void> {
  for (let i = 0; i < times; i++) {
    expect((await attempt(g, call(), response(503))).type).toBe("proceed");
  }
  await g.idle();
}

/** Admits `c` without awaiting: `settled()` is the admission once there is one. */
function admitLater(g: DestinationGate, c: CallRecord = call(), signal?: AbortSignal) {
  let admission: Admission | undefined;
  const options = signal === undefined ? {} : { signal };
  const promise = Promise.resolve(g.admit(c, clock.now(), options)).then((a) => {
    admission = a;
    return a;
  });
  return { promise, settled: () => admission };
}

/** A permit request of holder `holder` on API at the fake clock's now (limit 3, lease 1 s). */
function ask(holder: string, wanted: number) {
  const now = clock.now();
  return { destination: API, holder, wanted, limit: 3, now, expiresAt: now + 1_000 };
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe("DestinationGate", () => {
  it("lets healthy calls through, counting those in flight", async () => {
    const g = gate();
    const first = await g.admit(call(), clock.now());
    const second = await g.admit(call(), clock.now());
    expect(first.type).toBe("proceed");
    expect(second.type).toBe("proceed");
    expect(g.list()[0]).toMatchObject({ destination: API, inFlight: 2, version: 0 });
    if (first.type === "proceed") g.release(first.ticket);
    expect(g.list()[0]?.inFlight).toBe(1);
    expect(await store.listDestinations()).toEqual([]);
  });

  it("opens after failures, holds calls until openUntil without sending, and saves the open", async () => {
    const g = gate();
    await failTimes(g, 3);
    const held = await g.admit(call(), clock.now());
    expect(held).toEqual({
      type: "hold",
      until: T0 + 5_000,
      waitingFor: {
        reason: "circuit_open",
        message:
          "circuit open for api.example.com:443 until 12:00:05Z (3 consecutive failures, threshold 3)",
        destination: API,
      },
    });
    expect(events.map((e) => e.name)).toEqual(["breaker:opened"]);
    const saved = await store.getDestination(API);
    expect(saved).toMatchObject({
      version: 1,
      state: { breaker: { state: "open", openUntil: T0 + 5_000 }, consecutiveOpens: 1 },
    });
  });

  it("counts a 4xx as a success and an aborted send as nothing", async () => {
    const g = gate();
    await attempt(g, call(), response(503));
    await attempt(g, call(), response(503));
    await attempt(g, call(), response(404));
    await attempt(g, call(), response(503));
    await attempt(g, call(), response(503));
    await attempt(g, call(), { ...refused, code: "aborted" });
    expect((await g.admit(call(), clock.now())).type).toBe("proceed");
    await attempt(g, call(), refused);
    expect((await g.admit(call(), clock.now())).type).toBe("hold");
  });

  it("learns nothing from outcomes that say nothing about the destination", async () => {
    const g = gate();
    const ours = (code: "invalid_request" | "blocked_destination" | "aborted"): SendResult => ({
      ...refused,
      code,
      timings: { startedAt: T0, durationMs: 30_000 },
    });
    const timedOut = (
      code: "connect_timeout" | "read_timeout" | "total_timeout",
      limits: typeof LIMITS,
    ) => ({ result: { ...refused, code, timings: { startedAt: T0, durationMs: 900 } }, limits });
    for (let i = 0; i < 10; i++) {
      for (const code of ["invalid_request", "blocked_destination", "aborted"] as const)
        await attempt(g, call(), ours(code));
      for (const { result, limits } of [
        timedOut("connect_timeout", { ...LIMITS, connectTimeoutMs: 100 }),
        timedOut("read_timeout", { ...LIMITS, readTimeoutMs: 999 }),
        timedOut("total_timeout", { ...LIMITS, totalTimeoutMs: 1 }),
      ]) {
        const admission = await g.admit(call({ attempts: 1 }), clock.now());
        expect(admission.type).toBe("proceed");
        if (admission.type !== "proceed") continue;
        g.observe(admission.ticket, result, clock.now(), limits);
        g.release(admission.ticket);
      }
    }
    const [info] = g.list();
    expect(info?.state.breaker.state).toBe("closed");
    // No request, failure or latency in the health figures; nothing spent of the retry budget.
    expect(info?.entry.health.snapshot(clock.now())).toEqual({
      windowMs: 60_000,
      requests: 0,
      failures: 0,
      errorRate: 0,
    });
    expect(info?.entry.budget.stats).toMatchObject({ requests: 0, retries: 0 });
    // The same timeouts with a limit of a second or more are the destination's: it opens.
    for (let i = 0; i < 3; i++) {
      const admission = await g.admit(call(), clock.now());
      if (admission.type !== "proceed") throw new Error("held before the breaker opened");
      g.observe(admission.ticket, timedOut("read_timeout", LIMITS).result, clock.now(), LIMITS);
      g.release(admission.ticket);
    }
    expect((await g.admit(call(), clock.now())).type).toBe("hold");
  });

  it("does not count a timeout shorter than the destination's typical answer time (issue 10)", async () => {
    const g = gate();
    /** One attempt of `c`, ending after `durationMs` with `result`, sent with `limits`. */
    const timed = async (
      result: SendResult,
      durationMs: number,
      limits: typeof LIMITS = LIMITS,
    ): Promise<void> => {
      const admission = await g.admit(call(), clock.now());
      if (admission.type !== "proceed") throw new Error("held");
      await clock.advance(durationMs);
      g.observe(
        admission.ticket,
        { ...result, timings: { startedAt: clock.now() - durationMs, durationMs } },
        clock.now(),
        limits,
      );
      g.release(admission.ticket);
    };
    const readTimeout: SendResult = { ...refused, code: "read_timeout", sent: true };
    // The destination usually takes 2 s to answer (tenant B's calls, say).
    for (let i = 0; i < 5; i++) await timed(response(200), 2_000);
    // Tenant A gives it 1 s: its timeouts say A is impatient, not that the destination fails.
    for (let i = 0; i < 10; i++)
      await timed(readTimeout, 1_000, { ...LIMITS, readTimeoutMs: 1_000 });
    const [info] = g.list();
    expect(info?.state.breaker.state).toBe("closed");
    expect(info?.entry.health.snapshot(clock.now())).toMatchObject({ requests: 5, failures: 0 });
    // A limit of at least the typical answer time that runs out is the destination's failure.
    for (let i = 0; i < 3; i++)
      await timed(readTimeout, 2_500, { ...LIMITS, readTimeoutMs: 2_500 });
    expect(g.list()[0]?.state.breaker.state).toBe("open");
  });

  it("counts timeouts from a second when the destination answered nothing lately", async () => {
    const g = gate();
    for (let i = 0; i < 3; i++) {
      const admission = await g.admit(call(), clock.now());
      if (admission.type !== "proceed") throw new Error("held");
      const result: SendResult = {
        ...refused,
        code: "read_timeout",
        timings: { startedAt: clock.now(), durationMs: 1_000 },
      };
      g.observe(admission.ticket, result, clock.now(), { ...LIMITS, readTimeoutMs: 1_000 });
      g.release(admission.ticket);
    }
    expect(g.list()[0]?.state.breaker.state).toBe("open");
  });

  it("gives a retry's budget back when it was not sent", async () => {
    // Two retries in the window at most.
    const g = gate({ retryBudgetRatio: 0, retryBudgetMinPerSecond: 0.2 });
    const retry = (): CallRecord => call({ attempts: 1 });
    for (let i = 0; i < 5; i++) {
      expect((await attempt(g, retry(), { ...refused, code: "invalid_request" })).type).toBe(
        "proceed",
      );
      // Admitted, then released without a send (its deadline passed meanwhile, say).
      const unsent = await g.admit(retry(), clock.now());
      expect(unsent.type).toBe("proceed");
      if (unsent.type === "proceed") g.release(unsent.ticket);
    }
    expect(g.list()[0]?.entry.budget.stats).toMatchObject({ retries: 0 });
    // Retries the destination answered spend it.
    expect((await attempt(g, retry(), response(503))).type).toBe("proceed");
    expect((await attempt(g, retry(), response(200))).type).toBe("proceed");
    expect(await g.admit(retry(), clock.now())).toMatchObject({
      type: "hold",
      waitingFor: { reason: "retry_budget_exhausted" },
    });
  });

  it("spends a retry's budget when it was sent, even when its health ignores the outcome (issue 10)", async () => {
    // Two retries in the window at most.
    const g = gate({ retryBudgetRatio: 0, retryBudgetMinPerSecond: 0.2 });
    const retry = (): CallRecord => call({ attempts: 1 });
    const sentTimeout: SendResult = {
      ...refused,
      code: "read_timeout",
      sent: true,
      timings: { startedAt: T0, durationMs: 200 },
    };
    // A tenant's 200 ms timeouts say nothing of the destination's health, but each retry loaded
    // it: two spend the budget, and the third retry waits for it.
    for (let i = 0; i < 2; i++) {
      const admission = await g.admit(retry(), clock.now());
      if (admission.type !== "proceed") throw new Error("held before the budget was spent");
      g.observe(admission.ticket, sentTimeout, clock.now(), { ...LIMITS, readTimeoutMs: 200 });
      g.release(admission.ticket);
    }
    const [info] = g.list();
    expect(info?.state.breaker.state).toBe("closed");
    expect(info?.entry.health.snapshot(clock.now())).toMatchObject({ requests: 0, failures: 0 });
    expect(await g.admit(retry(), clock.now())).toMatchObject({
      type: "hold",
      waitingFor: { reason: "retry_budget_exhausted" },
    });
  });

  it("elects exactly one probe among concurrent calls once openUntil passes", async () => {
    const g = gate();
    await failTimes(g, 3);
    await clock.advance(5_000);
    const admissions = await Promise.all(
      Array.from({ length: 10 }, () => Promise.resolve(g.admit(call(), clock.now()))),
    );
    const probes = admissions.filter((a) => a.type === "proceed");
    expect(probes).toHaveLength(1);
    for (const held of admissions.filter((a) => a.type === "hold")) {
      expect(held.waitingFor.reason).toBe("circuit_open");
      expect(held.waitingFor.message).toMatch(/half-open .* one probe is deciding/);
      expect(held.until).toBe(T0 + 5_000 + 6_000);
    }
    expect(await store.getDestination(API)).toMatchObject({
      version: 2,
      state: {
        breaker: { state: "half-open", owner: "worker-a", probeDeadline: T0 + 11_000 },
      },
    });
    expect(events.map((e) => e.name)).toEqual(["breaker:opened", "breaker:half-opened"]);
  });

  it("closes on a successful probe, and wakes the calls it held", async () => {
    const g = gate();
    await failTimes(g, 3);
    await clock.advance(5_000);
    const probe = await g.admit(call(), clock.now());
    if (probe.type !== "proceed") throw new Error("expected the probe");
    g.observe(probe.ticket, response(200), clock.now(), LIMITS);
    g.release(probe.ticket);
    await g.idle();
    await new Promise((resolve) => setImmediate(resolve));
    expect(g.list()[0]?.state).toEqual({ breaker: { state: "closed" }, consecutiveOpens: 0 });
    expect(await store.getDestination(API)).toMatchObject({
      version: 3,
      state: { breaker: { state: "closed" } },
    });
    expect(events.map((e) => e.name)).toEqual([
      "breaker:opened",
      "breaker:half-opened",
      "breaker:closed",
    ]);
    expect((await g.admit(call(), clock.now())).type).toBe("proceed");
  });

  it("re-opens for twice as long when the probe fails", async () => {
    const g = gate();
    await failTimes(g, 3);
    await clock.advance(5_000);
    const probe = await attempt(g, call(), refused);
    expect(probe.type).toBe("proceed");
    await g.idle();
    const state = g.list()[0]!.state;
    expect(state.consecutiveOpens).toBe(2);
    expect(state.breaker).toMatchObject({
      state: "open",
      openedAt: T0 + 5_000,
      openUntil: T0 + 15_000,
      reason: { strategy: "half-open-probe-failed" },
    });
    const held = await g.admit(call(), clock.now());
    expect(held).toMatchObject({ type: "hold", until: T0 + 15_000 });
  });

  it("probes again at once when a probe ends without a verdict", async () => {
    const g = gate();
    await failTimes(g, 3);
    await clock.advance(5_000);
    const probe = await g.admit(call(), clock.now());
    if (probe.type !== "proceed") throw new Error("expected the probe");
    g.observe(probe.ticket, { ...refused, code: "aborted" }, clock.now(), LIMITS);
    g.release(probe.ticket);
    await g.idle();
    expect(g.list()[0]?.state.breaker).toMatchObject({ state: "open", openUntil: T0 + 5_000 });
    expect((await g.admit(call(), clock.now())).type).toBe("proceed");
  });

  it("lets only one of two processes sharing the store send the probe", async () => {
    const a = gate();
    const b = gate({}, { owner: "worker-b" });
    await failTimes(a, 3);
    await b.refresh();
    await clock.advance(5_000);
    const [fromA, fromB] = await Promise.all([
      a.admit(call(), clock.now()),
      b.admit(call(), clock.now()),
    ]);
    expect([fromA.type, fromB.type].sort()).toEqual(["hold", "proceed"]);
    const saved = await store.getDestination(API);
    const winner = fromA.type === "proceed" ? "worker-a" : "worker-b";
    expect(saved?.state).toMatchObject({ breaker: { state: "half-open", owner: winner } });
  });

  it("replaces a probe whose process died once its deadline passes", async () => {
    const a = gate();
    await failTimes(a, 3);
    await clock.advance(5_000);
    expect((await a.admit(call(), clock.now())).type).toBe("proceed");
    // Process a dies with its probe in flight; process b starts on the same store.
    const b = gate({}, { owner: "worker-b" });
    await b.load();
    expect((await b.admit(call(), clock.now())).type).toBe("hold");
    await clock.advance(6_000);
    expect((await b.admit(call(), clock.now())).type).toBe("proceed");
    expect((await store.getDestination(API))?.state).toMatchObject({
      breaker: { state: "half-open", owner: "worker-b" },
    });
  });

  it("restores an open breaker, a pause and limits in a new process", async () => {
    const g = gate();
    const tickets = await admitAll(g, 4);
    for (const ticket of tickets.slice(0, 3)) g.observe(ticket, response(503), clock.now(), LIMITS);
    g.observe(tickets[3]!, response(503, { "retry-after": "30" }), clock.now(), LIMITS);
    await g.setLimits(API, { maxConcurrency: 3 });
    await g.idle();
    const restarted = gate();
    await restarted.load();
    const [info] = restarted.list();
    expect(info?.limits).toEqual({ maxConcurrency: 3 });
    expect(info?.state.breaker).toMatchObject({ state: "open", openUntil: T0 + 5_000 });
    expect(info?.state.pause?.until).toBe(T0 + 30_000);
  });

  it("pauses the whole destination on a 503 with Retry-After, capped at maxPauseMs", async () => {
    const g = gate({ maxPauseMs: 20_000 });
    await attempt(g, call(), response(503, { "retry-after": "30" }));
    const held = await g.admit(call(), clock.now());
    expect(held).toEqual({
      type: "hold",
      until: T0 + 20_000,
      waitingFor: {
        reason: "destination_paused",
        message:
          "api.example.com:443 paused until 12:00:20Z (status 503 with Retry-After 30 s, capped at 20 s)",
        destination: API,
      },
    });
    // Every tenant's calls.
    expect(await g.admit(call({ tenantId: tenantId("other") }), clock.now())).toMatchObject({
      type: "hold",
      until: T0 + 20_000,
    });
    await g.idle();
    expect(events.map((e) => e.name)).toEqual(["destination:paused"]);
    expect((await store.getDestination(API))?.state).toMatchObject({
      pause: { until: T0 + 20_000 },
    });
    // Other destinations are not paused.
    expect((await g.admit(call({}, "http://127.0.0.1:9/x"), clock.now())).type).toBe("proceed");
    await clock.advance(20_000);
    expect((await g.admit(call(), clock.now())).type).toBe("proceed");
  });

  describe("a 429 pauses only the calls of the tenant that got it (issue 10)", () => {
    const A = tenantId("tenant-a");
    const B = tenantId("tenant-b");
    const epochSeconds = (ms: number) => String(Math.floor(ms / 1_000));

    for (const [name, headers, reason] of [
      ["Retry-After", { "retry-after": "30" }, "status 429 with Retry-After 30 s"],
      [
        "X-RateLimit-Reset",
        { "x-ratelimit-remaining": "0", "x-ratelimit-reset": epochSeconds(T0 + 30_000) },
        "status 429 with rate-limit reset 30 s",
      ],
      ["RateLimit", { ratelimit: '"hour";r=0;t=30' }, "status 429 with rate-limit reset 30 s"],
    ] as const) {
      it(`on ${name}: the tenant's calls wait, other tenants' go at once, the breaker learns nothing`, async () => {
        const g = gate();
        await attempt(g, call({ tenantId: A }), response(429, headers));
        expect(await g.admit(call({ tenantId: A }), clock.now())).toEqual({
          type: "hold",
          until: T0 + 30_000,
          waitingFor: {
            reason: "destination_paused",
            message: `api.example.com:443 paused for this tenant's calls until 12:00:30Z (${reason}); other tenants' calls go on`,
            destination: API,
          },
        });
        // Tenant B: at once, again and again; the 429 counted as neither failure nor success.
        for (let i = 0; i < 5; i++)
          expect((await attempt(g, call({ tenantId: B }), response(200))).type).toBe("proceed");
        const [info] = g.list();
        expect(info?.state).toMatchObject({ breaker: { state: "closed" } });
        expect(info?.state.pause).toBeUndefined();
        expect(info?.entry.health.snapshot(clock.now())).toMatchObject({ requests: 5 });
        await g.idle();
        expect(events).toEqual([
          {
            name: "tenant:paused",
            payload: { destination: API, tenantId: "tenant-a", until: T0 + 30_000, reason },
          },
        ]);
        // Shared by the fleet: another process holds A's calls, not B's.
        const other = gate({}, { owner: "worker-b" });
        await other.load();
        expect(await other.admit(call({ tenantId: A }), clock.now())).toMatchObject({
          type: "hold",
          until: T0 + 30_000,
        });
        expect((await other.admit(call({ tenantId: B }), clock.now())).type).toBe("proceed");
        await clock.advance(30_000);
        expect((await g.admit(call({ tenantId: A }), clock.now())).type).toBe("proceed");
      });
    }

    it("counts 429s neither against the breaker nor the retry budget", async () => {
      // Two retries in the window at most; the breaker opens on 3 failures in a row.
      const g = gate({ retryBudgetRatio: 0, retryBudgetMinPerSecond: 0.2 });
      for (let i = 0; i < 10; i++) {
        const retry = call({ tenantId: A, attempts: 1 });
        expect((await attempt(g, retry, response(429))).type).toBe("proceed");
      }
      const [info] = g.list();
      expect(info?.state.breaker.state).toBe("closed");
      expect(info?.entry.budget.stats).toMatchObject({ requests: 0, retries: 0 });
      // Tenant B's retries still have the budget.
      expect((await attempt(g, call({ tenantId: B, attempts: 1 }), response(503))).type).toBe(
        "proceed",
      );
    });

    it("pauses only the tenant on a 503 whose wait comes from rate-limit headers", async () => {
      const g = gate();
      await attempt(g, call({ tenantId: A }), response(503, { "x-ratelimit-reset": "10" }));
      expect(await g.admit(call({ tenantId: A }), clock.now())).toMatchObject({
        type: "hold",
        until: T0 + 10_000,
      });
      expect((await g.admit(call({ tenantId: B }), clock.now())).type).toBe("proceed");
    });

    it("keeps the pauses of at most MAX_TENANT_PAUSES tenants, shedding ended ones", async () => {
      const g = gate({ strategy: () => consecutiveFailures({ threshold: 1_000 }) });
      for (let i = 0; i < MAX_TENANT_PAUSES + 20; i++) {
        const seconds = String(10 + i);
        await attempt(
          g,
          call({ tenantId: tenantId(`t${i}`) }),
          response(429, { "retry-after": seconds }),
        );
      }
      await g.idle();
      const saved = parseProtectionState((await store.getDestination(API))?.state);
      expect(saved?.tenantPauses).toHaveLength(MAX_TENANT_PAUSES);
      // The longest pauses are kept; the tenants whose pause would end soonest go again.
      expect((await g.admit(call({ tenantId: tenantId("t0") }), clock.now())).type).toBe("proceed");
      expect((await g.admit(call({ tenantId: tenantId("t119") }), clock.now())).type).toBe("hold");
      // Once they ended, the next pause sheds them all.
      await clock.advance(200_000);
      await attempt(g, call({ tenantId: A }), response(429, { "retry-after": "5" }));
      await g.idle();
      expect(parseProtectionState((await store.getDestination(API))?.state)?.tenantPauses).toEqual([
        {
          tenant: "tenant-a",
          until: clock.now() + 5_000,
          reason: "status 429 with Retry-After 5 s",
        },
      ]);
    });

    it("ends with an operator's reset", async () => {
      const g = gate();
      await attempt(g, call({ tenantId: A }), response(429, { "retry-after": "30" }));
      await g.reset(API);
      expect((await g.admit(call({ tenantId: A }), clock.now())).type).toBe("proceed");
      expect((await store.getDestination(API))?.state).toEqual({
        breaker: { state: "closed" },
        consecutiveOpens: 0,
      });
    });
  });

  it("saves one pause for many answers asking for about the same one", async () => {
    const g = gate({ strategy: () => consecutiveFailures({ threshold: 100 }) });
    // All five were in flight before the first answer came back.
    for (const ticket of await admitAll(g, 5)) {
      await clock.advance(100);
      g.observe(ticket, response(503, { "retry-after": "10" }), clock.now(), LIMITS);
    }
    await g.idle();
    expect(events.filter((e) => e.name === "destination:paused")).toHaveLength(1);
    expect((await store.getDestination(API))?.version).toBe(1);
  });

  it("spaces calls to the rate limit: near slots are waited for in memory, far ones held", async () => {
    const g = gate();
    await g.setLimits(API, { rateLimitPerSecond: 2 });
    const calls = Array.from({ length: 5 }, () => call());
    const admissions = calls.map((c) => admitLater(g, c));
    // Slots at 0 and 0 (the burst), 500, 1,000 and 1,500 ms.
    expect((await admissions[0]!.promise).type).toBe("proceed");
    expect((await admissions[1]!.promise).type).toBe("proceed");
    // More than a second away: held in the store until its slot, which stays its own.
    expect(await admissions[4]!.promise).toMatchObject({
      type: "hold",
      until: T0 + 1_500,
      waitingFor: {
        reason: "rate_limited",
        message: "rate limit 2/s for api.example.com:443: next slot at 12:00:01.500Z",
      },
    });
    // Nearer: each waits in memory, counted in flight, and goes at its slot.
    await clock.advance(499);
    expect(admissions[2]!.settled()).toBeUndefined();
    expect(g.list()[0]?.inFlight).toBe(4);
    await clock.advance(1);
    expect((await admissions[2]!.promise).type).toBe("proceed");
    await clock.advance(500);
    expect((await admissions[3]!.promise).type).toBe("proceed");
    // A newcomer queues behind the reserved slots: 2,000 ms, half a second on, waited for.
    const newcomer = admitLater(g);
    await tick();
    expect(newcomer.settled()).toBeUndefined();
    // The engine stops: the wait ends with a hold until its slot.
    g.shedQueued();
    expect(await newcomer.promise).toMatchObject({ type: "hold", until: T0 + 2_000 });
    // At 1,500 the held call is claimed by another process, which sends it on the slot it
    // carries (held rate_limited until then) rather than taking another; a call of its own
    // gets the next free slot of the shared schedule.
    await clock.advance(500);
    const other = gate({}, { owner: "worker-b" });
    await other.load();
    const back = { ...calls[4]!, runAt: T0 + 1_500 };
    expect((await other.admit(back, clock.now(), { heldFor: "rate_limited" })).type).toBe(
      "proceed",
    );
    const own = admitLater(other);
    await tick();
    other.shedQueued();
    expect(await own.promise).toMatchObject({ type: "hold", until: T0 + 2_500 });
    // The slot a call waited for in memory is spent once it went: the same call admitted again
    // (a retry, a lost lease) gets a new one.
    expect(await g.admit(calls[2]!, clock.now())).toMatchObject({
      type: "hold",
      until: T0 + 3_000,
    });
  });

  it("holds calls over maxConcurrency, and by default over half the engine's slots", async () => {
    const g = gate({ maxQueueWaitMs: 0 });
    const tickets = [];
    for (let i = 0; i < 5; i++) {
      const admission = await g.admit(call(), clock.now());
      expect(admission.type).toBe("proceed");
      if (admission.type === "proceed") tickets.push(admission.ticket);
    }
    const held = await g.admit(call(), clock.now());
    expect(held).toMatchObject({
      type: "hold",
      waitingFor: {
        reason: "concurrency_limited",
        message:
          "api.example.com:443 has 5 attempts in flight, its share of this engine's slots (5)",
      },
    });
    await g.setLimits(API, { maxConcurrency: 6 });
    expect((await g.admit(call(), clock.now())).type).toBe("proceed");
    expect(await g.admit(call(), clock.now())).toMatchObject({
      waitingFor: {
        message: expect.stringContaining(
          "its limit (maxConcurrency 6, shared by every process)",
        ) as string,
      },
    });
    g.release(tickets[0]!);
    expect((await g.admit(call(), clock.now())).type).toBe("proceed");
    // A ticket released twice (when its exchange ends, then in a finally) frees one slot.
    g.release(tickets[1]!);
    g.release(tickets[1]!);
    expect((await g.admit(call(), clock.now())).type).toBe("proceed");
    expect((await g.admit(call(), clock.now())).type).toBe("hold");
  });

  it("queues calls held for a slot at the pace slots free up, not all at once", async () => {
    const g = gate({ maxQueueWaitMs: 0 });
    await g.setLimits(API, { maxConcurrency: 2 });
    const [first] = await admitAll(g, 2);
    // Nothing has finished yet: a slot is expected every 1 s / 2.
    const untils = [];
    for (let i = 0; i < 3; i++) {
      const held = await g.admit(call(), clock.now());
      untils.push(held.type === "hold" ? held.until - T0 : 0);
    }
    expect(untils).toEqual([500, 1_000, 1_500]);
    // A slot frees up and the first queued call goes ahead: the queue is one shorter.
    g.release(first!);
    await clock.advance(500);
    expect((await g.admit(call(), clock.now())).type).toBe("proceed");
    const after = await g.admit(call(), clock.now());
    expect(after).toMatchObject({ type: "hold", until: T0 + 1_500 });
    // Once latencies are known (about 12 ms here), the pace follows them: about 6 ms per slot.
    const other = gate({ maxQueueWaitMs: 0 }, { owner: "worker-b" });
    await other.setLimits("https://b.example", { maxConcurrency: 2 });
    const b = (): CallRecord => call({}, "https://b.example/x");
    for (let i = 0; i < 3; i++) await attempt(other, b(), response(200));
    await other.admit(b(), clock.now());
    await other.admit(b(), clock.now());
    const next = await other.admit(b(), clock.now());
    expect(next.type).toBe("hold");
    if (next.type === "hold") {
      expect(next.until - clock.now()).toBeGreaterThanOrEqual(5);
      expect(next.until - clock.now()).toBeLessThanOrEqual(7);
    }
  });

  it("holds retries over the retry budget, never first attempts", async () => {
    const g = gate({ retryBudgetRatio: 0, retryBudgetMinPerSecond: 0.2 });
    const retry = (): CallRecord => call({ attempts: 1 });
    expect((await attempt(g, retry(), response(200))).type).toBe("proceed");
    expect((await attempt(g, retry(), response(200))).type).toBe("proceed");
    const held = await g.admit(retry(), clock.now());
    expect(held).toMatchObject({
      type: "hold",
      waitingFor: {
        reason: "retry_budget_exhausted",
        message: expect.stringContaining(
          "retry budget of api.example.com:443 spent: 2 retries",
        ) as string,
      },
    });
    expect((await attempt(g, call(), response(200))).type).toBe("proceed");
    // A redriven call's first attempt is a first attempt again.
    expect((await attempt(g, call({ attempts: 3, attemptBase: 3 }), response(200))).type).toBe(
      "proceed",
    );
    await clock.advance(10_000);
    expect((await attempt(g, retry(), response(200))).type).toBe("proceed");
  });

  it("does not count an attempt resumed after a takeover as a retry (issue 10, item 10)", async () => {
    const g = gate({ retryBudgetRatio: 0, retryBudgetMinPerSecond: 0.2 });
    // A process died with more calls in flight than the budget allows retries: all go at once.
    for (let i = 0; i < 5; i++) {
      const admission = await g.admit(call({ attempts: 1 }), clock.now(), { takenOver: true });
      expect(admission.type).toBe("proceed");
      if (admission.type === "proceed") g.release(admission.ticket);
    }
    // And they used none of the budget: retries still go.
    expect((await attempt(g, call({ attempts: 1 }), response(200))).type).toBe("proceed");
    expect((await attempt(g, call({ attempts: 1 }), response(200))).type).toBe("proceed");
    expect((await g.admit(call({ attempts: 1 }), clock.now())).type).toBe("hold");
  });

  it("holds a call no later than its deadline, and lets a call past it through", async () => {
    const g = gate();
    await failTimes(g, 3);
    const soon = await g.admit(call({ deadlineAt: T0 + 2_000 }), clock.now());
    expect(soon).toMatchObject({ type: "hold", until: T0 + 2_000 });
    await clock.advance(2_000);
    expect((await g.admit(call({ deadlineAt: T0 + 2_000 }), clock.now())).type).toBe("proceed");
  });

  it("resets: closes the breaker, ends the pause, and wakes held calls", async () => {
    const g = gate();
    await failTimes(g, 3);
    await attempt(g, call(), response(503, { "retry-after": "30" }));
    await g.idle();
    const info = await g.reset(API);
    expect(info.state).toEqual({ breaker: { state: "closed" }, consecutiveOpens: 0 });
    expect((await store.getDestination(API))?.state).toEqual(info.state);
    expect(events.map((e) => e.name)).toContain("destination:reset");
    expect((await g.admit(call(), clock.now())).type).toBe("proceed");
  });

  it("sets and removes limits, saved before it resolves", async () => {
    const g = gate();
    const set = await g.setLimits(API, { rateLimitPerSecond: 5, maxConcurrency: 2 });
    expect(set.limits).toEqual({ rateLimitPerSecond: 5, maxConcurrency: 2 });
    expect((await store.getDestination(API))?.limits).toEqual(set.limits);
    const removed = await g.setLimits(API, { rateLimitPerSecond: null });
    expect(removed.limits).toEqual({ maxConcurrency: 2 });
    expect(await store.getDestination(API)).toMatchObject({
      version: 2,
      limits: { maxConcurrency: 2 },
    });
  });

  it("adopts changes saved by another process at the next refresh", async () => {
    const a = gate({ maxQueueWaitMs: 0 });
    const b = gate({}, { owner: "worker-b" });
    await a.load();
    await b.setLimits(API, { maxConcurrency: 1 });
    const first = await a.admit(call(), clock.now());
    expect(first.type).toBe("proceed");
    expect((await a.admit(call(), clock.now())).type).toBe("proceed");
    await a.refresh();
    expect((await a.admit(call(), clock.now())).type).toBe("hold");
  });

  describe("maxConcurrency held by the fleet", () => {
    /** Two processes sharing the store, both knowing a limit of 3 (leases of 1 s). */
    async function twoProcesses(): Promise<[DestinationGate, DestinationGate]> {
      const a = gate({ maxQueueWaitMs: 0 }, { leaseMs: 1_000 });
      const b = gate({ maxQueueWaitMs: 0 }, { owner: "worker-b", leaseMs: 1_000 });
      await a.setLimits(API, { maxConcurrency: 3 });
      await b.load();
      return [a, b];
    }

    it("lets two processes together send no more than the limit, and moves unused permits", async () => {
      const [a, b] = await twoProcesses();
      const tickets = await admitAll(a, 3);
      // Held for whichever process claims it next: b has seen no latency of its own, so the
      // call comes back at the pace b may ask for permits again (50 ms / 3 per call held).
      expect(await b.admit(call(), clock.now())).toMatchObject({
        type: "hold",
        until: clock.now() + 17,
        waitingFor: {
          reason: "concurrency_limited",
          message:
            "api.example.com:443 is at its limit (maxConcurrency 3, shared by every process): 0 attempts in flight in this one",
        },
      });
      // Two of a's attempts end; the permits they used go back once unused for a linger or two.
      a.release(tickets[0]!);
      a.release(tickets[1]!);
      await clock.advance(400);
      await a.idle();
      expect((await admitAll(b, 2)).length).toBe(2);
      expect((await b.admit(call(), clock.now())).type).toBe("hold");
      // a still holds the permit in use, and has no other.
      expect(await a.admit(call(), clock.now())).toMatchObject({ type: "hold" });
      expect((await store.holdPermits(ask("worker-c", 3))).granted).toBe(0);
    });

    it("keeps permits in use while they are renewed, and lets a dead process's lapse", async () => {
      const [a, b] = await twoProcesses();
      await admitAll(a, 3);
      await clock.advance(900);
      await a.renewPermits();
      await clock.advance(500);
      expect((await b.admit(call(), clock.now())).type).toBe("hold");
      // a stops renewing (it died): its permits are free once its lease ends.
      await clock.advance(500);
      expect((await admitAll(b, 3)).length).toBe(3);
    });

    it("gives every permit back when its engine stops", async () => {
      const [a, b] = await twoProcesses();
      await admitAll(a, 3);
      await a.returnPermits();
      await clock.advance(50);
      expect((await admitAll(b, 3)).length).toBe(3);
    });

    it("gives back what it stops using beyond its fair share while another process waits", async () => {
      const a = gate({ maxQueueWaitMs: 1_000 }, { leaseMs: 1_000 });
      const b = gate({ maxQueueWaitMs: 0 }, { owner: "worker-b", leaseMs: 1_000 });
      await a.setLimits(API, { maxConcurrency: 3 });
      await b.load();
      const tickets = await admitAll(a, 3);
      const waiting = admitLater(a);
      await tick();
      // b asks and gets none: it now counts as waiting for its share (3 between two: 2).
      expect((await b.admit(call(), clock.now())).type).toBe("hold");
      // a, all its permits in use and a call waiting, checks in when an attempt ends, and learns
      // the share; the waiting call takes the freed slot.
      await clock.advance(200);
      a.release(tickets[0]!);
      expect((await waiting.promise).type).toBe("proceed");
      await a.idle();
      // The next attempt to end gives its permit back instead of keeping it.
      a.release(tickets[1]!);
      await a.idle();
      expect((await b.admit(call(), clock.now())).type).toBe("proceed");
      expect((await b.admit(call(), clock.now())).type).toBe("hold");
      expect((await store.holdPermits(ask("worker-c", 3))).granted).toBe(0);
    });

    it("asks the store only when its permits are all in use, not for every call", async () => {
      const [a] = await twoProcesses();
      const asked: number[] = [];
      const holdPermits = store.holdPermits.bind(store);
      store.holdPermits = (request) => {
        asked.push(request.wanted);
        return holdPermits(request);
      };
      // The first call takes what it needs and a quarter of the limit more (rounded up).
      const [first] = await admitAll(a, 2);
      expect(asked).toEqual([2]);
      a.release(first!);
      await admitAll(a, 1);
      expect(asked).toEqual([2]);
      // All in use: the next call asks for one more.
      await admitAll(a, 1);
      expect(asked).toEqual([2, 3]);
    });
  });

  describe("a call claimed at the concurrency limit", () => {
    const waiting = (g: DestinationGate): number => g.list()[0]?.entry.slotQueue.length ?? 0;

    it("waits in memory, without a write, and goes when a slot frees", async () => {
      const g = gate();
      await g.setLimits(API, { maxConcurrency: 2 });
      const [first, second] = await admitAll(g, 2);
      const third = admitLater(g);
      const fourth = admitLater(g);
      await tick();
      expect(third.settled()).toBeUndefined();
      expect(waiting(g)).toBe(2);
      g.release(first!);
      expect(await third.promise).toMatchObject({ type: "proceed" });
      await tick();
      expect(fourth.settled()).toBeUndefined();
      g.release(second!);
      expect(await fourth.promise).toMatchObject({ type: "proceed" });
      expect(g.list()[0]).toMatchObject({ inFlight: 2 });
      expect(waiting(g)).toBe(0);
      expect(await store.getDestination(API)).toMatchObject({ version: 1 });
    });

    it("is held in the store once it has waited maxQueueWaitMs", async () => {
      const g = gate({ maxQueueWaitMs: 100 });
      await g.setLimits(API, { maxConcurrency: 2 });
      await admitAll(g, 2);
      const third = admitLater(g);
      await clock.advance(99);
      expect(third.settled()).toBeUndefined();
      await clock.advance(1);
      expect(await third.promise).toMatchObject({
        type: "hold",
        waitingFor: { reason: "concurrency_limited", destination: API },
      });
      expect(waiting(g)).toBe(0);
    });

    it("is held at once when the destination finished nothing for maxQueueWaitMs", async () => {
      const g = gate({ maxQueueWaitMs: 100 });
      await g.setLimits(API, { maxConcurrency: 2 });
      const [first] = await admitAll(g, 2);
      await clock.advance(101);
      expect(await g.admit(call(), clock.now())).toMatchObject({
        type: "hold",
        waitingFor: { reason: "concurrency_limited" },
      });
      // An attempt ends: the destination is making progress again, and the next call may wait.
      g.release(first!);
      expect((await g.admit(call(), clock.now())).type).toBe("proceed");
      const next = admitLater(g);
      await tick();
      expect(next.settled()).toBeUndefined();
      g.shedQueued();
      expect(await next.promise).toMatchObject({ type: "hold", until: clock.now() + 1 });
    });

    it("waits only when the calls ahead should be through in maxQueueWaitMs", async () => {
      const g = gate({ maxQueueWaitMs: 100 });
      await g.setLimits(API, { maxConcurrency: 2 });
      const slow: SendResult = { ...response(200), timings: { startedAt: T0, durationMs: 200 } };
      for (let i = 0; i < 3; i++) await attempt(g, call(), slow);
      await admitAll(g, 2);
      // About 200 ms each, 2 at a time: the first in line waits about 100 ms, the next 200 ms.
      const first = admitLater(g);
      await tick();
      expect(first.settled()).toBeUndefined();
      expect((await g.admit(call(), clock.now())).type).toBe("hold");
      g.shedQueued();
      await first.promise;
    });

    it("waits with no more calls than the engine has slots beyond the destination's", async () => {
      // Engine of 10, default share 5: at most 5 wait, so others' calls always find slots.
      const g = gate();
      await admitAll(g, 5);
      const queued = Array.from({ length: 5 }, () => admitLater(g));
      await tick();
      expect(waiting(g)).toBe(5);
      expect(await g.admit(call(), clock.now())).toMatchObject({
        type: "hold",
        waitingFor: { reason: "concurrency_limited" },
      });
      g.shedQueued();
      for (const q of queued) expect((await q.promise).type).toBe("hold");
    });

    it("is held when its claim is aborted (lease lost, engine stopping)", async () => {
      const g = gate();
      await g.setLimits(API, { maxConcurrency: 1 });
      await admitAll(g, 1);
      const controller = new AbortController();
      const queued = admitLater(g, call(), controller.signal);
      await tick();
      expect(waiting(g)).toBe(1);
      controller.abort();
      expect((await queued.promise).type).toBe("hold");
      expect(waiting(g)).toBe(0);
    });

    it("goes when its limit is raised", async () => {
      const g = gate();
      await g.setLimits(API, { maxConcurrency: 1 });
      await admitAll(g, 1);
      const queued = admitLater(g);
      await tick();
      await g.setLimits(API, { maxConcurrency: 2 });
      expect((await queued.promise).type).toBe("proceed");
    });
  });
});
