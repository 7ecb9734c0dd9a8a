// Store contract: calls created already claimed (`createClaimedCall`), which the engine of the
// process that accepted them runs without a claim of its own, and the store's lifecycle
// methods every caller may use without testing for them (`isReady`, `subscribe`).
import { describe, expect, it } from "vitest";
import type { WorkerId } from "../../core/ids.ts";
import type { Claim, InitialClaim } from "../../core/store.ts";
import { claimAll, claimOne, commitOf, LEASE_MS, succeeded, T0, TENANT_A } from "./fixtures.ts";
import type { GetContext } from "./store-contract.ts";

const CREATOR = "worker_creator" as WorkerId;
const LEASE_END = T0 + 1_000;
const CLAIM: InitialClaim = { workerId: CREATOR, leaseExpiresAt: LEASE_END };

/** The claim its creator holds on a call created claimed: lease token 1, until `LEASE_END`. */
function creatorsClaim(call: Claim["call"]): Claim {
  return { call, leaseToken: 1, leaseExpiresAt: LEASE_END };
}

/** Declares the claimed-create and lifecycle tests of the store contract. */
export function describeClaimedCreateContract(context: GetContext): void {
  describe("createClaimedCall", () => {
    it("creates the call running under lease token 1 until the given expiry, not due before", async () => {
      const { store, calls } = context();
      const call = calls.call();
      const created = await store.createClaimedCall(call, CLAIM);
      expect(created).toMatchObject({ created: true, call: { id: call.id, status: "running" } });
      expect(await store.getCall(TENANT_A, call.id)).toStrictEqual(created.call);
      expect(created.call).toMatchObject({ attempts: 0, updatedAt: call.createdAt });
      // Claimable only once its lease ends.
      expect(await store.nextWakeAt()).toBe(LEASE_END);
      await claimAll(store, LEASE_END - 1, 0);
      // Its creator holds it with token 1: renews its lease and commits its attempt.
      const ref = { callId: call.id, leaseToken: 1 };
      expect(await store.renewLeases([ref], LEASE_END + 5_000, LEASE_END - 1)).toEqual([]);
      await claimAll(store, LEASE_END + 4_999, 0);
      const now = LEASE_END + 100;
      expect(
        await store.commitAttempt(commitOf(creatorsClaim(created.call), now, succeeded(now))),
      ).toBe(true);
      expect(await store.getCall(TENANT_A, call.id)).toMatchObject({
        status: "succeeded",
        attempts: 1,
      });
    });

    it("is taken over when its lease ends, with the cut-off attempt, and fences its creator", async () => {
      const { store, calls } = context();
      const created = await store.createClaimedCall(calls.call(), CLAIM);
      const takeover = await claimOne(store, LEASE_END);
      expect(takeover).toMatchObject({
        call: { id: created.call.id, attempts: 1 },
        leaseToken: 2,
        takenOver: true,
      });
      // The cut-off attempt started at the creation, the claim's time.
      expect(await store.listAttempts(TENANT_A, created.call.id)).toMatchObject([
        {
          number: 1,
          startedAt: created.call.createdAt,
          durationMs: LEASE_END - created.call.createdAt,
        },
      ]);
      const now = LEASE_END + 1;
      const stale = commitOf(creatorsClaim(created.call), now, succeeded(now));
      expect(await store.commitAttempt(stale)).toBe(false);
      expect(await store.commitAttempt(commitOf(takeover, now, succeeded(now)))).toBe(true);
    });

    it("is claimed by its creator's worker id: stopping that worker ends the claim at once", async () => {
      const { store, calls } = context();
      await store.registerWorker(
        { id: CREATOR, host: "host-a", pid: 7, startedAt: T0 - 5_000 },
        T0,
        0,
      );
      const created = await store.createClaimedCall(calls.call(), CLAIM);
      const now = T0 + 500;
      expect(await store.stopWorkers([{ id: CREATOR, heartbeatAt: T0 }], now, LEASE_MS)).toEqual({
        stopped: [CREATOR],
        claimsEnded: 1,
      });
      expect(await store.nextWakeAt()).toBe(now);
      expect((await claimOne(store, now)).call.id).toBe(created.call.id);
    });

    it("returns the live call holding its idempotency key and writes nothing, whichever created it", async () => {
      const { store, calls } = context();
      const queued = await store.createCall(calls.call({ idempotencyKey: "order-1" }));
      const again = await store.createClaimedCall(calls.call({ idempotencyKey: "order-1" }), CLAIM);
      expect(again).toEqual({ created: false, call: queued.call });

      const claimed = await store.createClaimedCall(
        calls.call({ idempotencyKey: "order-2" }),
        CLAIM,
      );
      const twice = await store.createClaimedCall(calls.call({ idempotencyKey: "order-2" }), CLAIM);
      expect(twice).toEqual({ created: false, call: claimed.call });
      const later = await store.createCall(calls.call({ idempotencyKey: "order-2" }));
      expect(later).toEqual({ created: false, call: claimed.call });
      // Nothing else was written: the queued call is the only one due before the lease ends.
      expect((await claimAll(store, LEASE_END - 1, 1))[0]!.call.id).toBe(queued.call.id);
    });

    it("lets exactly one of concurrent creates with one key win, claimed or queued", async () => {
      const { store, calls } = context();
      const first = calls.call({ idempotencyKey: "k" });
      const second = calls.call({ idempotencyKey: "k" });
      const results = await Promise.all([
        store.createClaimedCall(first, CLAIM),
        store.createCall(second),
      ]);
      expect(results.filter((r) => r.created)).toHaveLength(1);
      const winner = results.find((r) => r.created)!.call;
      for (const result of results) expect(result.call.id).toBe(winner.id);
      expect(await store.getCall(TENANT_A, winner.id)).toStrictEqual(winner);
    });

    it("creates claimed and queued calls at once, each as asked", async () => {
      const { store, calls } = context();
      const [claimed, queued] = await Promise.all([
        store.createClaimedCall(calls.call(), CLAIM),
        store.createCall(calls.call()),
      ]);
      expect(claimed).toMatchObject({ created: true, call: { status: "running" } });
      expect(queued).toMatchObject({ created: true, call: { status: "queued" } });
      expect((await claimAll(store, LEASE_END - 1, 1))[0]!.call.id).toBe(queued.call.id);
      expect((await claimAll(store, LEASE_END, 1))[0]!.call.id).toBe(claimed.call.id);
    });

    it("rejects a duplicate id and leaves the existing call unchanged", async () => {
      const { store, calls } = context();
      const call = calls.call();
      const { call: existing } = await store.createCall(call);
      await expect(
        store.createClaimedCall({ ...call, forwardedKey: "other" }, CLAIM),
      ).rejects.toThrow();
      expect(await store.getCall(TENANT_A, call.id)).toStrictEqual(existing);
    });
  });

  describe("isReady and subscribe", () => {
    it("is ready while open, and not once closed", async () => {
      const { store } = context();
      expect(store.isReady()).toBe(true);
      await store.close();
      expect(store.isReady()).toBe(false);
    });

    it("returns an unsubscribe that may be called more than once", () => {
      const { store } = context();
      const unsubscribe = store.subscribe(() => {});
      unsubscribe();
      expect(() => unsubscribe()).not.toThrow();
    });
  });
}
