// Store contract: reading, listing and controlling workflow runs (issue 11): getRun, listRuns,
// cancelRun, retryRun, lease renewal and release, values stored as opaque text of any size, and
// runs kept off the call queue.
import { describe, expect, it } from "vitest";
import type { CallId } from "../../core/ids.ts";
import type { RunRecord, RunUid } from "../../core/store.ts";
import {
  claimRun,
  claimRuns,
  completedStep,
  failedStep,
  LEASE_MS,
  NO_STEPS,
  runRef,
  STEP_ERROR,
  stepAttempt,
  T0,
  TENANT_A,
  TENANT_B,
  waitingForEvent,
  WORKER,
  WORKFLOW,
} from "./fixtures.ts";
import type { GetContext } from "./store-contract.ts";

const HOUR = 3_600_000;

/** Declares the run read and control tests of the store contract. */
export function describeRunControlContract(context: GetContext): void {
  async function runOf(uid: RunUid): Promise<RunRecord> {
    const run = await context().store.getRunByUid(uid);
    if (run === undefined) throw new Error(`Run ${uid} not found.`);
    return run;
  }

  describe("getRun, getRunByUid, listRuns", () => {
    it("reads a run with its steps in first-recorded order and its attempts by step then number", async () => {
      const { store, runs } = context();
      const start = runs.run();
      await store.createRun(start);
      const ref = runRef(await claimRun(store, T0 + 10));
      const z = completedStep("z-first", '"z"', T0 + 20, 2);
      const a = completedStep("a-second", '"a"', T0 + 30);
      const attempts = [
        stepAttempt("a-second", 1, T0 + 25),
        stepAttempt("z-first", 2, T0 + 15),
        stepAttempt("z-first", 1, T0 + 11, true),
      ];
      expect(await store.commitSteps(ref, { checkpoints: [z, a], attempts }, T0 + 30)).toBe(true);
      expect(await store.getRun(TENANT_A, start.id)).toStrictEqual({
        run: await runOf(start.uid),
        checkpoints: [z, a],
        attempts: [attempts[2], attempts[1], attempts[0]],
      });
      expect(await store.getRun(TENANT_B, start.id)).toBeUndefined();
      expect(await store.getRun(TENANT_A, "order-unknown")).toBeUndefined();
      expect(await store.getRunByUid(runs.uid(T0))).toBeUndefined();
    });

    it("lists a tenant's runs newest first, by workflow and by status, page by page", async () => {
      const { store, runs } = context();
      const queued = runs.run({ runAt: T0 + HOUR });
      const sleeping = runs.run();
      const compensating = runs.run();
      const running = runs.run({ workflow: "refund" });
      const succeeded = runs.run();
      const failed = runs.run({ workflow: "refund" });
      const otherTenant = runs.run({ tenantId: TENANT_B });
      const all = [queued, sleeping, compensating, running, succeeded, failed, otherTenant];
      for (const run of all) await store.createRun(run);
      const claims = await claimRuns(store, T0 + 10, 6, [WORKFLOW, "refund"]);
      const byUid = new Map(claims.map((c) => [c.run.uid, runRef(c)]));
      const ref = (uid: RunUid) => byUid.get(uid)!;
      await store.parkRun(
        ref(sleeping.uid),
        { status: "sleeping", phase: "forward", runAt: T0 + HOUR },
        NO_STEPS,
        T0 + 11,
      );
      await store.parkRun(
        ref(compensating.uid),
        { status: "waiting", waitCode: "retry_backoff", phase: "compensating", runAt: T0 + 12 },
        NO_STEPS,
        T0 + 11,
      );
      await claimRun(store, T0 + 12);
      await store.finishRun(
        ref(succeeded.uid),
        { status: "succeeded", output: "1" },
        NO_STEPS,
        T0 + 13,
      );
      await store.finishRun(
        ref(failed.uid),
        { status: "failed", error: STEP_ERROR, reason: "error" },
        NO_STEPS,
        T0 + 13,
      );

      const list = async (query: { workflow?: string; status?: RunRecord["status"] } = {}) =>
        (await store.listRuns({ tenantId: TENANT_A, limit: 100, ...query })).map((r) => r.uid);
      expect(await list()).toEqual(
        [failed, succeeded, running, compensating, sleeping, queued].map((r) => r.uid),
      );
      expect(await list({ workflow: "refund" })).toEqual([failed.uid, running.uid]);
      expect(await list({ status: "queued" })).toEqual([queued.uid]);
      expect(await list({ status: "sleeping" })).toEqual([sleeping.uid]);
      expect(await list({ status: "compensating" })).toEqual([compensating.uid]);
      expect(await list({ status: "running" })).toEqual([running.uid]);
      expect(await list({ status: "succeeded" })).toEqual([succeeded.uid]);
      expect(await list({ status: "failed", workflow: "refund" })).toEqual([failed.uid]);
      expect(await list({ status: "failed", workflow: WORKFLOW })).toEqual([]);
      expect(await list({ status: "waiting" })).toEqual([]);
      const listed = await store.listRuns({ tenantId: TENANT_A, status: "sleeping", limit: 1 });
      expect(listed).toStrictEqual([await runOf(sleeping.uid)]);

      const pages: RunUid[][] = [];
      let before: RunUid | undefined;
      // Bounded, so that a listing repeating itself fails rather than loops.
      while (pages.length < 5) {
        const page = await store.listRuns({
          tenantId: TENANT_A,
          limit: 4,
          ...(before === undefined ? {} : { before }),
        });
        if (page.length === 0) break;
        pages.push(page.map((r) => r.uid));
        before = page.at(-1)!.uid;
      }
      expect(pages).toEqual([
        [failed.uid, succeeded.uid, running.uid, compensating.uid],
        [sleeping.uid, queued.uid],
      ]);
      expect((await store.listRuns({ tenantId: TENANT_B, limit: 10 })).map((r) => r.uid)).toEqual([
        otherTenant.uid,
      ]);
    });
  });

  describe("cancelRun", () => {
    it("cancels a parked run at once and wakes its parent", async () => {
      const { store, runs } = context();
      const parent = runs.run();
      await store.createRun(parent);
      const parentClaim = await claimRun(store, T0 + 10);
      const child = runs.run({ id: "child", parent: { uid: parent.uid, stepId: "sub" } });
      await store.parkRun(
        runRef(parentClaim),
        { status: "waiting", waitCode: "child_run", phase: "forward" },
        { ...NO_STEPS, runs: [child] },
        T0 + 11,
      );
      const result = await store.cancelRun(TENANT_A, "child", T0 + 20);
      expect(result).toStrictEqual({ type: "ok", run: await runOf(child.uid) });
      expect(await runOf(child.uid)).toMatchObject({ status: "cancelled", endedAt: T0 + 20 });
      expect((await runOf(child.uid)).runAt).toBeUndefined();
      expect(await runOf(parent.uid)).toMatchObject({ status: "waiting", runAt: T0 + 20 });
      expect((await claimRun(store, T0 + 20)).run.uid).toBe(parent.uid);
    });

    it("cancels a running run: its lease token's commits are refused", async () => {
      const { store, runs } = context();
      const start = runs.run();
      await store.createRun(start);
      const claim = await claimRun(store, T0 + 10);
      expect(await store.cancelRun(TENANT_A, start.id, T0 + 11)).toMatchObject({
        type: "ok",
        run: { status: "cancelled", endedAt: T0 + 11 },
      });
      const batch = { checkpoints: [completedStep("a", "1", T0 + 12)], attempts: [] };
      expect(await store.commitSteps(runRef(claim), batch, T0 + 12)).toBe(false);
      expect(
        await store.parkRun(
          runRef(claim),
          { status: "sleeping", phase: "forward", runAt: T0 + HOUR },
          batch,
          T0 + 12,
        ),
      ).toBe(false);
      expect(
        await store.finishRun(runRef(claim), { status: "succeeded", output: "1" }, batch, T0 + 12),
      ).toBe(false);
      expect(await store.getRun(TENANT_A, start.id)).toMatchObject({
        run: { status: "cancelled" },
        checkpoints: [],
      });
      expect(await store.renewRunLeases([runRef(claim)], T0 + HOUR, T0 + 12)).toEqual([
        runRef(claim),
      ]);
      await claimRuns(store, T0 + HOUR, 0);
    });

    it("refuses an ended run (invalid_state) and an unknown one (not_found)", async () => {
      const { store, runs } = context();
      const start = runs.run();
      await store.createRun(start);
      const claim = await claimRun(store, T0 + 10);
      await store.finishRun(runRef(claim), { status: "succeeded", output: "1" }, NO_STEPS, T0 + 11);
      const ended = await runOf(start.uid);
      expect(await store.cancelRun(TENANT_A, start.id, T0 + 12)).toStrictEqual({
        type: "invalid_state",
        run: ended,
      });
      expect(await store.cancelRun(TENANT_A, "order-unknown", T0 + 12)).toStrictEqual({
        type: "not_found",
      });
      expect(await store.cancelRun(TENANT_B, start.id, T0 + 12)).toStrictEqual({
        type: "not_found",
      });
    });
  });

  describe("retryRun", () => {
    it("queues a failed run again: its failed steps forgotten, the others kept, its token carrying on", async () => {
      const { store, runs } = context();
      const start = runs.run();
      await store.createRun(start);
      const claim = await claimRun(store, T0 + 10);
      const kept = completedStep("reserve", '"r"', T0 + 11);
      const waiting = waitingForEvent("approval", "order.approved", T0 + 12);
      const failed = failedStep("charge", T0 + 13, 2);
      const attempts = [
        stepAttempt("reserve", 1, T0 + 10),
        stepAttempt("charge", 1, T0 + 11, true),
        stepAttempt("charge", 2, T0 + 12, true),
      ];
      expect(
        await store.finishRun(
          runRef(claim),
          { status: "failed", error: STEP_ERROR, reason: "error" },
          { checkpoints: [kept, waiting, failed], attempts },
          T0 + 13,
        ),
      ).toBe(true);
      const result = await store.retryRun(TENANT_A, start.id, T0 + 50);
      expect(result).toStrictEqual({ type: "ok", run: await runOf(start.uid) });
      const retried = await runOf(start.uid);
      expect(retried).toMatchObject({
        status: "queued",
        phase: "forward",
        runAt: T0 + 50,
        invocations: 1,
        updatedAt: T0 + 50,
      });
      for (const gone of ["error", "failReason", "endedAt", "output"] as const) {
        expect(retried[gone]).toBeUndefined();
      }
      // The failed step's attempts go with it: its next attempt is number 1 again.
      expect(await store.getRun(TENANT_A, start.id)).toMatchObject({
        checkpoints: [kept, waiting],
        attempts: [attempts[0]],
      });
      const again = await claimRun(store, T0 + 50);
      expect(again).toMatchObject({
        run: { uid: start.uid, status: "running", invocations: 2 },
        checkpoints: [kept, waiting],
        leaseToken: claim.leaseToken + 1,
      });
      expect(await store.commitSteps(runRef(claim), NO_STEPS, T0 + 51)).toBe(false);
      const redone = [stepAttempt("charge", 1, T0 + 51)];
      expect(
        await store.commitSteps(
          runRef(again),
          { checkpoints: [completedStep("charge", '"c"', T0 + 52)], attempts: redone },
          T0 + 52,
        ),
      ).toBe(true);
      expect((await store.getRun(TENANT_A, start.id))?.attempts).toStrictEqual([
        attempts[0],
        redone[0],
      ]);
    });

    it("refuses a compensated run, a run that did not fail, and an unknown one", async () => {
      const { store, runs } = context();
      const compensated = runs.run();
      const succeeded = runs.run();
      const live = runs.run({ runAt: T0 + HOUR });
      for (const run of [compensated, succeeded, live]) await store.createRun(run);
      const [a, b] = await claimRuns(store, T0 + 10, 2);
      await store.finishRun(
        runRef(a!),
        {
          status: "failed",
          error: STEP_ERROR,
          reason: "error",
          compensation: { outcomes: [] },
        },
        NO_STEPS,
        T0 + 11,
      );
      await store.finishRun(runRef(b!), { status: "succeeded", output: "1" }, NO_STEPS, T0 + 11);
      for (const run of [compensated, succeeded, live]) {
        expect(await store.retryRun(TENANT_A, run.id, T0 + 20)).toStrictEqual({
          type: "invalid_state",
          run: await runOf(run.uid),
        });
      }
      expect(await store.retryRun(TENANT_A, "order-unknown", T0 + 20)).toStrictEqual({
        type: "not_found",
      });
      expect(await store.retryRun(TENANT_B, compensated.id, T0 + 20)).toStrictEqual({
        type: "not_found",
      });
    });
  });

  describe("renewRunLeases, releaseRuns", () => {
    it("renews leases still held, even past their expiry, and names the ones lost", async () => {
      const { store, runs } = context();
      for (let i = 0; i < 2; i++) await store.createRun(runs.run());
      const [held, lost] = await claimRuns(store, T0 + 10, 2);
      const expiry = T0 + 10 + LEASE_MS;
      const takeover = await store.claimDueRuns({
        now: expiry,
        limit: 1,
        leaseMs: LEASE_MS,
        workerId: WORKER,
        workflows: [WORKFLOW],
      });
      expect(takeover.map((c) => c.run.uid)).toEqual([held!.run.uid]);
      // `lost` expired but nobody took it: its token still holds it.
      expect(
        await store.renewRunLeases([runRef(held!), runRef(lost!)], expiry + HOUR, expiry + 1),
      ).toEqual([runRef(held!)]);
      await claimRuns(store, expiry + LEASE_MS - 1, 0);
      expect(await store.nextRunWakeAt([WORKFLOW])).toBe(expiry + LEASE_MS);
      expect(await store.renewRunLeases([runRef(takeover[0]!)], expiry + HOUR, expiry + 1)).toEqual(
        [],
      );
      expect(await store.nextRunWakeAt([WORKFLOW])).toBe(expiry + HOUR);
    });

    it("gives claimed runs back queued and due now; a ref no longer held is ignored", async () => {
      const { store, runs } = context();
      await store.createRun(runs.run());
      const stale = await claimRun(store, T0 + 10);
      const current = await claimRun(store, T0 + 10 + LEASE_MS);
      await store.releaseRuns([runRef(stale)], T0 + LEASE_MS + 20);
      expect(await runOf(current.run.uid)).toMatchObject({ status: "running" });
      await store.releaseRuns([runRef(current)], T0 + LEASE_MS + 30);
      expect(await runOf(current.run.uid)).toMatchObject({
        status: "queued",
        phase: "forward",
        runAt: T0 + LEASE_MS + 30,
      });
      expect(await store.commitSteps(runRef(current), NO_STEPS, T0 + LEASE_MS + 31)).toBe(false);
      const next = await claimRun(store, T0 + LEASE_MS + 30);
      expect(next.takenOver).toBeUndefined();
      expect(next.leaseToken).toBe(current.leaseToken + 1);
    });
  });

  describe("values", () => {
    it("keeps values larger than 256 KiB exactly, inputs, outputs and step outputs", async () => {
      const { store, runs } = context();
      const big = (seed: string) =>
        JSON.stringify({ seed, text: `ünïcödé ✓ 𝄞 ${seed} `.repeat(20_000) });
      expect(new TextEncoder().encode(big("x")).length).toBeGreaterThan(256 * 1024);
      const start = runs.run({ input: big("input") });
      const { run } = await store.createRun(start);
      expect(run.input).toBe(big("input"));
      const claim = await claimRun(store, T0 + 10);
      expect(claim.run.input).toBe(big("input"));
      const step = completedStep("load", big("step"), T0 + 11);
      expect(
        await store.commitSteps(runRef(claim), { checkpoints: [step], attempts: [] }, T0 + 11),
      ).toBe(true);
      // Replaced by a small value, then by a large one again.
      const small = completedStep("load", '"small"', T0 + 12);
      await store.commitSteps(runRef(claim), { checkpoints: [small], attempts: [] }, T0 + 12);
      expect((await store.getRun(TENANT_A, start.id))?.checkpoints).toStrictEqual([small]);
      await store.commitSteps(runRef(claim), { checkpoints: [step], attempts: [] }, T0 + 13);
      await store.releaseRuns([runRef(claim)], T0 + 14);
      const again = await claimRun(store, T0 + 14);
      expect(again.checkpoints).toStrictEqual([step]);
      expect(
        await store.finishRun(
          runRef(again),
          { status: "succeeded", output: big("output") },
          NO_STEPS,
          T0 + 15,
        ),
      ).toBe(true);
      const detail = await store.getRun(TENANT_A, start.id);
      expect(detail?.run.input).toBe(big("input"));
      expect(detail?.run.output).toBe(big("output"));
      expect(detail?.checkpoints).toStrictEqual([step]);
      expect((await store.listRuns({ tenantId: TENANT_A, limit: 1 }))[0]?.output).toBe(
        big("output"),
      );
    });

    it("keeps values as opaque text, whether or not they are JSON", async () => {
      const { store, runs } = context();
      // No raw U+0000: PostgreSQL text cannot hold it, and the codec's texts (JSON) never do
      // (run-log.ts); its escaped form is kept as written.
      const texts = ["", "not json {", '  {"spaced" :  1}  ', "null", "\\u0000nul\\u0000", "42.10"];
      const start = runs.run({ input: texts[1]! });
      await store.createRun(start);
      const claim = await claimRun(store, T0 + 10);
      const steps = texts.map((text, i) => completedStep(`s${i}`, text, T0 + 11));
      await store.commitSteps(runRef(claim), { checkpoints: steps, attempts: [] }, T0 + 11);
      await store.finishRun(
        runRef(claim),
        { status: "succeeded", output: texts[2]! },
        NO_STEPS,
        T0 + 12,
      );
      const detail = await store.getRun(TENANT_A, start.id);
      expect(detail?.run).toMatchObject({ input: texts[1], output: texts[2] });
      expect(detail?.checkpoints).toStrictEqual(steps);
    });
  });

  describe("runs and the call queue", () => {
    it("keeps runs off the call claims and nextWakeAt, and calls off the run claims", async () => {
      const { store, runs, calls } = context();
      await store.createRun(runs.run({ workflow: "nobody-runs-this" }));
      const claimed = runs.run();
      await store.createRun(claimed, { workerId: WORKER, leaseExpiresAt: T0 + 100 });
      expect(await store.nextWakeAt()).toBeUndefined();
      expect(
        await store.claimDue({ now: T0 + HOUR, limit: 10, leaseMs: LEASE_MS, workerId: WORKER }),
      ).toEqual([]);
      const call = calls.call({ runAt: T0 + 5 });
      await store.createCall(call);
      expect(await store.nextWakeAt()).toBe(T0 + 5);
      expect(await store.nextRunWakeAt([WORKFLOW])).toBe(T0 + 100);
      await claimRuns(store, T0 + HOUR, 1);
      const [callClaim] = await store.claimDue({
        now: T0 + HOUR,
        limit: 10,
        leaseMs: LEASE_MS,
        workerId: WORKER,
      });
      expect(callClaim?.call.id).toBe(call.id);
      expect(await store.listCalls(TENANT_A, { limit: 10 })).toHaveLength(1);
      expect(await store.listCalls(TENANT_A, { limit: 10, status: "queued" })).toEqual([]);
      // A call's id and a run's uid name different things to each role.
      expect(await store.getCall(TENANT_A, claimed.uid as unknown as CallId)).toBeUndefined();
      expect(await store.wakeRuns([call.id as unknown as RunUid], T0 + HOUR)).toBe(0);
    });
  });
}
