// Store contract: how interrupted attempts are recorded and counted (issue 10, item 11). A
// takeover records the attempt it cut off with `sent: "unknown"`; interrupted attempts are kept
// out of `maxAttempts` (`attemptBase`); takeovers in a row are counted (`crashesInARow`) until an
// attempt completes or the call is redriven; and no attempt row can make a takeover fail.
import { describe, expect, it } from "vitest";
import type { AttemptRecord } from "../../core/call.ts";
import type { CallId } from "../../core/ids.ts";
import { stoppedAttempt, takenOverAttempt } from "../../core/interruption.ts";
import type { AttemptCommit, Claim, Store } from "../../core/store.ts";
import {
  attempt,
  claimAll,
  claimOne,
  commitOf,
  failed,
  T0,
  TENANT_A,
  waiting,
  WORKER,
} from "./fixtures.ts";
import type { GetContext } from "./store-contract.ts";

/** Claims the one due call at `now`, which must be a takeover. */
async function takeOver(store: Store, now: number): Promise<Claim> {
  const claim = await claimOne(store, now);
  expect(claim.takenOver).toBe(true);
  return claim;
}

/** A graceful stop's commit of the claim's next attempt: interrupted, due again at `now`. */
function stoppedCommit(claim: Claim, now: number, sent: AttemptRecord["sent"]): AttemptCommit {
  return {
    callId: claim.call.id,
    leaseToken: claim.leaseToken,
    now,
    attempt: {
      callId: claim.call.id,
      number: claim.call.attempts + 1,
      startedAt: now - 50,
      durationMs: 50,
      sent,
      ...stoppedAttempt(1_000),
    },
    transition: waiting(now, "the process stopped"),
  };
}

async function sentOf(store: Store, id: CallId): Promise<AttemptRecord["sent"][] | undefined> {
  return (await store.listAttempts(TENANT_A, id))?.map((a) => a.sent);
}

/** Declares the interrupted-attempt tests of the store contract. */
export function describeInterruptionContract(context: GetContext): void {
  describe("interrupted attempts", () => {
    it("records a takeover's cut-off attempt as sent unknown, outside maxAttempts, and as a crash", async () => {
      const { store, calls } = context();
      const call = calls.call();
      await store.createCall(call);
      const first = await claimOne(store, T0 + 10);
      await store.commitAttempt(commitOf(first, T0 + 200, waiting(T0 + 1_000)));
      const second = await claimOne(store, T0 + 1_000);

      const taken = await takeOver(store, second.leaseExpiresAt);
      expect(taken.call).toMatchObject({ attempts: 2, attemptBase: 1, crashesInARow: 1 });
      const again = await takeOver(store, taken.leaseExpiresAt);
      expect(again.call).toMatchObject({ attempts: 3, attemptBase: 2, crashesInARow: 2 });
      expect(await store.getCall(TENANT_A, call.id)).toStrictEqual(again.call);
      expect(await sentOf(store, call.id)).toEqual([true, "unknown", "unknown"]);
      expect((await store.listAttempts(TENANT_A, call.id))?.[2]).toMatchObject({
        ...takenOverAttempt(WORKER),
        sent: "unknown",
      });

      // An attempt that completes ends the run of crashes; it counts against maxAttempts.
      const now = again.leaseExpiresAt - 1;
      expect(await store.commitAttempt(commitOf(again, now, waiting(now + 1_000)))).toBe(true);
      expect(await store.getCall(TENANT_A, call.id)).toMatchObject({
        attempts: 4,
        attemptBase: 2,
        crashesInARow: 0,
      });
    });

    it("keeps a graceful stop's interrupted attempt outside maxAttempts, without counting it as a crash or ending a run of them", async () => {
      const { store, calls } = context();
      const call = calls.call();
      await store.createCall(call);
      const first = await claimOne(store, T0 + 10);
      const taken = await takeOver(store, first.leaseExpiresAt);
      const now = taken.leaseExpiresAt - 10;
      expect(await store.commitAttempt(stoppedCommit(taken, now, true))).toBe(true);
      const stopped = await store.getCall(TENANT_A, call.id);
      expect(stopped).toMatchObject({
        status: "waiting",
        attempts: 2,
        attemptBase: 2,
        crashesInARow: 1,
      });
      expect(await sentOf(store, call.id)).toEqual(["unknown", true]);

      const next = await claimOne(store, now);
      expect(next.takenOver).toBeUndefined();
      expect(next.call).toMatchObject({ attempts: 2, attemptBase: 2, crashesInARow: 1 });
      expect(await store.commitAttempt(stoppedCommit(next, now + 5, false))).toBe(true);
      expect(await store.getCall(TENANT_A, call.id)).toMatchObject({
        attempts: 3,
        attemptBase: 3,
        crashesInARow: 1,
      });
      expect(await sentOf(store, call.id)).toEqual(["unknown", true, false]);
    });

    it("keeps sent as committed: true, false or unknown", async () => {
      const { store, calls } = context();
      const values: AttemptRecord["sent"][] = [true, false, "unknown"];
      const made = values.map(() => calls.call());
      await store.createCalls(made);
      const claims = await claimAll(store, T0 + 100, made.length);
      for (const [i, claim] of claims.entries()) {
        const commit = commitOf(claim, T0 + 200, waiting(T0 + 1_000));
        commit.attempt = { ...commit.attempt, sent: values[i]! };
        expect(await store.commitAttempt(commit)).toBe(true);
      }
      for (const [i, claim] of claims.entries())
        expect(await sentOf(store, claim.call.id)).toEqual([values[i]]);
    });

    it("starts a redriven call with no crashes counted", async () => {
      const { store, calls } = context();
      const call = calls.call();
      await store.createCall(call);
      const first = await claimOne(store, T0 + 10);
      const taken = await takeOver(store, first.leaseExpiresAt);
      const now = taken.leaseExpiresAt - 10;
      await store.commitAttempt(commitOf(taken, now, failed(now)));
      // Failed by a completed attempt: the run of crashes ended there.
      expect(await store.getCall(TENANT_A, call.id)).toMatchObject({
        attempts: 2,
        attemptBase: 1,
        crashesInARow: 0,
      });

      // Taken over after a redrive, then failed by an interrupted attempt's commit (which the
      // engine never writes, but a store must count as any other): the crash stays counted until
      // the redrive.
      await store.retryCall(TENANT_A, call.id, now + 1, undefined);
      const claim = await claimOne(store, now + 1);
      const over = await takeOver(store, claim.leaseExpiresAt);
      expect(over.call).toMatchObject({ attempts: 3, attemptBase: 3, crashesInARow: 1 });
      const end = over.leaseExpiresAt - 10;
      const stop = stoppedCommit(over, end, true);
      stop.transition = failed(end);
      await store.commitAttempt(stop);
      expect(await store.getCall(TENANT_A, call.id)).toMatchObject({
        status: "failed",
        crashesInARow: 1,
      });
      const result = await store.retryCall(TENANT_A, call.id, end + 1, undefined);
      expect(result.type === "ok" ? result.call : undefined).toMatchObject({
        status: "queued",
        attempts: 4,
        attemptBase: 4,
        crashesInARow: 0,
      });
    });

    it("takes a call over even when an attempt row already holds the number of the one it cut off", async () => {
      const { store, calls } = context();
      const broken = calls.call();
      const healthy = calls.call();
      await store.createCall(broken);
      // An inconsistent log: attempt 2 recorded, then attempt 1, so `attempts` (1) lags it.
      const first = await claimOne(store, T0 + 10);
      const ahead = commitOf(first, T0 + 200, waiting(T0 + 300));
      ahead.attempt = attempt(broken.id, 2, T0 + 80, ahead.attempt.decision, 503);
      expect(await store.commitAttempt(ahead)).toBe(true);
      const second = await claimOne(store, T0 + 300);
      const behind = commitOf(second, T0 + 400, waiting(T0 + 500));
      behind.attempt = { ...behind.attempt, number: 1 };
      expect(await store.commitAttempt(behind)).toBe(true);
      expect(await store.getCall(TENANT_A, broken.id)).toMatchObject({ attempts: 1 });
      const third = await claimOne(store, T0 + 500);
      await store.createCall({ ...healthy, runAt: third.leaseExpiresAt });

      // Its takeover would record attempt 2 again: the row there stays, and both calls are
      // claimed (one bad row must not fail every claim).
      const claims = await claimAll(store, third.leaseExpiresAt, 2);
      expect(claims.map((c) => c.call.id).sort()).toEqual([broken.id, healthy.id].sort());
      const taken = claims.find((c) => c.call.id === broken.id)!;
      expect(taken.call).toMatchObject({ status: "running", attempts: 2, crashesInARow: 1 });
      expect(
        (await store.listAttempts(TENANT_A, broken.id))?.map((a) => [a.number, a.outcome.type]),
      ).toEqual([
        [1, "response"],
        [2, "response"],
      ]);
      // The next attempt is 3, as usual.
      const now = taken.leaseExpiresAt - 1;
      const next = commitOf(taken, now, waiting(now + 1_000));
      expect(next.attempt.number).toBe(3);
      expect(await store.commitAttempt(next)).toBe(true);
    });
  });
}
