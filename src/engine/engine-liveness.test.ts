import { spawnSync } from "node:child_process";
import { afterEach, describe, expect, it } from "vitest";
import type { WorkerId } from "../core/ids.ts";
import type { Store, WorkerRegistration } from "../core/store.ts";
import { harness, settle, type Harness } from "./engine-harness.test-support.ts";
import { currentProcessProbe } from "./process-probe.ts";

let h: Harness | undefined;
afterEach(async () => {
  await h?.cleanup();
  h = undefined;
});

const LEASE_MS = 60_000;
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
    h = await harness([{ status: 200 }], { startEngine: false, leaseMs: LEASE_MS });
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
    h = await harness([{ status: 200 }], { startEngine: false, leaseMs: LEASE_MS });
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
    h = await harness(() => "hang", { startEngine: false, leaseMs: LEASE_MS });
    const { sf, clock, upstream } = h;
    const elsewhere = { host: "another-host", pid: 4242, startedAt: clock.now() - 60_000 };
    const silent = await sf.fetch({ url: `${upstream.url}/silent` });
    await claimAs(sf.store, clock.now(), DEAD, elsewhere);
    const alive = "worker_alive" as WorkerId;
    const beating = await sf.fetch({ url: `${upstream.url}/beating` });
    await claimAs(sf.store, clock.now(), alive, { ...elsewhere, pid: 4343 });

    sf.engine.start();
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

  it("registers again when another process found it dead by mistake", async () => {
    h = await harness([{ status: 200 }]);
    const { sf } = h;
    while ((await sf.store.listWorkers()).length === 0) await settle();
    await sf.store.stopWorkers([{ id: sf.engine.workerId }], h.clock.now());
    expect(await sf.store.listWorkers()).toEqual([]);
    // Its next heartbeat, a second later, is refused: it registers again.
    for (let i = 0; i < 8 && (await sf.store.listWorkers()).length === 0; i++) {
      await h.clock.advance(250);
      await settle();
    }
    expect((await sf.store.listWorkers()).map((w) => w.id)).toEqual([sf.engine.workerId]);
  });
});

describe("engine: graceful stop", () => {
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
