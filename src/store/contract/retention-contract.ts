// Store contract: retention (issue 14). Ended calls and runs are deleted in batches, oldest end
// first, with what belongs to them; live work, held idempotency keys, callbacks being delivered
// and the children of live runs are kept (core/retention-log.ts).
import { describe, expect, it } from "vitest";
import type { CallId } from "../../core/ids.ts";
import type { CallTransition, NewCall, Store } from "../../core/store.ts";
import {
  claimOne,
  claimRun,
  commitOf,
  completedStep,
  failed,
  NO_STEPS,
  RETENTION_MS,
  runRef,
  stepAttempt,
  succeeded,
  T0,
  TENANT_A,
  TENANT_B,
  waiting,
  type CallFactory,
} from "./fixtures.ts";
import type { GetContext } from "./store-contract.ts";

/** Long after every key of the suite expired (`succeeded(now)` holds a key `RETENTION_MS`). */
const LATER = T0 + 10 * RETENTION_MS;
/** A limit larger than any test's batch. */
const ALL = 1_000;

/**
 * Creates `call` and ends it at `at` as `transition(at)` says, with a callback delivery when
 * `delivery` (returned); the call must be the only one due at `at`.
 */
async function endCall(
  store: Store,
  calls: CallFactory,
  call: NewCall,
  at: number,
  transition: (now: number) => CallTransition = succeeded,
  delivery = false,
): Promise<CallId | undefined> {
  await store.createCall(call);
  const claim = await claimOne(store, at);
  expect(claim.call.id).toBe(call.id);
  const followUp = delivery
    ? calls.call({ kind: "callback", parentId: call.id, createdAt: at, runAt: at })
    : undefined;
  const commit = commitOf(claim, at, transition(at));
  expect(await store.commitAttempt(followUp === undefined ? commit : { ...commit, followUp })).toBe(
    true,
  );
  return followUp?.id;
}

/** Declares the retention tests of the store contract. */
export function describeRetentionContract(context: GetContext): void {
  describe("purgeEndedCalls", () => {
    it("deletes calls that ended before the cutoff, of every tenant, oldest end first, with their attempts", async () => {
      const { store, calls } = context();
      // Created a, b; ended b (T0 + 10), a (T0 + 30): the end decides the order, not the id.
      const a = calls.call();
      const b = calls.call({ tenantId: TENANT_B });
      await store.createCall(a);
      const claimA = await claimOne(store, T0 + 5);
      await store.createCall(b);
      const claimB = await claimOne(store, T0 + 6);
      await store.commitAttempt(commitOf(claimB, T0 + 10, failed(T0 + 10)));
      await store.commitAttempt(commitOf(claimA, T0 + 30, succeeded(T0 + 30)));
      const c = calls.call();
      await store.createCall(c);
      await store.cancelCall(TENANT_A, c.id, T0 + 31, T0 + 31);
      const recent = calls.call();
      await endCall(store, calls, recent, T0 + 40);

      const purge = (limit: number) =>
        store.purgeEndedCalls({ endedBefore: T0 + 35, now: LATER, limit });
      expect(await purge(1)).toStrictEqual({ calls: 1, callbacks: 0 });
      expect(await store.getCall(TENANT_B, b.id)).toBeUndefined();
      expect(await store.listAttempts(TENANT_B, b.id)).toBeUndefined();
      expect(await store.getCall(TENANT_A, a.id)).toMatchObject({ status: "succeeded" });
      expect(await purge(5)).toStrictEqual({ calls: 2, callbacks: 0 });
      expect(await purge(5)).toStrictEqual({ calls: 0, callbacks: 0 });
      expect(await store.getCall(TENANT_A, a.id)).toBeUndefined();
      expect(await store.getCall(TENANT_A, c.id)).toBeUndefined();
      // Ended at the cutoff: not before it.
      const kept = await store.purgeEndedCalls({ endedBefore: T0 + 40, now: LATER, limit: ALL });
      expect(kept.calls).toBe(0);
      expect(await store.listAttempts(TENANT_A, recent.id)).toHaveLength(1);
      expect(await store.listCalls(TENANT_A, { limit: 10 })).toMatchObject([{ id: recent.id }]);
    });

    it("never deletes live calls, nor a failed call redriven since", async () => {
      const { store, calls } = context();
      const redriven = calls.call();
      await endCall(store, calls, redriven, T0 + 10, failed);
      expect(await store.retryCall(TENANT_A, redriven.id, T0 + 20, undefined)).toMatchObject({
        type: "ok",
      });
      const retrying = await claimOne(store, T0 + 21);
      await store.commitAttempt(commitOf(retrying, T0 + 22, waiting(T0 + RETENTION_MS)));
      const running = calls.call({ createdAt: T0 + 23 });
      await store.createCall(running);
      await claimOne(store, T0 + 24);
      const queued = calls.call({ runAt: LATER });
      await store.createCall(queued);

      expect(
        await store.purgeEndedCalls({ endedBefore: LATER, now: LATER, limit: ALL }),
      ).toStrictEqual({ calls: 0, callbacks: 0 });
      expect(await store.getCall(TENANT_A, redriven.id)).toMatchObject({ status: "waiting" });
      expect(await store.getCall(TENANT_A, running.id)).toMatchObject({ status: "running" });
      expect(await store.getCall(TENANT_A, queued.id)).toMatchObject({ status: "queued" });
    });

    it("keeps a call until its idempotency key expires, keyed or not", async () => {
      const { store, calls } = context();
      const keyed = calls.call({ idempotencyKey: "order-42", fingerprint: "fp" });
      await endCall(store, calls, keyed, T0 + 10);
      const plain = calls.call();
      await endCall(store, calls, plain, T0 + 20);
      const expiry = (at: number) => at + RETENTION_MS;
      const purge = (now: number) =>
        store.purgeEndedCalls({ endedBefore: T0 + 100, now, limit: ALL });

      expect(await purge(expiry(T0 + 10))).toStrictEqual({ calls: 0, callbacks: 0 });
      expect(await purge(expiry(T0 + 10) + 1)).toStrictEqual({ calls: 1, callbacks: 0 });
      expect(await store.getCall(TENANT_A, keyed.id)).toBeUndefined();
      // Its key went with it: the same key makes a new call.
      const again = calls.call({ idempotencyKey: "order-42", fingerprint: "fp" });
      expect(await store.createCall(again)).toMatchObject({ created: true });
      expect(await purge(expiry(T0 + 20) + 1)).toStrictEqual({ calls: 1, callbacks: 0 });
      expect(await store.getCall(TENANT_A, plain.id)).toBeUndefined();
    });

    it("keeps a call while its callback is being delivered, then deletes both", async () => {
      const { store, calls } = context();
      const call = calls.call();
      const delivery = await endCall(store, calls, call, T0 + 10, succeeded, true);
      const purge = () => store.purgeEndedCalls({ endedBefore: LATER, now: LATER, limit: ALL });
      expect(await purge()).toStrictEqual({ calls: 0, callbacks: 0 });

      const first = await claimOne(store, T0 + 20);
      expect(first.call.id).toBe(delivery);
      await store.commitAttempt(commitOf(first, T0 + 21, waiting(T0 + 5_000, "retry after 500")));
      expect(await purge()).toStrictEqual({ calls: 0, callbacks: 0 });

      const second = await claimOne(store, T0 + 5_000);
      await store.commitAttempt(commitOf(second, T0 + 5_001, failed(T0 + 5_001)));
      expect(await purge()).toStrictEqual({ calls: 1, callbacks: 1 });
      expect(await store.getCall(TENANT_A, call.id)).toBeUndefined();
      expect(await store.getCall(TENANT_A, delivery!)).toBeUndefined();
      expect(await store.listAttempts(TENANT_A, delivery!)).toBeUndefined();
      expect(await store.getCallbackDelivery(TENANT_A, call.id)).toBeUndefined();
    });

    it("keeps a call started by a run's step while the run is live", async () => {
      const { store, calls, runs } = context();
      const start = runs.run();
      await store.createRun(start);
      const ref = runRef(await claimRun(store, T0 + 10));
      const child = runs.childCall(calls, start.uid, T0 + 11);
      await store.commitSteps(ref, { ...NO_STEPS, calls: [child] }, T0 + 11);
      const claim = await claimOne(store, T0 + 12);
      await store.commitAttempt(commitOf(claim, T0 + 13, succeeded(T0 + 13)));
      const purge = () => store.purgeEndedCalls({ endedBefore: LATER, now: LATER, limit: ALL });

      expect(await purge()).toStrictEqual({ calls: 0, callbacks: 0 });
      expect(
        await store.finishRun(ref, { status: "succeeded", output: "1" }, NO_STEPS, T0 + 20),
      ).toBe(true);
      expect(await purge()).toStrictEqual({ calls: 1, callbacks: 0 });
      expect(await store.getCall(TENANT_A, child.id)).toBeUndefined();
    });
  });

  describe("purgeEndedRuns", () => {
    it("deletes runs that ended before the cutoff, oldest end first, with their steps and attempts", async () => {
      const { store, runs } = context();
      const ended = [T0 + 30, T0 + 10, T0 + 20].map((at) => ({ at, run: runs.run() }));
      for (const { at, run } of ended) {
        await store.createEndedRun(
          run,
          { status: "succeeded", output: '"done"' },
          {
            checkpoints: [completedStep("plan", '"p"', at - 1)],
            attempts: [stepAttempt("plan", 1, at - 2)],
          },
          at,
        );
      }
      const recent = runs.run();
      await store.createEndedRun(recent, { status: "cancelled" }, NO_STEPS, T0 + 40);
      const live = runs.run({ runAt: LATER });
      await store.createRun(live);
      const purge = (limit: number) =>
        store.purgeEndedRuns({ endedBefore: T0 + 40, now: LATER, limit });

      expect(await purge(1)).toBe(1);
      expect(await store.getRun(TENANT_A, ended[1]!.run.id)).toBeUndefined();
      expect(await store.getRun(TENANT_A, ended[2]!.run.id)).toMatchObject({
        checkpoints: [{ stepId: "plan" }],
      });
      expect(await purge(5)).toBe(2);
      expect(await purge(5)).toBe(0);
      expect(await store.getRunByUid(ended[0]!.run.uid)).toBeUndefined();
      expect(await store.getRunByUid(recent.uid)).toMatchObject({ status: "cancelled" });
      expect(await store.getRunByUid(live.uid)).toMatchObject({ status: "queued" });
      // The id of a deleted run starts a new one.
      const again = runs.run({ id: ended[0]!.run.id });
      expect(await store.createRun(again)).toMatchObject({ created: true });
    });

    it("deletes a run's values larger than 256 KiB with it", async () => {
      const { store, runs } = context();
      const big = (seed: string) => JSON.stringify({ seed, text: `${seed} `.repeat(70_000) });
      const run = runs.run({ input: big("input") });
      await store.createEndedRun(
        run,
        { status: "succeeded", output: big("output") },
        { checkpoints: [completedStep("load", big("step"), T0 + 11)], attempts: [] },
        T0 + 12,
      );
      expect(await store.purgeEndedRuns({ endedBefore: T0 + 13, now: LATER, limit: ALL })).toBe(1);
      expect(await store.getRun(TENANT_A, run.id)).toBeUndefined();
      const again = runs.run({ id: run.id, input: big("again") });
      await store.createEndedRun(again, { status: "cancelled" }, NO_STEPS, T0 + 14);
      expect((await store.getRun(TENANT_A, run.id))?.run.input).toBe(big("again"));
    });

    it("keeps a child run while its parent is live; an ended parent does not keep its children", async () => {
      const { store, runs } = context();
      const parent = runs.run();
      await store.createRun(parent);
      const ref = runRef(await claimRun(store, T0 + 10));
      const child = runs.run({ parent: { uid: parent.uid, stepId: "sub" }, createdAt: T0 + 11 });
      const live = runs.run({
        parent: { uid: parent.uid, stepId: "sub-2" },
        createdAt: T0 + 11,
        runAt: LATER,
      });
      await store.commitSteps(ref, { ...NO_STEPS, runs: [child, live] }, T0 + 11);
      const claimed = await claimRun(store, T0 + 12);
      expect(claimed.run.uid).toBe(child.uid);
      await store.finishRun(runRef(claimed), { status: "cancelled" }, NO_STEPS, T0 + 13);
      const purge = () => store.purgeEndedRuns({ endedBefore: LATER, now: LATER, limit: ALL });

      expect(await purge()).toBe(0);
      await store.finishRun(ref, { status: "succeeded", output: "1" }, NO_STEPS, T0 + 20);
      expect(await purge()).toBe(2);
      expect(await store.getRunByUid(child.uid)).toBeUndefined();
      expect(await store.getRunByUid(parent.uid)).toBeUndefined();
      expect(await store.getRunByUid(live.uid)).toMatchObject({ status: "queued" });
    });
  });
}
