// Store contract: claiming due calls, leases (expiry, renewal, release) and nextWakeAt.
import { describe, expect, it } from "vitest";
import type { WorkerId } from "../../core/ids.ts";
import { describeAttemptContract } from "./attempt-contract.ts";
import {
  claimAll,
  claimOne,
  commitOf,
  LEASE_MS,
  succeeded,
  T0,
  TENANT_A,
  waiting,
  WORKER,
} from "./fixtures.ts";
import type { GetContext } from "./store-contract.ts";

/** Declares the claim, lease and wake-up tests of the store contract (attempts included). */
export function describeClaimContract(context: GetContext): void {
  describe("claimDue", () => {
    it("claims due calls earliest runAt first, up to the limit, and sets them running", async () => {
      const { store, calls } = context();
      const late = calls.call({ runAt: T0 + 300 });
      const early = calls.call({ runAt: T0 + 100 });
      const middle = calls.call({ runAt: T0 + 200 });
      const future = calls.call({ runAt: T0 + 10_000 });
      await store.createCalls([late, early, middle, future]);
      const now = T0 + 1_000;

      const first = await store.claimDue({ now, limit: 2, leaseMs: LEASE_MS, workerId: WORKER });
      expect(first.map((c) => c.call.id)).toEqual([early.id, middle.id]);
      for (const claim of first) {
        expect(claim.leaseExpiresAt).toBe(now + LEASE_MS);
        expect(claim.call.status).toBe("running");
        expect(claim.call.updatedAt).toBe(now);
        expect(claim.call.attempts).toBe(0);
        expect(await store.getCall(TENANT_A, claim.call.id)).toStrictEqual(claim.call);
      }
      const rest = await store.claimDue({ now, limit: 10, leaseMs: LEASE_MS, workerId: WORKER });
      expect(rest.map((c) => c.call.id)).toEqual([late.id]);
      expect(await store.claimDue({ now, limit: 10, leaseMs: LEASE_MS, workerId: WORKER })).toEqual(
        [],
      );
      expect((await store.getCall(TENANT_A, future.id))?.status).toBe("queued");
    });

    it("treats runAt equal to now as due", async () => {
      const { store, calls } = context();
      const call = calls.call({ runAt: T0 + 500 });
      await store.createCall(call);
      await claimAll(store, T0 + 499, 0);
      expect((await claimOne(store, T0 + 500)).call.id).toBe(call.id);
    });

    it("gives concurrent claimers disjoint calls", async () => {
      const { store, calls } = context();
      await store.createCalls(Array.from({ length: 10 }, () => calls.call()));
      const now = T0 + 1_000;
      const batches = await Promise.all(
        ["w1", "w2", "w3"].map((w) =>
          store.claimDue({ now, limit: 4, leaseMs: LEASE_MS, workerId: w as WorkerId }),
        ),
      );
      const claimed = batches.flat().map((c) => c.call.id);
      expect(claimed).toHaveLength(10);
      expect(new Set(claimed).size).toBe(10);
    });

    it("reclaims an expired lease with a new token, and only once it has expired", async () => {
      const { store, calls } = context();
      const call = calls.call();
      await store.createCall(call);
      const first = await claimOne(store, T0 + 10);
      await claimAll(store, first.leaseExpiresAt - 1, 0);

      const second = await claimOne(store, first.leaseExpiresAt);
      expect(second.call.id).toBe(call.id);
      expect(second.leaseToken).toBeGreaterThan(first.leaseToken);
      expect(second.leaseExpiresAt).toBe(first.leaseExpiresAt + LEASE_MS);
      expect(second.call.status).toBe("running");

      const now = first.leaseExpiresAt + 5;
      expect(await store.commitAttempt(commitOf(first, now, succeeded(now)))).toBe(false);
      expect(await store.commitAttempt(commitOf(second, now, succeeded(now)))).toBe(true);
    });

    it("claims due calls and expired leases together, within the limit", async () => {
      const { store, calls } = context();
      await store.createCall(calls.call());
      const stale = await claimOne(store, T0 + 10);
      await store.createCalls([calls.call({ runAt: T0 + 20 }), calls.call({ runAt: T0 + 30 })]);
      const now = stale.leaseExpiresAt;
      const claims = await store.claimDue({ now, limit: 2, leaseMs: LEASE_MS, workerId: WORKER });
      expect(claims).toHaveLength(2);
      const all = [...claims, ...(await claimAll(store, now, 1))].map((c) => c.call.id);
      expect(new Set(all).size).toBe(3);
      expect(all).toContain(stale.call.id);
    });
  });

  describe("nextWakeAt", () => {
    it("is the earliest runAt of queued or waiting calls, or lease expiry of running ones", async () => {
      const { store, calls } = context();
      expect(await store.nextWakeAt()).toBeUndefined();
      const a = calls.call({ runAt: T0 + 5_000 });
      const b = calls.call({ runAt: T0 + 9_000 });
      await store.createCalls([a, b]);
      expect(await store.nextWakeAt()).toBe(T0 + 5_000);

      const claimA = await claimOne(store, T0 + 5_000);
      expect(await store.nextWakeAt()).toBe(T0 + 9_000);
      const claimB = await claimOne(store, T0 + 9_000);
      expect(await store.nextWakeAt()).toBe(claimA.leaseExpiresAt);

      const now = T0 + 9_100;
      await store.commitAttempt(commitOf(claimA, now, waiting(T0 + 60_000)));
      expect(await store.nextWakeAt()).toBe(claimB.leaseExpiresAt);
      await store.commitAttempt(commitOf(claimB, now, succeeded(now)));
      expect(await store.nextWakeAt()).toBe(T0 + 60_000);
      await store.cancelCall(TENANT_A, a.id, now, now + 1);
      expect(await store.nextWakeAt()).toBeUndefined();
    });
  });

  describe("renewLeases", () => {
    it("extends held leases and reports the ones lost", async () => {
      const { store, calls } = context();
      await store.createCalls([calls.call(), calls.call(), calls.call(), calls.call()]);
      const now = T0 + 100;
      const [held, reclaimed, cancelled, finished] = await claimAll(store, now, 4);
      await store.cancelCall(TENANT_A, cancelled!.call.id, now, now);
      await store.commitAttempt(commitOf(finished!, now, succeeded(now)));
      const unknown = { callId: calls.id(T0), leaseToken: 1 };
      // Let `reclaimed` expire and be claimed again by another engine; `held` is renewed first.
      const heldRef = { callId: held!.call.id, leaseToken: held!.leaseToken };
      expect(await store.renewLeases([heldRef], now + 2 * LEASE_MS, now)).toEqual([]);
      const other = await claimOne(store, now + LEASE_MS);
      expect(other.call.id).toBe(reclaimed!.call.id);

      const refs = [held!, reclaimed!, cancelled!, finished!, unknown].map((c) =>
        "call" in c ? { callId: c.call.id, leaseToken: c.leaseToken } : c,
      );
      const renewedUntil = now + 3 * LEASE_MS;
      const lost = await store.renewLeases(refs, renewedUntil, now + LEASE_MS);
      expect(lost).toHaveLength(4);
      expect(lost).toEqual(expect.arrayContaining(refs.slice(1)));

      // The other engine's lease ends first; the renewed one exactly at `renewedUntil`.
      expect((await claimOne(store, renewedUntil - 1)).call.id).toBe(reclaimed!.call.id);
      expect((await claimOne(store, renewedUntil)).call.id).toBe(held!.call.id);
    });

    it("renews a lease past its expiry while no other engine has claimed the call", async () => {
      const { store, calls } = context();
      await store.createCall(calls.call());
      const claim = await claimOne(store, T0 + 10);
      const late = claim.leaseExpiresAt + 1_000;
      const ref = { callId: claim.call.id, leaseToken: claim.leaseToken };
      expect(await store.renewLeases([ref], late + LEASE_MS, late)).toEqual([]);
      await claimAll(store, late, 0);
      expect(await store.commitAttempt(commitOf(claim, late, succeeded(late)))).toBe(true);
    });
  });

  describe("releaseClaims", () => {
    it("makes released calls due at now: queued before any attempt, waiting after", async () => {
      const { store, calls } = context();
      const fresh = calls.call();
      const retried = calls.call();
      await store.createCalls([fresh, retried]);
      const now = T0 + 100;
      const [claimFresh, claimRetried] = await claimAll(store, now, 2);
      await store.commitAttempt(commitOf(claimRetried!, now, waiting(now + 50)));
      const again = await claimOne(store, now + 50);

      const at = now + 60;
      const refs = [claimFresh!, again].map((c) => ({
        callId: c.call.id,
        leaseToken: c.leaseToken,
      }));
      await store.releaseClaims(refs, at);
      const releasedFresh = await store.getCall(TENANT_A, fresh.id);
      const releasedRetried = await store.getCall(TENANT_A, retried.id);
      expect(releasedFresh).toMatchObject({ status: "queued", runAt: at, attempts: 0 });
      expect(releasedRetried).toMatchObject({ status: "waiting", runAt: at, attempts: 1 });
      expect(await store.nextWakeAt()).toBe(at);

      const reclaimed = await claimAll(store, at, 2);
      for (const claim of reclaimed) {
        const old = claim.call.id === fresh.id ? claimFresh! : again;
        expect(claim.leaseToken).toBeGreaterThan(old.leaseToken);
        expect(await store.commitAttempt(commitOf(old, at, succeeded(at)))).toBe(false);
      }
    });

    it("ignores refs whose lease is no longer held", async () => {
      const { store, calls } = context();
      const call = calls.call();
      await store.createCall(call);
      const stale = await claimOne(store, T0 + 10);
      const current = await claimOne(store, stale.leaseExpiresAt);
      await store.releaseClaims([{ callId: call.id, leaseToken: stale.leaseToken }], T0 + 1);
      expect(await store.getCall(TENANT_A, call.id)).toStrictEqual(current.call);
    });
  });

  describeAttemptContract(context);
}
