// Store contract: the registry of engine processes (registration, heartbeats, stopping workers,
// which ends their claims at once) and the takeover of a running call, which records the attempt
// its previous owner had cut off (issue 10, items 10 and 11).
import { describe, expect, it } from "vitest";
import type { WorkerId } from "../../core/ids.ts";
import { takenOverAttempt } from "../../core/interruption.ts";
import type { WorkerRegistration } from "../../core/store.ts";
import {
  claimAll,
  claimOne,
  commitOf,
  LEASE_MS,
  succeeded,
  T0,
  TENANT_A,
  waiting,
} from "./fixtures.ts";
import type { GetContext } from "./store-contract.ts";

const W1 = "worker_1" as WorkerId;
const W2 = "worker_2" as WorkerId;
const DAY_MS = 86_400_000;

function registration(id: WorkerId, pid: number): WorkerRegistration {
  return { id, host: "host-a", pidScope: "boot/pid:[1]", pid, startedAt: T0 - 5_000 };
}

/** Declares the worker registry and takeover tests of the store contract. */
export function describeWorkerContract(context: GetContext): void {
  describe("registerWorker, heartbeatWorker, listWorkers", () => {
    it("lists registered workers with their last heartbeat, by id", async () => {
      const { store } = context();
      expect(await store.listWorkers()).toEqual([]);
      const { pidScope: _, ...withoutScope } = registration(W2, 22);
      await store.registerWorker(withoutScope, T0, 0);
      await store.registerWorker(registration(W1, 11), T0 + 1, 0);
      expect(await store.heartbeatWorker(W1, T0 + 1_000)).toBe(true);
      expect(await store.listWorkers()).toStrictEqual([
        { ...registration(W1, 11), heartbeatAt: T0 + 1_000 },
        { id: W2, host: "host-a", pid: 22, startedAt: T0 - 5_000, heartbeatAt: T0 },
      ]);
    });

    it("refuses the heartbeat of a worker not registered or stopped, until it registers again", async () => {
      const { store } = context();
      expect(await store.heartbeatWorker(W1, T0)).toBe(false);
      await store.registerWorker(registration(W1, 11), T0, 0);
      await store.stopWorkers([{ id: W1, heartbeatAt: T0 }], T0 + 10, LEASE_MS);
      expect(await store.heartbeatWorker(W1, T0 + 1_000)).toBe(false);
      expect(await store.listWorkers()).toEqual([]);
      await store.registerWorker(registration(W1, 11), T0 + 1_001, 0);
      expect(await store.heartbeatWorker(W1, T0 + 2_000)).toBe(true);
      expect((await store.listWorkers()).map((w) => [w.id, w.heartbeatAt])).toEqual([
        [W1, T0 + 2_000],
      ]);
    });

    it("forgets workers stopped before the given time when one registers", async () => {
      const { store } = context();
      await store.registerWorker(registration(W1, 11), T0, 0);
      await store.stopWorkers([{ id: W1 }], T0 + 10, LEASE_MS);
      // W1 is forgotten only once it stopped before the cut-off: re-registering it later works.
      await store.registerWorker(registration(W2, 22), T0 + DAY_MS, T0 + 10);
      await store.registerWorker(registration(W2, 22), T0 + DAY_MS, T0 + 11);
      await store.registerWorker(registration(W1, 11), T0 + DAY_MS + 1, 0);
      expect((await store.listWorkers()).map((w) => w.id)).toEqual([W1, W2]);
    });
  });

  describe("stopWorkers", () => {
    it("ends the unexpired claims of the stopped worker only, so they are due at once", async () => {
      const { store, calls } = context();
      await store.registerWorker(registration(W1, 11), T0, 0);
      await store.registerWorker(registration(W2, 22), T0, 0);
      await store.createCalls([calls.call(), calls.call(), calls.call(), calls.call()]);
      const claim = (workerId: WorkerId, limit: number) =>
        store.claimDue({ now: T0 + 100, limit, leaseMs: LEASE_MS, workerId });
      const mine = await claim(W1, 2);
      const theirs = await claim(W2, 1);
      const released = await claim(W1, 1);
      await store.commitAttempt(commitOf(released[0]!, T0 + 150, waiting(T0 + 60_000)));
      expect(await store.nextWakeAt()).toBe(T0 + 100 + LEASE_MS);

      const now = T0 + 1_000;
      expect(await store.stopWorkers([{ id: W1, heartbeatAt: T0 }], now, LEASE_MS)).toEqual({
        stopped: [W1],
        claimsEnded: 2,
      });
      expect(await store.nextWakeAt()).toBe(now);
      const taken = await claimAll(store, now, 2);
      expect(taken.map((c) => c.call.id).sort()).toEqual(mine.map((c) => c.call.id).sort());
      expect(await store.listWorkers()).toMatchObject([{ id: W2 }]);
      // W2's claim is untouched; the old owner is fenced out of the calls taken over.
      expect(await store.commitAttempt(commitOf(theirs[0]!, now, succeeded(now)))).toBe(true);
      expect(await store.commitAttempt(commitOf(mine[0]!, now, succeeded(now)))).toBe(false);
    });

    it("leaves a worker alone when it beat after its judge looked, or is already stopped", async () => {
      const { store, calls } = context();
      await store.registerWorker(registration(W1, 11), T0, 0);
      await store.createCall(calls.call());
      await store.claimDue({ now: T0 + 10, limit: 1, leaseMs: LEASE_MS, workerId: W1 });
      await store.heartbeatWorker(W1, T0 + 1_000);
      expect(await store.stopWorkers([{ id: W1, heartbeatAt: T0 }], T0 + 5_000, LEASE_MS)).toEqual({
        stopped: [],
        claimsEnded: 0,
      });
      await claimAll(store, T0 + 5_000, 0);
      expect(
        await store.stopWorkers([{ id: W1, heartbeatAt: T0 + 1_000 }], T0 + 6_000, LEASE_MS),
      ).toEqual({
        stopped: [W1],
        claimsEnded: 1,
      });
      expect(await store.stopWorkers([{ id: W1 }], T0 + 7_000, LEASE_MS)).toEqual({
        stopped: [],
        claimsEnded: 0,
      });
    });

    it("stops a worker unconditionally without a heartbeat to compare (a graceful stop)", async () => {
      const { store } = context();
      await store.registerWorker(registration(W1, 11), T0, 0);
      await store.heartbeatWorker(W1, T0 + 1_000);
      expect(await store.stopWorkers([{ id: W1 }], T0 + 2_000, LEASE_MS)).toEqual({
        stopped: [W1],
        claimsEnded: 0,
      });
      expect(await store.listWorkers()).toEqual([]);
    });

    it("looks for claims among leases ending by now + 2 * maxLeaseMs only", async () => {
      const { store, calls } = context();
      await store.registerWorker(registration(W1, 11), T0, 0);
      await store.createCalls([calls.call(), calls.call()]);
      const claim = (leaseMs: number) =>
        store.claimDue({ now: T0 + 100, limit: 1, leaseMs, workerId: W1 });
      const [near] = await claim(LEASE_MS);
      // A claim from a clock (or a lease setting) far ahead: found at its lease's end instead.
      const [far] = await claim(3 * LEASE_MS);
      const now = T0 + 1_000;
      expect(await store.stopWorkers([{ id: W1, heartbeatAt: T0 }], now, LEASE_MS)).toEqual({
        stopped: [W1],
        claimsEnded: 1,
      });
      const taken = await claimAll(store, now, 1);
      expect(taken.map((c) => c.call.id)).toEqual([near!.call.id]);
      const ids = async (at: number) => (await claimAll(store, at, 1)).map((c) => c.call.id);
      // Only the one claimed at `now` is due before the far lease ends, then the far one is.
      expect(await ids(far!.leaseExpiresAt - 1)).toEqual([near!.call.id]);
      expect(await ids(far!.leaseExpiresAt)).toEqual([far!.call.id]);
    });

    it("ends the claims of a worker naming itself even when it was stopped already", async () => {
      const { store, calls } = context();
      await store.registerWorker(registration(W1, 11), T0, 0);
      await store.stopWorkers([{ id: W1, heartbeatAt: T0 }], T0 + 10, LEASE_MS);
      // Claimed after it was found dead (a claim under way meanwhile), then it fences itself.
      await store.createCall(calls.call());
      await store.claimDue({ now: T0 + 20, limit: 1, leaseMs: LEASE_MS, workerId: W1 });
      expect(await store.stopWorkers([{ id: W1, heartbeatAt: T0 }], T0 + 30, LEASE_MS)).toEqual({
        stopped: [],
        claimsEnded: 0,
      });
      expect(await store.stopWorkers([{ id: W1 }], T0 + 40, LEASE_MS)).toEqual({
        stopped: [],
        claimsEnded: 1,
      });
      expect(await store.nextWakeAt()).toBe(T0 + 40);
    });

    it("frees the stopped worker's concurrency permits for the others at once", async () => {
      const { store } = context();
      await store.registerWorker(registration(W1, 11), T0, 0);
      const ask = (holder: string, destination = "https://api.example.com") => ({
        destination,
        holder,
        wanted: 4,
        limit: 4,
        now: T0 + 100,
        expiresAt: T0 + 100 + LEASE_MS,
      });
      expect((await store.holdPermits(ask(W1))).granted).toBe(4);
      expect((await store.holdPermits(ask(W1, "https://b.example.com"))).granted).toBe(4);
      expect((await store.holdPermits(ask("other"))).granted).toBe(0);
      await store.stopWorkers([{ id: W1, heartbeatAt: T0 }], T0 + 100, LEASE_MS);
      expect((await store.holdPermits(ask("other"))).granted).toBe(4);
      expect((await store.holdPermits(ask("other", "https://b.example.com"))).granted).toBe(4);
    });
  });

  describe("claimDue taking a running call over", () => {
    it("records the cut-off attempt, from the previous claim until now, and counts it", async () => {
      const { store, calls } = context();
      const call = calls.call();
      await store.createCall(call);
      const first = await claimOne(store, T0 + 10);
      await store.commitAttempt(commitOf(first, T0 + 200, waiting(T0 + 1_000)));
      const second = await claimOne(store, T0 + 1_000);
      const now = second.leaseExpiresAt + 5;
      const thief = "worker-2" as WorkerId;
      const [taken] = await store.claimDue({ now, limit: 5, leaseMs: LEASE_MS, workerId: thief });

      expect(taken!.call).toMatchObject({ id: call.id, status: "running", attempts: 2 });
      expect(taken!.takenOver).toBe(true);
      expect(second.takenOver).toBeUndefined();
      expect(await store.getCall(TENANT_A, call.id)).toStrictEqual(taken!.call);
      const attempts = await store.listAttempts(TENANT_A, call.id);
      expect(attempts?.map((a) => a.number)).toEqual([1, 2]);
      expect(attempts?.[1]).toStrictEqual({
        callId: call.id,
        number: 2,
        startedAt: T0 + 1_000,
        durationMs: now - (T0 + 1_000),
        ...takenOverAttempt(thief),
      });
      expect(takenOverAttempt(thief)).toMatchObject({
        outcome: { type: "interrupted", code: "process_ended" },
        sent: "unknown",
      });
      // The next attempt is number 3, and only the new owner can commit it.
      expect(await store.commitAttempt(commitOf(second, now, succeeded(now)))).toBe(false);
      expect(await store.commitAttempt(commitOf(taken!, now, succeeded(now)))).toBe(true);
      expect((await store.listAttempts(TENANT_A, call.id))?.map((a) => a.number)).toEqual([
        1, 2, 3,
      ]);
    });

    it("records one cut-off attempt per takeover, and none for a released call it claims", async () => {
      const { store, calls } = context();
      const crashing = calls.call();
      const released = calls.call();
      await store.createCalls([crashing, released]);
      const [a, b] = await claimAll(store, T0 + 10, 2);
      await store.releaseClaims([{ callId: b!.call.id, leaseToken: b!.leaseToken }], T0 + 20);
      const first = a!.leaseExpiresAt;
      await claimAll(store, first, 2);
      const second = first + LEASE_MS;
      const taken = await claimAll(store, second, 2);

      expect(taken.map((c) => [c.call.id, c.call.attempts, c.takenOver])).toEqual(
        expect.arrayContaining([
          [crashing.id, 2, true],
          [released.id, 1, true],
        ]),
      );
      const startedAt = async (id: typeof crashing.id) =>
        (await store.listAttempts(TENANT_A, id))?.map((x) => x.startedAt);
      expect(await startedAt(crashing.id)).toEqual([T0 + 10, first]);
      // Released, it was claimed at `first` from the queue (nothing cut off), then taken over.
      expect(await startedAt(released.id)).toEqual([first]);
    });

    it("records the cut-off attempt of a call whose owner was stopped", async () => {
      const { store, calls } = context();
      await store.registerWorker(registration(W1, 11), T0, 0);
      const call = calls.call();
      await store.createCall(call);
      await store.claimDue({ now: T0 + 10, limit: 1, leaseMs: LEASE_MS, workerId: W1 });
      await store.stopWorkers([{ id: W1, heartbeatAt: T0 }], T0 + 500, LEASE_MS);
      const taken = await claimOne(store, T0 + 500);
      expect(taken.call.attempts).toBe(1);
      expect(await store.listAttempts(TENANT_A, call.id)).toMatchObject([
        { number: 1, startedAt: T0 + 10, durationMs: 490, outcome: { type: "interrupted" } },
      ]);
    });
  });
}
