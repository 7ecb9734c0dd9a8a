import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { WorkerId } from "../core/ids.ts";
import type { Store, WorkerRegistration } from "../core/store.ts";
import { harness, settle, type Harness } from "./engine-harness.test-support.ts";
import { createDestinationGuard } from "../http/destination-guard.ts";
import { UndiciTransport } from "../http/undici-transport.ts";
import { SeededRandom } from "../testing/seeded-random.ts";
import { Engine } from "./engine.ts";
import { currentProcessProbe } from "./process-probe.ts";
import { tenantId } from "../core/ids.ts";
import { CallFactory, SPEC } from "../store/contract/fixtures.ts";
import { SqliteStore } from "../store/sqlite/sqlite-store.ts";

let h: Harness | undefined;
afterEach(async () => {
  await h?.cleanup();
  h = undefined;
});

const LEASE_MS = 60_000;
/** The harness's fake clock starts here. */
const T0 = Date.parse("2026-01-01T00:00:00Z");
/** Harness options of the tests that time the looks (see `registered`). */
const TIMED = {
  startEngine: false,
  leaseMs: LEASE_MS,
  sqliteSynchronous: "NORMAL",
  liveness: true,
} as const;
const DEAD = "worker_dead" as WorkerId;

/** Registers `id` as `process` and claims every due call for it, as a process that then died. */
async function claimAs(
  store: Store,
  now: number,
  id: WorkerId,
  process: Omit<WorkerRegistration, "id">,
): Promise<void> {
  await store.registerWorker({ id, ...process }, now, 0);
  await store.claimDue({ now, limit: 100, leaseMs: LEASE_MS, workerId: id });
}

/** A pid no process has: a child's, once it has exited. */
function exitedPid(): number {
  return spawnSync(process.execPath, ["-e", ""]).pid;
}

/**
 * Waits, without moving the clock, until `id` has registered and looked at the others once.
 * With `synchronous: NORMAL` (`TIMED`) a write is acknowledged as soon as it is visible; with
 * FULL, the fsync after it takes real time, and advancing meanwhile would move the first look.
 */
async function registered(store: Store, id: WorkerId): Promise<void> {
  while (!(await store.listWorkers()).some((w) => w.id === id)) await settle();
  await settle();
}

/**
 * Advances the fake clock in quarter-heartbeat steps until `done`, or throws after `limitMs`;
 * resolves with the fake time it took.
 */
async function advanceUntil(
  h: Harness,
  done: () => Promise<boolean>,
  limitMs: number,
): Promise<number> {
  const start = h.clock.now();
  while (!(await done())) {
    if (h.clock.now() - start > limitMs) throw new Error(`not done within ${limitMs} ms`);
    await h.clock.advance(250);
    await settle();
  }
  return h.clock.now() - start;
}

describe("engine liveness: taking over a dead process's calls", () => {
  it("takes over at once, at start, the calls of a process gone from this host, and records the attempt it cut off", async () => {
    h = await harness([{ status: 200 }], { startEngine: false, leaseMs: LEASE_MS, liveness: true });
    const { sf, clock, upstream } = h;
    const self = currentProcessProbe().self;
    // maxAttempts 1: the crash's cut-off attempt is not counted against it (core/interruption.ts).
    const call = await sf.fetch({ url: upstream.url, retry: { maxAttempts: 1 } });
    // The dead process had this very pid before us (a restarted container's pid 1).
    await claimAs(sf.store, clock.now(), DEAD, { ...self, startedAt: self.startedAt - 1 });

    sf.engine.start();
    // No time passes: the first look after registering finds the dead process.
    expect(await call.result()).toMatchObject({ status: "succeeded", attempts: 2 });
    expect((await call.attempts()).map((a) => [a.outcome, a.sent, a.decision.type])).toEqual([
      [expect.objectContaining({ type: "interrupted", code: "process_ended" }), "unknown", "retry"],
      [{ type: "response", status: 200 }, true, "succeed"],
    ]);
    expect(clock.now()).toBe(Date.parse("2026-01-01T00:00:00Z"));
  });

  it("takes over at start the calls of a process whose pid no longer exists here", async () => {
    h = await harness([{ status: 200 }], { startEngine: false, leaseMs: LEASE_MS, liveness: true });
    const { sf, clock, upstream } = h;
    const call = await sf.fetch({ url: upstream.url });
    await claimAs(sf.store, clock.now(), DEAD, {
      ...currentProcessProbe().self,
      pid: exitedPid(),
    });
    sf.engine.start();
    expect(await call.result()).toMatchObject({ status: "succeeded", attempts: 2 });
    expect(clock.now()).toBe(Date.parse("2026-01-01T00:00:00Z"));
    expect((await sf.store.listWorkers()).map((w) => w.id)).toEqual([sf.engine.workerId]);
  });

  it("takes over the calls of a process elsewhere once its heartbeat stops for workerTimeoutMs, and never a live one's", async () => {
    h = await harness(() => "hang", TIMED);
    const { sf, clock, upstream } = h;
    const elsewhere = { host: "another-host", pid: 4242, startedAt: clock.now() - 60_000 };
    const silent = await sf.fetch({ url: `${upstream.url}/silent` });
    await claimAs(sf.store, clock.now(), DEAD, elsewhere);
    const alive = "worker_alive" as WorkerId;
    const beating = await sf.fetch({ url: `${upstream.url}/beating` });
    await claimAs(sf.store, clock.now(), alive, { ...elsewhere, pid: 4343 });

    sf.engine.start();
    await registered(sf.store, sf.engine.workerId);
    // Until the engine finds the silent one dead (it is then no longer listed).
    const elapsedMs = await advanceUntil(
      h,
      async () => {
        // The live one heartbeats on its own clock (here the same), every 250 ms.
        await sf.store.heartbeatWorker(alive, clock.now());
        return !(await sf.store.listWorkers()).some((w) => w.id === DEAD);
      },
      LEASE_MS / 2,
    );
    // Found dead after workerTimeoutMs (5 s), within a heartbeat interval: not the 60 s lease.
    expect(elapsedMs).toBeGreaterThanOrEqual(5_000);
    expect(elapsedMs).toBeLessThanOrEqual(6_000);
    // Its call is taken over at once (due now: no more time needs to pass).
    await upstream.waitForRequests(1);
    expect(upstream.requests.map((r) => r.path)).toEqual(["/silent"]);
    expect((await silent.call()).attempts).toBe(1);
    // The live worker keeps its claim however long it runs.
    for (let i = 0; i < 40; i++) {
      await sf.store.heartbeatWorker(alive, clock.now());
      await clock.advance(250);
      await settle();
    }
    expect(upstream.requests.map((r) => r.path)).toEqual(["/silent"]);
    expect(await beating.status()).toBe("running");
    expect((await sf.store.listWorkers()).map((w) => w.id).sort()).toEqual(
      [alive, sf.engine.workerId].sort(),
    );
  });

  it("measures another worker's silence on the monotonic clock: a wall clock stepped forward does not find a live one dead early", async () => {
    h = await harness([{ status: 200 }], TIMED);
    const { sf, clock } = h;
    const elsewhere = { host: "another-host", pid: 4242, startedAt: clock.now() - 60_000 };
    await sf.store.registerWorker({ id: DEAD, ...elsewhere }, clock.now(), 0);
    sf.engine.start();
    await registered(sf.store, sf.engine.workerId);
    const listed = async () => (await sf.store.listWorkers()).some((w) => w.id === DEAD);
    // Silent for 3 s (three looks), then the wall clock is stepped 5 s forward (a time sync).
    const start = clock.monotonicNow();
    await advanceUntil(h, () => Promise.resolve(clock.monotonicNow() - start >= 3_000), 4_000);
    clock.stepWall(5_000);
    // Looked at again at 4 s: 4 s of silence, whatever the wall clock says.
    await advanceUntil(h, () => Promise.resolve(clock.monotonicNow() - start >= 4_250), 2_000);
    expect(await listed()).toBe(true);
    // Found dead after 5 s of silence.
    await advanceUntil(h, async () => !(await listed()), 2_000);
    expect(clock.monotonicNow() - start).toBeGreaterThanOrEqual(5_000);
  });

  it("takes no pid as evidence where the PID scope is unknown on both sides (two machines may share a host name)", async () => {
    h = await harness([{ status: 200 }], TIMED);
    const { sf, clock } = h;
    const real = currentProcessProbe();
    const { pidScope: _, ...unscoped } = real.self;
    // Another machine with this host name, its pid not running here: alive as far as we know.
    await sf.store.registerWorker({ id: DEAD, ...unscoped, pid: exitedPid() }, clock.now(), 0);
    const engine = new Engine({
      store: sf.store,
      transport: new UndiciTransport({
        clock,
        guard: createDestinationGuard({ allowPrivateNetworks: true, allowCidrs: [] }),
      }),
      clock,
      random: new SeededRandom(2),
      leaseMs: LEASE_MS,
      processProbe: { ...real, self: unscoped },
    });
    const start = clock.now();
    engine.start();
    try {
      const listed = async () => (await sf.store.listWorkers()).map((w) => w.id);
      await registered(sf.store, engine.workerId);
      await advanceUntil(h, () => Promise.resolve(clock.now() - start >= 4_000), 5_000);
      expect(await listed()).toContain(DEAD);
      // Found dead by its silence only, after workerTimeoutMs.
      await advanceUntil(h, async () => !(await listed()).includes(DEAD), 5_000);
      expect(clock.now() - start).toBeGreaterThanOrEqual(5_000);
      expect(clock.now() - start).toBeLessThanOrEqual(6_000);
    } finally {
      await engine.stop();
    }
  });

  it("gives each engine its own worker id, whatever random it is given (two seeded alike would end each other's claims)", async () => {
    h = await harness([{ status: 200 }], { startEngine: false });
    const { sf, clock } = h;
    const transport = new UndiciTransport({
      clock,
      guard: createDestinationGuard({ allowPrivateNetworks: true, allowCidrs: [] }),
    });
    const ids = [1, 2].map(
      () => new Engine({ store: sf.store, transport, clock, random: new SeededRandom(7) }).workerId,
    );
    expect(ids[0]).not.toBe(ids[1]);
    expect(ids[0]).toMatch(new RegExp(`^worker_${process.pid}_[0-9a-f]{16}$`));
    await transport.close();
  });

  it("claims within a heartbeat interval the calls another process on its SQLite file made due (no wake-ups cross processes there)", async () => {
    h = await harness([{ status: 200 }], { ...TIMED, startEngine: true });
    const { sf, clock, upstream } = h;
    await registered(sf.store, sf.engine.workerId);
    // Another process on the same file: it accepted a call for a process that then died, and
    // found that one dead (its own engine being busy, the call is left to the others).
    const other = SqliteStore.open({ path: join(h.dir, "steadfast.db") });
    try {
      const { callbackUrl: _, ...spec } = SPEC;
      const request = { url: `${upstream.url}/elsewhere`, method: "GET", headers: {} };
      const call = new CallFactory(9).call({
        tenantId: tenantId("default"),
        spec: { ...spec, request },
        runAt: clock.now(),
        createdAt: clock.now(),
      });
      await other.createCall(call);
      await claimAs(other, clock.now(), DEAD, { host: "another-host", pid: 4242, startedAt: 1 });
      await other.stopWorkers([{ id: DEAD }], clock.now(), LEASE_MS);
      const elapsedMs = await advanceUntil(
        h,
        () => Promise.resolve(upstream.requests.length > 0),
        2_000,
      );
      expect(elapsedMs).toBeLessThanOrEqual(1_000);
      expect(await sf.store.getCall(call.tenantId, call.id)).toMatchObject({ status: "succeeded" });
    } finally {
      await other.close();
    }
  });

  it("heartbeats only once registered, and says which chore failed", async () => {
    const warnings: string[] = [];
    const logger = {
      info() {},
      warn: (_: object, message?: string) => warnings.push(message ?? ""),
      error() {},
    };
    h = await harness([{ status: 200 }], { ...TIMED, logger });
    const { sf } = h;
    // The registration takes long (a slow store): no heartbeat runs before it is in.
    let letGo = (): void => {};
    const held = new Promise<void>((resolve) => (letGo = resolve));
    const register = sf.store.registerWorker.bind(sf.store);
    sf.store.registerWorker = async (...args) => {
      await held;
      return register(...args);
    };
    const listWorkers = sf.store.listWorkers.bind(sf.store);
    let looksFail = false;
    sf.store.listWorkers = () =>
      looksFail ? Promise.reject(new Error("store away")) : listWorkers();
    sf.engine.start();
    await advanceUntil(h, () => Promise.resolve(h!.clock.now() - T0 >= 2_500), 3_000);
    letGo();
    await registered(sf.store, sf.engine.workerId);
    await advanceUntil(h, () => Promise.resolve(h!.clock.now() - T0 >= 4_000), 2_000);
    expect(warnings).toEqual([]);
    looksFail = true;
    await advanceUntil(h, () => Promise.resolve(warnings.length > 0), 2_000);
    expect(warnings).toEqual(["looking for dead workers failed; tried again every interval"]);
  });

  it("registers again when another process found it dead by mistake", async () => {
    h = await harness([{ status: 200 }], { liveness: true });
    const { sf } = h;
    while ((await sf.store.listWorkers()).length === 0) await settle();
    await sf.store.stopWorkers([{ id: sf.engine.workerId }], h.clock.now(), LEASE_MS);
    expect(await sf.store.listWorkers()).toEqual([]);
    // Its next heartbeat, a second later, is refused: it registers again (two writes later).
    await h.clock.advance(1_000);
    while ((await sf.store.listWorkers()).length === 0) await settle();
    expect((await sf.store.listWorkers()).map((w) => w.id)).toEqual([sf.engine.workerId]);
  });
});

describe("engine: graceful stop", () => {
  it("waits for a claim under way, gives back what it brings, and leaves nothing running", async () => {
    h = await harness([{ status: 200 }], { startEngine: false, leaseMs: LEASE_MS });
    const { sf, upstream } = h;
    const call = await sf.fetch({ url: upstream.url });
    expect(await call.status()).toBe("queued");
    // The real store, its claims held back until the test lets them go.
    let letGo = (): void => {};
    const held = new Promise<void>((resolve) => (letGo = resolve));
    let claiming = (): void => {};
    const claimStarted = new Promise<void>((resolve) => (claiming = resolve));
    const claimDue = sf.store.claimDue.bind(sf.store);
    sf.store.claimDue = async (query) => {
      claiming();
      await held;
      return claimDue(query);
    };
    sf.engine.start();
    await claimStarted;
    const stopping = sf.engine.stop();
    letGo();
    await stopping;
    expect(sf.engine.inFlight).toBe(0);
    // Claimed after the stop began: given back, due at once, never sent.
    expect(await call.call()).toMatchObject({ status: "queued", attempts: 0 });
    expect(upstream.requests).toHaveLength(0);
  });

  it("records the attempts it aborts as interrupted by the stop, due again at once, and marks its worker stopped", async () => {
    h = await harness(() => "hang", { shutdownGraceMs: 1_000 });
    const { sf, clock, upstream } = h;
    const call = await sf.fetch({ url: upstream.url });
    await upstream.waitForRequests(1);
    const stopping = sf.engine.stop();
    await clock.advance(1_000);
    await stopping;

    expect(await call.call()).toMatchObject({ status: "waiting", attempts: 1 });
    expect((await call.call()).nextAttemptAt).toBe(new Date(clock.now()).toISOString());
    const [attempt] = await call.attempts();
    expect(attempt).toMatchObject({
      number: 1,
      sent: true,
      outcome: { type: "interrupted", code: "process_stopped" },
      decision: { type: "retry", delayMs: 0 },
    });
    expect(await sf.store.listWorkers()).toEqual([]);
  });
});
