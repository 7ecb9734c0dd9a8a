// Store contract: finding a call's callback delivery (getCallbackDelivery).
import { describe, expect, it } from "vitest";
import type { CallRecord } from "../../core/call.ts";
import type { Store } from "../../core/store.ts";
import {
  claimOne,
  commitOf,
  failed,
  succeeded,
  T0,
  TENANT_A,
  TENANT_B,
  waiting,
  type CallFactory,
} from "./fixtures.ts";
import type { GetContext } from "./store-contract.ts";

/** Ends the due call `parent` at `now` (succeeded unless told), creating its delivery. */
async function endWithDelivery(
  store: Store,
  calls: CallFactory,
  parent: CallRecord["id"],
  now: number,
  how: "succeeded" | "failed" = "succeeded",
): Promise<CallRecord["id"]> {
  const claim = await claimOne(store, now);
  expect(claim.call.id).toBe(parent);
  const followUp = calls.call({ kind: "callback", parentId: parent, createdAt: now, runAt: now });
  const transition = how === "succeeded" ? succeeded(now) : failed(now);
  expect(await store.commitAttempt({ ...commitOf(claim, now, transition), followUp })).toBe(true);
  return followUp.id;
}

/** Declares the getCallbackDelivery tests of the store contract. */
export function describeCallbackContract(context: GetContext): void {
  describe("getCallbackDelivery", () => {
    it("finds nothing before the call ends, for an unknown call, or for another tenant", async () => {
      const { store, calls } = context();
      const call = calls.call();
      await store.createCall(call);
      expect(await store.getCallbackDelivery(TENANT_A, call.id)).toBeUndefined();
      expect(await store.getCallbackDelivery(TENANT_A, calls.id(T0))).toBeUndefined();
      await endWithDelivery(store, calls, call.id, T0 + 10);
      expect(await store.getCallbackDelivery(TENANT_B, call.id)).toBeUndefined();
    });

    it("returns the delivery created with the call's end, then its latest attempt", async () => {
      const { store, calls } = context();
      const call = calls.call();
      await store.createCall(call);
      const deliveryId = await endWithDelivery(store, calls, call.id, T0 + 10);

      const fresh = await store.getCallbackDelivery(TENANT_A, call.id);
      expect(fresh?.call).toMatchObject({
        id: deliveryId,
        kind: "callback",
        parentId: call.id,
        status: "queued",
        attempts: 0,
      });
      expect(fresh?.lastAttempt).toBeUndefined();

      const first = await claimOne(store, T0 + 20);
      expect(first.call.id).toBe(deliveryId);
      await store.commitAttempt(commitOf(first, T0 + 30, waiting(T0 + 5_000, "retry after 500")));
      const retrying = await store.getCallbackDelivery(TENANT_A, call.id);
      expect(retrying?.call).toMatchObject({ status: "waiting", attempts: 1, runAt: T0 + 5_000 });
      expect(retrying?.lastAttempt).toMatchObject({ callId: deliveryId, number: 1 });

      const second = await claimOne(store, T0 + 5_000);
      await store.commitAttempt(commitOf(second, T0 + 5_100, succeeded(T0 + 5_100)));
      const delivered = await store.getCallbackDelivery(TENANT_A, call.id);
      expect(delivered?.call).toMatchObject({
        status: "succeeded",
        attempts: 2,
        completedAt: T0 + 5_100,
      });
      expect(delivered?.lastAttempt).toMatchObject({
        callId: deliveryId,
        number: 2,
        decision: { type: "succeed" },
      });
    });

    it("returns the newest delivery when a redriven call ended again", async () => {
      const { store, calls } = context();
      const call = calls.call();
      await store.createCall(call);
      const firstDelivery = await endWithDelivery(store, calls, call.id, T0 + 10, "failed");
      const delivering = await claimOne(store, T0 + 20);
      expect(delivering.call.id).toBe(firstDelivery);
      await store.commitAttempt(commitOf(delivering, T0 + 30, succeeded(T0 + 30)));

      expect((await store.retryCall(TENANT_A, call.id, T0 + 40, undefined)).type).toBe("ok");
      const secondDelivery = await endWithDelivery(store, calls, call.id, T0 + 50);
      const newest = await store.getCallbackDelivery(TENANT_A, call.id);
      expect(newest?.call.id).toBe(secondDelivery);
      expect(newest?.call.status).toBe("queued");
      expect(newest?.lastAttempt).toBeUndefined();
    });
  });
}
