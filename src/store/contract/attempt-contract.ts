// Store contract: committing attempts, fencing, follow-up calls and listAttempts.
import { describe, expect, it } from "vitest";
import type { AttemptRecord } from "../../core/call.ts";
import {
  attempt,
  claimAll,
  claimOne,
  commitOf,
  ERROR,
  failed,
  RESPONSE,
  RETENTION_MS,
  succeeded,
  T0,
  TENANT_A,
  TENANT_B,
  waiting,
} from "./fixtures.ts";
import type { GetContext } from "./store-contract.ts";

/** Declares the commitAttempt and listAttempts tests of the store contract. */
export function describeAttemptContract(context: GetContext): void {
  describe("commitAttempt", () => {
    it("records a retry: waiting until runAt, then due again", async () => {
      const { store, calls } = context();
      const call = calls.call();
      await store.createCall(call);
      const claim = await claimOne(store, T0 + 10);
      const commit = commitOf(claim, T0 + 200, waiting(T0 + 5_000, "retry after 503"));
      expect(await store.commitAttempt(commit)).toBe(true);

      const stored = await store.getCall(TENANT_A, call.id);
      expect(stored).toMatchObject({
        status: "waiting",
        attempts: 1,
        runAt: T0 + 5_000,
        waitReason: "retry after 503",
        updatedAt: T0 + 200,
      });
      expect(stored?.completedAt).toBeUndefined();
      expect(await store.listAttempts(TENANT_A, call.id)).toStrictEqual([commit.attempt]);
      expect(await store.nextWakeAt()).toBe(T0 + 5_000);
      await claimAll(store, T0 + 4_999, 0);

      const again = await claimOne(store, T0 + 5_000);
      expect(again.leaseToken).toBeGreaterThan(claim.leaseToken);
      expect(again.call).toMatchObject({ status: "running", attempts: 1 });
      expect(again.call.waitReason).toBeUndefined();
    });

    it("records success: response, completedAt, no runAt, never claimed again", async () => {
      const { store, calls } = context();
      const call = calls.call({ idempotencyKey: "k" });
      await store.createCall(call);
      const claim = await claimOne(store, T0 + 10);
      expect(await store.commitAttempt(commitOf(claim, T0 + 200, succeeded(T0 + 200)))).toBe(true);

      const stored = await store.getCall(TENANT_A, call.id);
      expect(stored).toMatchObject({
        status: "succeeded",
        attempts: 1,
        response: RESPONSE,
        completedAt: T0 + 200,
        updatedAt: T0 + 200,
        idempotencyKey: "k",
      });
      expect(stored?.runAt).toBeUndefined();
      expect(stored?.error).toBeUndefined();
      expect(await store.nextWakeAt()).toBeUndefined();
      await claimAll(store, T0 + 10 * RETENTION_MS, 0);
    });

    it("records failure with its error, and the last response when there is one", async () => {
      const { store, calls } = context();
      const plain = calls.call();
      const withResponse = calls.call();
      await store.createCalls([plain, withResponse]);
      const [a, b] = await claimAll(store, T0 + 10, 2);
      const now = T0 + 300;
      expect(await store.commitAttempt(commitOf(a!, now, failed(now)))).toBe(true);
      const badGateway = { ...RESPONSE, status: 502 };
      expect(await store.commitAttempt(commitOf(b!, now, failed(now, badGateway)))).toBe(true);

      const storedPlain = await store.getCall(TENANT_A, plain.id);
      expect(storedPlain).toMatchObject({ status: "failed", error: ERROR, completedAt: now });
      expect(storedPlain?.response).toBeUndefined();
      expect(await store.getCall(TENANT_A, withResponse.id)).toMatchObject({
        status: "failed",
        error: ERROR,
        response: badGateway,
      });
    });

    it("is fenced: a stale token writes nothing", async () => {
      const { store, calls } = context();
      const call = calls.call();
      await store.createCall(call);
      const stale = await claimOne(store, T0 + 10);
      const current = await claimOne(store, stale.leaseExpiresAt);
      const now = stale.leaseExpiresAt + 10;
      expect(await store.commitAttempt(commitOf(stale, now, succeeded(now)))).toBe(false);
      expect(await store.getCall(TENANT_A, call.id)).toStrictEqual(current.call);
      // Only the takeover's record of the attempt it cut off.
      expect(
        (await store.listAttempts(TENANT_A, call.id))?.map((a) => [a.number, a.outcome.type]),
      ).toEqual([[1, "interrupted"]]);
    });

    it("is fenced after a cancel: the attempt in flight cannot commit", async () => {
      const { store, calls } = context();
      const call = calls.call();
      await store.createCall(call);
      const claim = await claimOne(store, T0 + 10);
      const cancelled = await store.cancelCall(TENANT_A, call.id, T0 + 20, T0 + 20 + RETENTION_MS);
      expect(cancelled.type).toBe("ok");
      const followUp = calls.call({ kind: "callback", parentId: call.id });
      const commit = { ...commitOf(claim, T0 + 30, succeeded(T0 + 30)), followUp };
      expect(await store.commitAttempt(commit)).toBe(false);
      expect((await store.getCall(TENANT_A, call.id))?.status).toBe("cancelled");
      expect(await store.listAttempts(TENANT_A, call.id)).toEqual([]);
      expect(await store.getCall(TENANT_A, followUp.id)).toBeUndefined();
    });

    it("commits once: a second commit with the same token is refused", async () => {
      const { store, calls } = context();
      await store.createCall(calls.call());
      const claim = await claimOne(store, T0 + 10);
      expect(await store.commitAttempt(commitOf(claim, T0 + 20, succeeded(T0 + 20)))).toBe(true);
      expect(await store.commitAttempt(commitOf(claim, T0 + 30, failed(T0 + 30)))).toBe(false);
      expect((await store.getCall(TENANT_A, claim.call.id))?.status).toBe("succeeded");
    });

    it("creates the follow-up call in the same commit", async () => {
      const { store, calls } = context();
      const call = calls.call();
      await store.createCall(call);
      const claim = await claimOne(store, T0 + 10);
      const now = T0 + 200;
      const followUp = calls.call({ kind: "callback", parentId: call.id, createdAt: now });
      expect(await store.commitAttempt({ ...commitOf(claim, now, succeeded(now)), followUp })).toBe(
        true,
      );
      expect(await store.getCall(TENANT_A, followUp.id)).toMatchObject({
        kind: "callback",
        parentId: call.id,
        status: "queued",
        runAt: now,
      });
      const listed = await store.listCalls(TENANT_A, { limit: 10 });
      expect(listed.map((c) => c.id)).toEqual([call.id]);
      const callbacks = await store.listCalls(TENANT_A, { limit: 10, kind: "callback" });
      expect(callbacks.map((c) => c.id)).toEqual([followUp.id]);
      expect((await claimOne(store, now)).call.id).toBe(followUp.id);
    });

    it("commits concurrent attempts independently of a fenced one", async () => {
      const { store, calls } = context();
      await store.createCalls(Array.from({ length: 6 }, () => calls.call()));
      const claims = await claimAll(store, T0 + 10, 6);
      await store.cancelCall(TENANT_A, claims[2]!.call.id, T0 + 20, T0 + 20);
      const now = T0 + 30;
      const results = await Promise.all(
        claims.map((claim) => store.commitAttempt(commitOf(claim, now, succeeded(now)))),
      );
      expect(results).toEqual([true, true, false, true, true, true]);
    });

    it("fails alone when its attempt number is already recorded", async () => {
      const { store, calls } = context();
      await store.createCalls([calls.call(), calls.call()]);
      const [a, b] = await claimAll(store, T0 + 10, 2);
      await store.commitAttempt(commitOf(a!, T0 + 20, waiting(T0 + 30)));
      const again = await claimOne(store, T0 + 30);
      const duplicate = {
        ...commitOf(again, T0 + 40, succeeded(T0 + 40)),
        attempt: attempt(again.call.id, 1, T0 + 35),
      };
      const settled = await Promise.allSettled([
        store.commitAttempt(duplicate),
        store.commitAttempt(commitOf(b!, T0 + 40, succeeded(T0 + 40))),
      ]);
      expect(settled.map((s) => s.status)).toEqual(["rejected", "fulfilled"]);
      expect(await store.getCall(TENANT_A, again.call.id)).toStrictEqual(again.call);
      expect(await store.listAttempts(TENANT_A, again.call.id)).toHaveLength(1);
      expect((await store.getCall(TENANT_A, b!.call.id))?.status).toBe("succeeded");
    });
  });

  describe("listAttempts", () => {
    it("lists attempts in order, omitting unknown timings, for the owning tenant only", async () => {
      const { store, calls } = context();
      const call = calls.call();
      await store.createCall(call);
      const recorded: AttemptRecord[] = [];
      let now = T0 + 10;
      for (let n = 1; n <= 3; n++) {
        const claim = await claimOne(store, now);
        const commit = commitOf(claim, now + 5, n < 3 ? waiting(now + 100) : succeeded(now + 5));
        if (n === 2) {
          commit.attempt = {
            callId: call.id,
            number: 2,
            startedAt: now,
            durationMs: 12.5,
            outcome: { type: "error", code: "connect_refused", message: "ECONNREFUSED" },
            sent: false,
            decision: { type: "retry", delayMs: 95, reason: "connect_refused" },
          };
        }
        expect(await store.commitAttempt(commit)).toBe(true);
        recorded.push(commit.attempt);
        now += 100;
      }
      expect(await store.listAttempts(TENANT_A, call.id)).toStrictEqual(recorded);
      expect(await store.listAttempts(TENANT_B, call.id)).toBeUndefined();
      expect(await store.listAttempts(TENANT_A, calls.id(T0))).toBeUndefined();
      const fresh = calls.call();
      await store.createCall(fresh);
      expect(await store.listAttempts(TENANT_A, fresh.id)).toEqual([]);
    });
  });
}
