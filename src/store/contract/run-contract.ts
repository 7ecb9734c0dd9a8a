// Store contract: workflow runs on the work queue (issue 11): created once per tenant and id,
// claimed by the engines that registered their workflow, committed step by step under a fenced
// lease, parked, woken (without losing a wake-up), and ended, waking their parent.
import { describe, expect, it } from "vitest";
import type { RunRecord, RunUid } from "../../core/store.ts";
import { nextCheckpoint, type Checkpoint } from "../../core/workflow/checkpoint.ts";
import {
  claimRun,
  claimRuns,
  completedStep,
  LEASE_MS,
  NO_STEPS,
  retryingStep,
  runRef,
  stepAttempt,
  stepId,
  T0,
  TENANT_A,
  TENANT_B,
  waitingForEvent,
  WORKER,
  WORKFLOW,
} from "./fixtures.ts";
import type { GetContext } from "./store-contract.ts";

const HOUR = 3_600_000;

/** Declares the run tests of the store contract: create, claim, commit, park, finish, wake. */
export function describeRunContract(context: GetContext): void {
  async function runOf(uid: RunUid): Promise<RunRecord> {
    const run = await context().store.getRunByUid(uid);
    if (run === undefined) throw new Error(`Run ${uid} not found.`);
    return run;
  }

  describe("createRun", () => {
    it("creates a queued run due at its runAt (its creation when absent), read back the same", async () => {
      const { store, runs } = context();
      const now = runs.run();
      const later = runs.run({ runAt: T0 + HOUR });
      const created = await store.createRun(now);
      expect(created).toStrictEqual({
        created: true,
        run: {
          uid: now.uid,
          tenantId: TENANT_A,
          id: now.id,
          workflow: WORKFLOW,
          status: "queued",
          phase: "forward",
          runAt: now.createdAt,
          input: now.input,
          inputFingerprint: now.inputFingerprint,
          invocations: 0,
          crashesInARow: 0,
          createdAt: now.createdAt,
          updatedAt: now.createdAt,
        },
      });
      expect(await store.getRunByUid(now.uid)).toStrictEqual(created.run);
      expect(await store.getRun(TENANT_A, now.id)).toStrictEqual({
        run: created.run,
        checkpoints: [],
        attempts: [],
      });
      expect((await store.createRun(later)).run.runAt).toBe(T0 + HOUR);
      expect(await store.nextRunWakeAt([WORKFLOW])).toBe(now.createdAt);
    });

    it("keeps ids per tenant: an id the tenant has comes back unchanged, not created", async () => {
      const { store, runs } = context();
      const first = runs.run({ id: "order-x" });
      const { run } = await store.createRun(first);
      const again = runs.run({ id: "order-x", input: '{"other":true}', workflow: "refund" });
      expect(await store.createRun(again)).toStrictEqual({ created: false, run });
      expect(await store.getRunByUid(again.uid)).toBeUndefined();
      // The same id in another tenant is another run.
      const other = runs.run({ id: "order-x", tenantId: TENANT_B });
      expect(await store.createRun(other)).toMatchObject({
        created: true,
        run: { uid: other.uid, tenantId: TENANT_B, id: "order-x" },
      });
      expect((await store.getRun(TENANT_B, "order-x"))?.run.uid).toBe(other.uid);
      expect((await store.getRun(TENANT_A, "order-x"))?.run.uid).toBe(first.uid);

      // Ended, it still holds its id.
      const claim = (await claimRuns(store, T0 + 10, 2)).find((c) => c.run.uid === first.uid)!;
      expect(await store.finishRun(runRef(claim), { status: "cancelled" }, NO_STEPS, T0 + 11)).toBe(
        true,
      );
      expect(await store.createRun(runs.run({ id: "order-x" }))).toMatchObject({
        created: false,
        run: { uid: first.uid, status: "cancelled" },
      });
    });

    it("creates exactly one of concurrent creates of one id, and all agree on it", async () => {
      const { store, runs } = context();
      const starts = Array.from({ length: 8 }, (_, i) =>
        runs.run({ id: "order-race", input: `{"n":${i}}` }),
      );
      const results = await Promise.all(starts.map((run) => store.createRun(run)));
      const created = results.filter((r) => r.created);
      expect(created).toHaveLength(1);
      for (const result of results) expect(result.run).toStrictEqual(created[0]!.run);
      expect(await store.listRuns({ tenantId: TENANT_A, limit: 100 })).toHaveLength(1);
    });

    it("creates a run claimed by its creator (running, token 1, one invocation), taken over when its lease ends", async () => {
      const { store, runs } = context();
      const leaseEnd = T0 + 1_000;
      const start = runs.run();
      const created = await store.createRun(start, { workerId: WORKER, leaseExpiresAt: leaseEnd });
      expect(created.created).toBe(true);
      expect(created.run).toMatchObject({ status: "running", phase: "forward", invocations: 1 });
      expect(created.run.runAt).toBeUndefined();
      expect(await store.getRunByUid(start.uid)).toStrictEqual(created.run);
      expect(await store.nextRunWakeAt([WORKFLOW])).toBe(leaseEnd);
      await claimRuns(store, leaseEnd - 1, 0);
      const own = { uid: start.uid, leaseToken: 1 };
      expect(
        await store.commitSteps(
          own,
          { checkpoints: [completedStep("a", "1", T0 + 5)], attempts: [] },
          T0 + 5,
        ),
      ).toBe(true);

      const takeover = await claimRun(store, leaseEnd);
      expect(takeover).toMatchObject({
        run: { uid: start.uid, status: "running", invocations: 2 },
        leaseToken: 2,
        leaseExpiresAt: leaseEnd + LEASE_MS,
        takenOver: true,
        checkpoints: [completedStep("a", "1", T0 + 5)],
      });
      expect(await store.commitSteps(own, NO_STEPS, leaseEnd + 1)).toBe(false);
    });

    it("records the parent of a run started by a step", async () => {
      const { store, runs } = context();
      const parent = runs.run();
      await store.createRun(parent);
      const child = runs.run({ parent: { uid: parent.uid, stepId: "approve" } });
      expect((await store.createRun(child)).run.parent).toEqual({
        uid: parent.uid,
        stepId: "approve",
      });
      expect((await runOf(child.uid)).parent).toEqual({ uid: parent.uid, stepId: "approve" });
      expect((await runOf(parent.uid)).parent).toBeUndefined();
    });
  });

  describe("claimDueRuns, nextRunWakeAt", () => {
    it("claims due runs of the named workflows only, earliest runAt first, up to the limit", async () => {
      const { store, runs } = context();
      const second = runs.run({ runAt: T0 + 20 });
      const first = runs.run({ runAt: T0 + 10 });
      const notDue = runs.run({ runAt: T0 + 100 });
      const refund = runs.run({ workflow: "refund", runAt: T0 });
      const created = new Map<RunUid, RunRecord>();
      for (const run of [second, first, notDue, refund]) {
        created.set(run.uid, (await store.createRun(run)).run);
      }
      expect(await store.nextRunWakeAt([WORKFLOW])).toBe(T0 + 10);
      expect(await store.nextRunWakeAt(["refund"])).toBe(T0);
      expect(await store.nextRunWakeAt(["unknown"])).toBeUndefined();
      expect(await store.nextRunWakeAt([])).toBeUndefined();

      const now = T0 + 50;
      const [a] = await store.claimDueRuns({
        now,
        limit: 1,
        leaseMs: LEASE_MS,
        workerId: WORKER,
        workflows: [WORKFLOW],
      });
      const { runAt: _dueAt, ...claimed } = created.get(first.uid)!;
      expect(a).toStrictEqual({
        run: { ...claimed, status: "running", invocations: 1, updatedAt: now },
        checkpoints: [],
        leaseToken: 1,
        leaseExpiresAt: now + LEASE_MS,
      });
      const rest = await claimRuns(store, now, 1);
      expect(rest.map((c) => c.run.uid)).toEqual([second.uid]);
      expect(await store.nextRunWakeAt([WORKFLOW])).toBe(T0 + 100);
      const both = await claimRuns(store, T0 + 100, 2, [WORKFLOW, "refund"]);
      expect(both.map((c) => c.run.uid)).toEqual([refund.uid, notDue.uid]);
      expect(await store.nextRunWakeAt([WORKFLOW, "refund"])).toBe(now + LEASE_MS);
    });

    it("takes over a run whose lease expired: a new token, an invocation counted, the old token fenced", async () => {
      const { store, runs } = context();
      await store.createRun(runs.run());
      const first = await claimRun(store, T0 + 10);
      await claimRuns(store, T0 + 10 + LEASE_MS - 1, 0);
      const second = await claimRun(store, T0 + 10 + LEASE_MS);
      expect(second).toMatchObject({
        run: { uid: first.run.uid, status: "running", invocations: 2 },
        leaseToken: first.leaseToken + 1,
        takenOver: true,
      });
      expect(first.takenOver).toBeUndefined();
      const at = T0 + 20 + LEASE_MS;
      expect(await store.commitSteps(runRef(first), NO_STEPS, at)).toBe(false);
      expect(await store.renewRunLeases([runRef(first)], at + LEASE_MS, at)).toEqual([
        runRef(first),
      ]);
      expect(await store.commitSteps(runRef(second), NO_STEPS, at)).toBe(true);
    });

    it("counts takeovers in a row without a commit, and starts again at a commit or a park", async () => {
      const { store, runs } = context();
      await store.createRun(runs.run());
      let at = T0 + 10;
      const first = await claimRun(store, at);
      expect(first.run.crashesInARow).toBe(0);
      at += LEASE_MS;
      expect((await claimRun(store, at)).run.crashesInARow).toBe(1);
      at += LEASE_MS;
      const third = await claimRun(store, at);
      expect(third.run.crashesInARow).toBe(2);
      expect(await store.commitSteps(runRef(third), NO_STEPS, at + 1)).toBe(true);
      expect((await store.getRunByUid(third.run.uid))?.crashesInARow).toBe(0);
      at += LEASE_MS;
      const fourth = await claimRun(store, at);
      expect(fourth.run.crashesInARow).toBe(1);
      expect(
        await store.parkRun(
          runRef(fourth),
          { status: "sleeping", phase: "forward", runAt: at + 5 },
          NO_STEPS,
          at + 1,
        ),
      ).toBe(true);
      // Claimed from its park: not a takeover.
      expect((await claimRun(store, at + 5)).run.crashesInARow).toBe(0);
    });

    it("returns each claim's checkpoints in the order their steps were first recorded", async () => {
      const { store, runs } = context();
      await store.createRun(runs.run());
      const claim = await claimRun(store, T0 + 10);
      const b1 = retryingStep("b", T0 + 11, 1, T0 + 20);
      const a = completedStep("a", '"a"', T0 + 12);
      const c = waitingForEvent("c", "order.approved", T0 + 13);
      expect(
        await store.commitSteps(runRef(claim), { checkpoints: [b1, a], attempts: [] }, T0 + 12),
      ).toBe(true);
      const b2 = completedStep("b", '"b"', T0 + 14, 2);
      expect(
        await store.commitSteps(runRef(claim), { checkpoints: [c, b2], attempts: [] }, T0 + 14),
      ).toBe(true);
      await store.releaseRuns([runRef(claim)], T0 + 15);
      const again = await claimRun(store, T0 + 15);
      expect(again.checkpoints).toStrictEqual([b2, a, c]);
      expect(again.leaseToken).toBe(claim.leaseToken + 1);
      expect(again.takenOver).toBeUndefined();
    });

    it("claims a run in its compensating phase as compensating, and releases it queued in that phase", async () => {
      const { store, runs } = context();
      await store.createRun(runs.run());
      const claim = await claimRun(store, T0 + 10);
      const park = {
        status: "waiting",
        waitCode: "retry_backoff",
        phase: "compensating",
        runAt: T0 + 100,
      } as const;
      expect(await store.parkRun(runRef(claim), park, NO_STEPS, T0 + 11)).toBe(true);
      expect(await runOf(claim.run.uid)).toMatchObject({
        status: "waiting",
        waitCode: "retry_backoff",
        phase: "compensating",
        runAt: T0 + 100,
      });
      const compensating = await claimRun(store, T0 + 100);
      expect(compensating.run).toMatchObject({ status: "compensating", phase: "compensating" });
      expect(compensating.run.waitCode).toBeUndefined();
      await store.releaseRuns([runRef(compensating)], T0 + 101);
      expect(await runOf(claim.run.uid)).toMatchObject({
        status: "queued",
        phase: "compensating",
        runAt: T0 + 101,
      });
      expect((await claimRun(store, T0 + 101)).run.status).toBe("compensating");
    });
  });

  describe("commitSteps", () => {
    it("replaces a step's checkpoint, appends attempts and leaves an attempt already recorded as it was", async () => {
      const { store, runs } = context();
      const start = runs.run();
      await store.createRun(start);
      const ref = runRef(await claimRun(store, T0 + 10));
      const first = stepAttempt("charge", 1, T0 + 11, true);
      expect(
        await store.commitSteps(
          ref,
          { checkpoints: [retryingStep("charge", T0 + 11, 1, T0 + 1_026)], attempts: [first] },
          T0 + 26,
        ),
      ).toBe(true);
      const done = completedStep("charge", '{"paid":true}', T0 + 1_050, 2);
      const second = stepAttempt("charge", 2, T0 + 1_030);
      expect(
        await store.commitSteps(
          ref,
          // Attempt 1 again, different: the one recorded stays.
          { checkpoints: [done], attempts: [stepAttempt("charge", 1, T0 + 999), second] },
          T0 + 1_050,
        ),
      ).toBe(true);
      expect(await store.getRun(TENANT_A, start.id)).toMatchObject({
        checkpoints: [done],
        attempts: [first, second],
      });
    });

    it("keeps a received event's id on its step and an attempt's fractional duration", async () => {
      const { store, runs } = context();
      const start = runs.run();
      await store.createRun(start);
      const ref = runRef(await claimRun(store, T0 + 10));
      const received: Checkpoint = {
        ...nextCheckpoint(
          waitingForEvent("approval", "order.approved", T0 + 11),
          { type: "resolved", output: '{"ok":true}', at: T0 + 20 },
          stepId("approval"),
        ),
        eventId: "evt-7",
      } as Checkpoint;
      const timed = { ...stepAttempt("charge", 1, T0 + 11), durationMs: 12.375 };
      expect(
        await store.commitSteps(ref, { checkpoints: [received], attempts: [timed] }, T0 + 20),
      ).toBe(true);
      const detail = await store.getRun(TENANT_A, start.id);
      expect(detail?.checkpoints).toEqual([received]);
      expect(detail?.attempts).toEqual([timed]);
      await store.releaseRuns([ref], T0 + 30);
      expect((await claimRun(store, T0 + 30)).checkpoints).toEqual([received]);
    });

    it("writes nothing under a lease token that no longer owns the run", async () => {
      const { store, runs, calls } = context();
      const start = runs.run();
      await store.createRun(start);
      const stale = runRef(await claimRun(store, T0 + 10));
      const fresh = await claimRun(store, T0 + 10 + LEASE_MS);
      const child = runs.childCall(calls, start.uid, T0 + LEASE_MS + 20);
      const childRun = runs.run({ parent: { uid: start.uid, stepId: "sub" } });
      const batch = {
        checkpoints: [completedStep("a", "1", T0 + LEASE_MS + 20)],
        attempts: [stepAttempt("a", 1, T0 + LEASE_MS + 5)],
        calls: [child],
        runs: [childRun],
      };
      expect(await store.commitSteps(stale, batch, T0 + LEASE_MS + 20)).toBe(false);
      expect(
        await store.parkRun(
          stale,
          { status: "sleeping", phase: "forward", runAt: T0 + HOUR },
          batch,
          T0 + LEASE_MS + 20,
        ),
      ).toBe(false);
      expect(
        await store.finishRun(
          stale,
          { status: "succeeded", output: "1" },
          batch,
          T0 + LEASE_MS + 20,
        ),
      ).toBe(false);
      expect(await store.getRun(TENANT_A, start.id)).toMatchObject({
        checkpoints: [],
        attempts: [],
      });
      expect(await store.getCall(TENANT_A, child.id)).toBeUndefined();
      expect(await store.getRunByUid(childRun.uid)).toBeUndefined();
      expect(await runOf(start.uid)).toMatchObject({ status: "running" });
      expect(await store.commitSteps(runRef(fresh), NO_STEPS, T0 + LEASE_MS + 21)).toBe(true);
      // Nor for a run that is not claimed, nor one that does not exist.
      await store.releaseRuns([runRef(fresh)], T0 + LEASE_MS + 22);
      expect(await store.commitSteps(runRef(fresh), NO_STEPS, T0 + LEASE_MS + 23)).toBe(false);
      const unknown = { uid: runs.uid(T0), leaseToken: 1 };
      expect(await store.commitSteps(unknown, NO_STEPS, T0 + LEASE_MS + 23)).toBe(false);
    });

    it("creates the child calls of the batch queued, with their parent run", async () => {
      const { store, runs, calls } = context();
      const start = runs.run();
      await store.createRun(start);
      const ref = runRef(await claimRun(store, T0 + 10));
      const child = runs.childCall(calls, start.uid, T0 + 11);
      expect(await store.commitSteps(ref, { ...NO_STEPS, calls: [child] }, T0 + 11)).toBe(true);
      expect(await store.getCall(TENANT_A, child.id)).toMatchObject({
        id: child.id,
        kind: "call",
        status: "queued",
        parentRun: start.uid,
        runAt: T0 + 11,
      });
      // A call of the queue like any other.
      const [claimed] = await store.claimDue({
        now: T0 + 11,
        limit: 5,
        leaseMs: LEASE_MS,
        workerId: WORKER,
      });
      expect(claimed?.call).toMatchObject({ id: child.id, parentRun: start.uid });
    });

    it("creates the child runs of the batch queued, and leaves a run the tenant has under that id as it is", async () => {
      const { store, runs } = context();
      const start = runs.run();
      await store.createRun(start);
      const existing = runs.run({ id: "child-2", input: '"first"', runAt: T0 + HOUR });
      const { run: kept } = await store.createRun(existing);
      const ref = runRef(await claimRun(store, T0 + 10));
      const fresh = runs.run({
        id: "child-1",
        parent: { uid: start.uid, stepId: "one" },
        runAt: T0 + 11,
        createdAt: T0 + 11,
      });
      const again = runs.run({
        id: "child-2",
        parent: { uid: start.uid, stepId: "two" },
        createdAt: T0 + 11,
      });
      expect(await store.commitSteps(ref, { ...NO_STEPS, runs: [fresh, again] }, T0 + 11)).toBe(
        true,
      );
      expect(await runOf(fresh.uid)).toMatchObject({
        id: "child-1",
        status: "queued",
        runAt: T0 + 11,
        parent: { uid: start.uid, stepId: "one" },
      });
      expect(await store.getRunByUid(again.uid)).toBeUndefined();
      expect(await runOf(existing.uid)).toStrictEqual(kept);
    });
  });

  describe("parkRun", () => {
    it("parks a run sleeping until its runAt: its lease ends, it is due then", async () => {
      const { store, runs } = context();
      const start = runs.run();
      await store.createRun(start);
      const claim = await claimRun(store, T0 + 10);
      const nap = completedStep("nap", "null", T0 + 11, 0);
      const park = { status: "sleeping", phase: "forward", runAt: T0 + HOUR } as const;
      expect(
        await store.parkRun(runRef(claim), park, { checkpoints: [nap], attempts: [] }, T0 + 11),
      ).toBe(true);
      const parked = await runOf(start.uid);
      expect(parked).toMatchObject({ status: "sleeping", phase: "forward", runAt: T0 + HOUR });
      expect(parked.waitCode).toBeUndefined();
      expect((await store.getRun(TENANT_A, start.id))?.checkpoints).toStrictEqual([nap]);
      expect(
        await store.listRuns({ tenantId: TENANT_A, status: "sleeping", limit: 10 }),
      ).toHaveLength(1);
      expect(await store.commitSteps(runRef(claim), NO_STEPS, T0 + 12)).toBe(false);
      expect(await store.renewRunLeases([runRef(claim)], T0 + LEASE_MS, T0 + 12)).toEqual([
        runRef(claim),
      ]);
      expect(await store.nextRunWakeAt([WORKFLOW])).toBe(T0 + HOUR);
      await claimRuns(store, T0 + HOUR - 1, 0);
      const woke = await claimRun(store, T0 + HOUR);
      expect(woke).toMatchObject({
        run: { status: "running", invocations: 2 },
        checkpoints: [nap],
      });
      expect(woke.takenOver).toBeUndefined();
    });

    it("parks a run waiting on an event without a time: never due by time alone", async () => {
      const { store, runs } = context();
      const start = runs.run();
      await store.createRun(start);
      const claim = await claimRun(store, T0 + 10);
      const step = waitingForEvent("approval", "order.approved", T0 + 11);
      const park = {
        status: "waiting",
        waitCode: "event",
        phase: "forward",
        events: ["order.approved"],
      } as const;
      expect(
        await store.parkRun(runRef(claim), park, { checkpoints: [step], attempts: [] }, T0 + 11),
      ).toBe(true);
      const parked = await runOf(start.uid);
      expect(parked).toMatchObject({ status: "waiting", waitCode: "event", phase: "forward" });
      expect(parked.runAt).toBeUndefined();
      expect(await store.nextRunWakeAt([WORKFLOW])).toBeUndefined();
      await claimRuns(store, T0 + 100 * HOUR, 0);
    });

    it("leaves a run woken while it ran due at once when it parks: no wake-up is lost", async () => {
      const { store, runs } = context();
      const start = runs.run();
      await store.createRun(start);
      const claim = await claimRun(store, T0 + 10);
      expect(await store.wakeRuns([start.uid], T0 + 12)).toBe(1);
      expect(await runOf(start.uid)).toMatchObject({ status: "running" });
      const park = { status: "waiting", waitCode: "child_run", phase: "forward" } as const;
      expect(await store.parkRun(runRef(claim), park, NO_STEPS, T0 + 15)).toBe(true);
      expect(await runOf(start.uid)).toMatchObject({ status: "waiting", runAt: T0 + 15 });
      // The wake-up is spent by the claim: the next park is not due at once.
      const next = await claimRun(store, T0 + 15);
      const sleep = { status: "sleeping", phase: "forward", runAt: T0 + HOUR } as const;
      expect(await store.parkRun(runRef(next), sleep, NO_STEPS, T0 + 16)).toBe(true);
      expect(await runOf(start.uid)).toMatchObject({ status: "sleeping", runAt: T0 + HOUR });
      await claimRuns(store, T0 + 17, 0);
    });
  });
}
