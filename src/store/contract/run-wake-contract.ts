// Store contract: how workflow runs end and wake (issue 11): finished runs keep their end and
// leave the queue, and the end of a child (run or call) wakes its parent in the same transaction;
// wakeRuns and wakeRunsForEvent make parked runs due.
import { describe, expect, it } from "vitest";
import type { ChildCall, RunRecord, RunUid } from "../../core/store.ts";
import type { CompensationReport } from "../../core/workflow/compensation.ts";
import {
  claimRun,
  claimRuns,
  completedStep,
  LEASE_MS,
  NO_STEPS,
  runRef,
  stepAttempt,
  stepId,
  T0,
  TENANT_A,
  TENANT_B,
  WORKER,
  WORKFLOW,
} from "./fixtures.ts";
import type { GetContext } from "./store-contract.ts";

const HOUR = 3_600_000;

/** Declares the run end and wake-up tests of the store contract. */
export function describeRunWakeContract(context: GetContext): void {
  async function runOf(uid: RunUid): Promise<RunRecord> {
    const run = await context().store.getRunByUid(uid);
    if (run === undefined) throw new Error(`Run ${uid} not found.`);
    return run;
  }

  describe("finishRun", () => {
    it("ends a run succeeded with its output: its live state goes, its end is kept", async () => {
      const { store, runs } = context();
      const start = runs.run();
      const { run } = await store.createRun(start);
      const claim = await claimRun(store, T0 + 10);
      const last = completedStep("ship", '"shipped"', T0 + 20);
      const batch = { checkpoints: [last], attempts: [stepAttempt("ship", 1, T0 + 10)] };
      expect(
        await store.finishRun(
          runRef(claim),
          { status: "succeeded", output: '{"ok":1}' },
          batch,
          T0 + 20,
        ),
      ).toBe(true);
      const { runAt: _dueAt, ...live } = run;
      const expected: RunRecord = {
        ...live,
        status: "succeeded",
        output: '{"ok":1}',
        invocations: 1,
        updatedAt: T0 + 20,
        endedAt: T0 + 20,
      };
      expect(await store.getRunByUid(start.uid)).toStrictEqual(expected);
      expect(await store.getRun(TENANT_A, start.id)).toStrictEqual({
        run: expected,
        checkpoints: [last],
        attempts: batch.attempts,
      });
      expect(await store.nextRunWakeAt([WORKFLOW])).toBeUndefined();
      await claimRuns(store, T0 + 10 * LEASE_MS, 0);
      expect(await store.wakeRuns([start.uid], T0 + 30)).toBe(0);
      expect(await store.commitSteps(runRef(claim), NO_STEPS, T0 + 30)).toBe(false);
      expect(await store.finishRun(runRef(claim), { status: "cancelled" }, NO_STEPS, T0 + 30)).toBe(
        false,
      );
      expect(await runOf(start.uid)).toStrictEqual(expected);
    });

    it("ends a run failed (its error, reason and compensation report) or cancelled", async () => {
      const { store, runs } = context();
      const failing = runs.run();
      const diverging = runs.run();
      const cancelling = runs.run();
      for (const run of [failing, diverging, cancelling]) await store.createRun(run);
      const [a, b, c] = await claimRuns(store, T0 + 10, 3);
      const error = {
        name: "TerminalError",
        message: "out of stock",
        code: "out_of_stock",
        terminal: true,
      };
      const compensation: CompensationReport = {
        outcomes: [
          {
            stepId: stepId("reserve"),
            compensationId: stepId("$compensate:reserve"),
            status: "compensated",
          },
        ],
      };
      expect(
        await store.finishRun(
          runRef(a!),
          { status: "failed", error, reason: "error", compensation },
          NO_STEPS,
          T0 + 20,
        ),
      ).toBe(true);
      expect(
        await store.finishRun(
          runRef(b!),
          { status: "failed", error, reason: "diverged" },
          NO_STEPS,
          T0 + 21,
        ),
      ).toBe(true);
      expect(await store.finishRun(runRef(c!), { status: "cancelled" }, NO_STEPS, T0 + 22)).toBe(
        true,
      );
      expect(await runOf(failing.uid)).toMatchObject({
        status: "failed",
        error,
        failReason: "error",
        compensation,
        endedAt: T0 + 20,
      });
      const diverged = await runOf(diverging.uid);
      expect(diverged).toMatchObject({
        status: "failed",
        error,
        failReason: "diverged",
        endedAt: T0 + 21,
      });
      expect(diverged.compensation).toBeUndefined();
      expect(diverged.output).toBeUndefined();
      const cancelled = await runOf(cancelling.uid);
      expect(cancelled).toMatchObject({ status: "cancelled", endedAt: T0 + 22 });
      expect(cancelled.error).toBeUndefined();
    });

    it("wakes the parent run in the transaction that ends a child run", async () => {
      const { store, runs } = context();
      const parent = runs.run();
      await store.createRun(parent);
      const parentClaim = await claimRun(store, T0 + 10);
      const child = runs.run({
        id: "child",
        parent: { uid: parent.uid, stepId: "sub" },
        createdAt: T0 + 11,
      });
      const park = { status: "waiting", waitCode: "child_run", phase: "forward" } as const;
      expect(
        await store.parkRun(runRef(parentClaim), park, { ...NO_STEPS, runs: [child] }, T0 + 11),
      ).toBe(true);
      expect((await runOf(parent.uid)).runAt).toBeUndefined();
      const childClaim = await claimRun(store, T0 + 12);
      expect(childClaim.run.uid).toBe(child.uid);
      expect(
        await store.finishRun(
          runRef(childClaim),
          { status: "succeeded", output: "7" },
          NO_STEPS,
          T0 + 30,
        ),
      ).toBe(true);
      expect(await runOf(parent.uid)).toMatchObject({ status: "waiting", runAt: T0 + 30 });
      expect((await claimRun(store, T0 + 30)).run.uid).toBe(parent.uid);
    });

    it("marks a running parent woken when its child ends, so that its park leaves it due", async () => {
      const { store, runs } = context();
      const parent = runs.run();
      await store.createRun(parent);
      const parentClaim = await claimRun(store, T0 + 10);
      const child = runs.run({
        id: "child",
        parent: { uid: parent.uid, stepId: "sub" },
        createdAt: T0 + 11,
      });
      expect(
        await store.commitSteps(runRef(parentClaim), { ...NO_STEPS, runs: [child] }, T0 + 11),
      ).toBe(true);
      const childClaim = await claimRun(store, T0 + 12);
      expect(
        await store.finishRun(runRef(childClaim), { status: "cancelled" }, NO_STEPS, T0 + 13),
      ).toBe(true);
      const park = { status: "waiting", waitCode: "child_run", phase: "forward" } as const;
      expect(await store.parkRun(runRef(parentClaim), park, NO_STEPS, T0 + 14)).toBe(true);
      expect(await runOf(parent.uid)).toMatchObject({ status: "waiting", runAt: T0 + 14 });
    });
  });

  describe("child calls", () => {
    async function parkedOnCall(): Promise<{ parent: RunUid; call: ChildCall }> {
      const { store, runs, calls } = context();
      const parent = runs.run();
      await store.createRun(parent);
      const claim = await claimRun(store, T0 + 10);
      const call = runs.childCall(calls, parent.uid, T0 + 11);
      const park = { status: "waiting", waitCode: "child_call", phase: "forward" } as const;
      expect(
        await store.parkRun(runRef(claim), park, { ...NO_STEPS, calls: [call] }, T0 + 11),
      ).toBe(true);
      expect((await runOf(parent.uid)).runAt).toBeUndefined();
      return { parent: parent.uid, call };
    }

    async function claimCall(now: number) {
      const claims = await context().store.claimDue({
        now,
        limit: 5,
        leaseMs: LEASE_MS,
        workerId: WORKER,
      });
      expect(claims).toHaveLength(1);
      return claims[0]!;
    }

    it("wakes its parent run when it succeeds or fails, not when it schedules a retry", async () => {
      const { store } = context();
      const { parent, call } = await parkedOnCall();
      const first = await claimCall(T0 + 11);
      const retry = { status: "waiting", runAt: T0 + 500, reason: "retry after 503" } as const;
      expect(
        await store.commitAttempt({
          callId: call.id,
          leaseToken: first.leaseToken,
          now: T0 + 100,
          attempt: {
            callId: call.id,
            number: 1,
            startedAt: T0 + 90,
            durationMs: 10,
            outcome: { type: "response", status: 503 },
            sent: true,
            decision: { type: "retry", delayMs: 400, reason: "retry after 503" },
          },
          transition: retry,
        }),
      ).toBe(true);
      expect((await runOf(parent)).runAt).toBeUndefined();
      const second = await claimCall(T0 + 500);
      expect(
        await store.commitAttempt({
          callId: call.id,
          leaseToken: second.leaseToken,
          now: T0 + 600,
          attempt: {
            callId: call.id,
            number: 2,
            startedAt: T0 + 590,
            durationMs: 10,
            outcome: { type: "response", status: 500 },
            sent: true,
            decision: { type: "fail", code: "not_retryable", reason: "500" },
          },
          transition: {
            status: "failed",
            error: { code: "http_status", message: "500" },
            idempotencyExpiresAt: T0 + HOUR,
          },
        }),
      ).toBe(true);
      expect(await runOf(parent)).toMatchObject({ status: "waiting", runAt: T0 + 600 });
      expect(await store.getCall(TENANT_A, call.id)).toMatchObject({
        status: "failed",
        parentRun: parent,
      });
    });

    it("wakes its parent run when it is cancelled", async () => {
      const { store } = context();
      const { parent, call } = await parkedOnCall();
      expect(await store.cancelCall(TENANT_A, call.id, T0 + 50, T0 + HOUR)).toMatchObject({
        type: "ok",
      });
      expect(await runOf(parent)).toMatchObject({ status: "waiting", runAt: T0 + 50 });
    });
  });

  describe("wakeRuns, wakeRunsForEvent", () => {
    it("makes parked runs due later due now, and counts them", async () => {
      const { store, runs } = context();
      const queuedLater = runs.run({ runAt: T0 + HOUR });
      const dueAlready = runs.run({ runAt: T0 });
      const sleeper = runs.run();
      for (const run of [queuedLater, dueAlready, sleeper]) await store.createRun(run);
      const [claim, sleeperClaim] = await claimRuns(store, T0 + 3, 2);
      expect(claim!.run.uid).toBe(dueAlready.uid);
      expect(sleeperClaim!.run.uid).toBe(sleeper.uid);
      expect(
        await store.parkRun(
          runRef(sleeperClaim!),
          { status: "sleeping", phase: "forward", runAt: T0 + HOUR },
          NO_STEPS,
          T0 + 4,
        ),
      ).toBe(true);
      expect(
        await store.finishRun(
          runRef(claim!),
          { status: "succeeded", output: "1" },
          NO_STEPS,
          T0 + 4,
        ),
      ).toBe(true);
      const unknown = runs.uid(T0);
      expect(
        await store.wakeRuns([queuedLater.uid, sleeper.uid, dueAlready.uid, unknown], T0 + 5),
      ).toBe(2);
      expect(await runOf(queuedLater.uid)).toMatchObject({ status: "queued", runAt: T0 + 5 });
      expect(await runOf(sleeper.uid)).toMatchObject({ status: "sleeping", runAt: T0 + 5 });
      // Due already: nothing to do.
      expect(await store.wakeRuns([queuedLater.uid], T0 + 6)).toBe(0);
      expect(await runOf(queuedLater.uid)).toMatchObject({ runAt: T0 + 5 });
      expect(await store.wakeRuns([], T0 + 6)).toBe(0);
      expect(await claimRuns(store, T0 + 6, 2)).toHaveLength(2);
    });

    it("wakes the tenant's runs parked waiting for an event of that name, and no others", async () => {
      const { store, runs } = context();
      const approved = runs.run();
      const twoEvents = runs.run();
      const otherName = runs.run();
      const otherTenant = runs.run({ tenantId: TENANT_B });
      const sleeper = runs.run();
      const moved = runs.run();
      const all = [approved, twoEvents, otherName, otherTenant, sleeper, moved];
      for (const run of all) await store.createRun(run);
      const claims = await claimRuns(store, T0 + 10, all.length);
      const waitFor = (events: string[]) =>
        ({
          status: "waiting",
          waitCode: "event",
          phase: "forward",
          runAt: T0 + HOUR,
          events,
        }) as const;
      const parks = [
        waitFor(["order.approved"]),
        waitFor(["order.shipped", "order.approved"]),
        waitFor(["order.shipped"]),
        waitFor(["order.approved"]),
        { status: "sleeping", phase: "forward", runAt: T0 + HOUR } as const,
        waitFor(["order.approved"]),
      ];
      for (const [i, claim] of claims.entries()) {
        expect(await store.parkRun(runRef(claim), parks[i]!, NO_STEPS, T0 + 11)).toBe(true);
      }
      // `moved` waits for another event since it parked again.
      const movedClaim = await store
        .wakeRuns([moved.uid], T0 + 12)
        .then(() => claimRun(store, T0 + 12));
      expect(movedClaim.run.uid).toBe(moved.uid);
      expect(
        await store.parkRun(runRef(movedClaim), waitFor(["order.cancelled"]), NO_STEPS, T0 + 13),
      ).toBe(true);

      expect(await store.wakeRunsForEvent(TENANT_A, "order.approved", T0 + 20)).toBe(2);
      const due = await claimRuns(store, T0 + 20, 2);
      expect(due.map((c) => c.run.uid).sort()).toEqual([approved.uid, twoEvents.uid].sort());
      expect(await store.wakeRunsForEvent(TENANT_A, "order.refunded", T0 + 21)).toBe(0);
      expect(await store.wakeRunsForEvent(TENANT_B, "order.approved", T0 + 22)).toBe(1);
      expect((await claimRun(store, T0 + 22)).run.uid).toBe(otherTenant.uid);
    });
  });
}
