// Store contract: cancelCall and retryCall (redrive), with tenant isolation.
import { describe, expect, it } from "vitest";
import type { CallRecord } from "../../core/call.ts";
import type { Store } from "../../core/store.ts";
import {
  claimAll,
  claimOne,
  commitOf,
  failed,
  LEASE_MS,
  RETENTION_MS,
  succeeded,
  T0,
  TENANT_A,
  TENANT_B,
  waiting,
  type CallFactory,
} from "./fixtures.ts";
import type { GetContext } from "./store-contract.ts";

/** Creates one call and drives it to `state`; returns the stored record. */
async function callIn(
  store: Store,
  calls: CallFactory,
  state: "queued" | "running" | "waiting" | "succeeded" | "failed" | "cancelled",
  now: number,
): Promise<CallRecord> {
  const call = calls.call({ idempotencyKey: `key-${state}`, runAt: now });
  await store.createCall(call);
  if (state !== "queued" && state !== "cancelled") {
    const claim = await claimOne(store, now);
    if (state === "waiting") await store.commitAttempt(commitOf(claim, now, waiting(now + 60_000)));
    if (state === "succeeded") await store.commitAttempt(commitOf(claim, now, succeeded(now)));
    if (state === "failed") await store.commitAttempt(commitOf(claim, now, failed(now)));
  }
  if (state === "cancelled") await store.cancelCall(TENANT_A, call.id, now, now + RETENTION_MS);
  const stored = await store.getCall(TENANT_A, call.id);
  expect(stored?.status).toBe(state);
  return stored!;
}

/** Declares the cancel and redrive tests of the store contract. */
export function describeControlContract(context: GetContext): void {
  describe("cancelCall", () => {
    for (const state of ["queued", "waiting", "running"] as const) {
      it(`cancels a ${state} call, which is then never claimed`, async () => {
        const { store, calls } = context();
        const call = await callIn(store, calls, state, T0 + 10);
        const now = T0 + 1_000;
        const result = await store.cancelCall(TENANT_A, call.id, now, now + RETENTION_MS);
        expect(result.type).toBe("ok");
        const cancelled = result.type === "ok" ? result.call : undefined;
        expect(cancelled).toMatchObject({ status: "cancelled", completedAt: now, updatedAt: now });
        expect(cancelled?.runAt).toBeUndefined();
        expect(await store.getCall(TENANT_A, call.id)).toStrictEqual(cancelled);
        expect(await store.nextWakeAt()).toBeUndefined();
        await claimAll(store, now + 10 * LEASE_MS + 60_000, 0);
      });
    }

    it("revokes a running call's lease", async () => {
      const { store, calls } = context();
      await store.createCall(calls.call());
      const claim = await claimOne(store, T0 + 10);
      await store.cancelCall(TENANT_A, claim.call.id, T0 + 20, T0 + 20);
      const ref = { callId: claim.call.id, leaseToken: claim.leaseToken };
      expect(await store.renewLeases([ref], T0 + LEASE_MS * 2, T0 + 30)).toEqual([ref]);
      expect(await store.commitAttempt(commitOf(claim, T0 + 40, succeeded(T0 + 40)))).toBe(false);
    });

    for (const state of ["succeeded", "failed", "cancelled"] as const) {
      it(`refuses to cancel a ${state} call`, async () => {
        const { store, calls } = context();
        const call = await callIn(store, calls, state, T0 + 10);
        const result = await store.cancelCall(TENANT_A, call.id, T0 + 500, T0 + 500);
        expect(result).toStrictEqual({ type: "invalid_state", call });
        expect(await store.getCall(TENANT_A, call.id)).toStrictEqual(call);
      });
    }

    it("does not find another tenant's call or an unknown id", async () => {
      const { store, calls } = context();
      const call = await callIn(store, calls, "queued", T0 + 10);
      expect(await store.cancelCall(TENANT_B, call.id, T0 + 20, T0 + 20)).toEqual({
        type: "not_found",
      });
      expect(await store.cancelCall(TENANT_A, calls.id(T0), T0 + 20, T0 + 20)).toEqual({
        type: "not_found",
      });
      expect(await store.getCall(TENANT_A, call.id)).toStrictEqual(call);
    });

    it("keeps the idempotency key until the given expiry", async () => {
      const { store, calls } = context();
      const call = await callIn(store, calls, "queued", T0 + 10);
      const expiresAt = T0 + 20 + RETENTION_MS;
      await store.cancelCall(TENANT_A, call.id, T0 + 20, expiresAt);
      const retry = calls.call({ idempotencyKey: call.idempotencyKey! });
      expect((await store.createCall(retry)).call.id).toBe(call.id);
      expect(await store.purgeExpiredIdempotencyKeys(expiresAt)).toBe(0);
      expect(await store.purgeExpiredIdempotencyKeys(expiresAt + 1)).toBe(1);
      expect((await store.createCall(retry)).created).toBe(true);
    });
  });

  describe("retryCall", () => {
    it("redrives a failed call: queued now, fresh attempt budget and deadline", async () => {
      const { store, calls } = context();
      const call = await callIn(store, calls, "failed", T0 + 10);
      const now = T0 + 2_000;
      const result = await store.retryCall(TENANT_A, call.id, now, now + 3_600_000);
      expect(result.type).toBe("ok");
      const redriven = result.type === "ok" ? result.call : undefined;
      expect(redriven).toMatchObject({
        status: "queued",
        runAt: now,
        attempts: 1,
        attemptBase: 1,
        deadlineAt: now + 3_600_000,
        updatedAt: now,
        idempotencyKey: call.idempotencyKey,
      });
      expect(redriven?.error).toBeUndefined();
      expect(redriven?.response).toBeUndefined();
      expect(redriven?.completedAt).toBeUndefined();
      expect(await store.getCall(TENANT_A, call.id)).toStrictEqual(redriven);

      // Its key is held again: the old retention no longer releases it.
      expect(await store.purgeExpiredIdempotencyKeys(now + 10 * RETENTION_MS)).toBe(0);
      const claim = await claimOne(store, now);
      expect(claim.call.id).toBe(call.id);
      expect(await store.commitAttempt(commitOf(claim, now + 5, succeeded(now + 5)))).toBe(true);
      const attempts = await store.listAttempts(TENANT_A, call.id);
      expect(attempts?.map((a) => a.number)).toEqual([1, 2]);
    });

    it("clears the deadline when redriven without one", async () => {
      const { store, calls } = context();
      const created = calls.call({ deadlineAt: T0 + 100_000 });
      await store.createCall(created);
      const claim = await claimOne(store, T0 + 10);
      await store.commitAttempt(commitOf(claim, T0 + 20, failed(T0 + 20)));
      const result = await store.retryCall(TENANT_A, created.id, T0 + 30, undefined);
      expect(result.type === "ok" && result.call.deadlineAt).toBeUndefined();
    });

    it("makes a waiting call due now", async () => {
      const { store, calls } = context();
      const call = await callIn(store, calls, "waiting", T0 + 10);
      const now = T0 + 500;
      const result = await store.retryCall(TENANT_A, call.id, now, undefined);
      expect(result).toMatchObject({ type: "ok", call: { status: "waiting", runAt: now } });
      expect(await store.nextWakeAt()).toBe(now);
      expect((await claimOne(store, now)).call.id).toBe(call.id);
    });

    for (const state of ["queued", "running", "succeeded", "cancelled"] as const) {
      it(`refuses to retry a ${state} call`, async () => {
        const { store, calls } = context();
        const call = await callIn(store, calls, state, T0 + 10);
        const result = await store.retryCall(TENANT_A, call.id, T0 + 500, undefined);
        expect(result).toStrictEqual({ type: "invalid_state", call });
        expect(await store.getCall(TENANT_A, call.id)).toStrictEqual(call);
      });
    }

    it("does not find another tenant's call or an unknown id", async () => {
      const { store, calls } = context();
      const call = await callIn(store, calls, "failed", T0 + 10);
      expect(await store.retryCall(TENANT_B, call.id, T0 + 20, undefined)).toEqual({
        type: "not_found",
      });
      expect(await store.retryCall(TENANT_A, calls.id(T0), T0 + 20, undefined)).toEqual({
        type: "not_found",
      });
      expect(await store.getCall(TENANT_A, call.id)).toStrictEqual(call);
    });
  });
}
