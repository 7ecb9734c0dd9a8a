// Store contract: runs recorded ended in one write (`createEndedRun`, issue 12: a durable
// endpoint's request answered before anything of its run was written). They read back exactly as
// a run created, claimed and finished would, are never due, and an id the tenant has already
// writes nothing.
import { describe, expect, it } from "vitest";
import type { RunEnd, RunRecord, StepBatch } from "../../core/store.ts";
import {
  claimRun,
  claimRuns,
  completedStep,
  failedStep,
  NO_STEPS,
  runRef,
  STEP_ERROR,
  stepAttempt,
  T0,
  TENANT_A,
  WORKFLOW,
} from "./fixtures.ts";
import type { GetContext } from "./store-contract.ts";

/** Declares the `createEndedRun` tests of the store contract. */
export function describeEndedRunContract(context: GetContext): void {
  describe("createEndedRun", () => {
    it("records a succeeded run with its steps and attempts, as createRun and finishRun would", async () => {
      const { store, runs } = context();
      const start = runs.run();
      const batch: StepBatch = {
        checkpoints: [
          completedStep("plan", '"a plan"', T0 + 11),
          completedStep("answer", '"an answer"', T0 + 12, 2),
        ],
        attempts: [
          stepAttempt("plan", 1, T0 + 10),
          stepAttempt("answer", 1, T0 + 11),
          stepAttempt("answer", 2, T0 + 12),
        ],
      };
      const end: RunEnd = { status: "succeeded", output: '{"status":200}' };
      const recorded = await store.createEndedRun(start, end, batch, T0 + 13);
      const expected: RunRecord = {
        uid: start.uid,
        tenantId: TENANT_A,
        id: start.id,
        workflow: WORKFLOW,
        status: "succeeded",
        phase: "forward",
        input: start.input,
        inputFingerprint: start.inputFingerprint,
        output: '{"status":200}',
        invocations: 1,
        crashesInARow: 0,
        createdAt: start.createdAt,
        updatedAt: T0 + 13,
        endedAt: T0 + 13,
      };
      expect(recorded).toStrictEqual({ created: true, run: expected });
      expect(await store.getRunByUid(start.uid)).toStrictEqual(expected);
      expect(await store.getRun(TENANT_A, start.id)).toStrictEqual({
        run: expected,
        checkpoints: batch.checkpoints,
        attempts: batch.attempts,
      });
      expect(
        await store.listRuns({ tenantId: TENANT_A, status: "succeeded", limit: 10 }),
      ).toStrictEqual([expected]);
      // Never due, never claimed, and its end is final.
      expect(await store.nextRunWakeAt([WORKFLOW])).toBeUndefined();
      await claimRuns(store, T0 + 1_000_000, 0);
      expect(await store.commitSteps({ uid: start.uid, leaseToken: 1 }, NO_STEPS, T0 + 20)).toBe(
        false,
      );
      expect((await store.cancelRun(TENANT_A, start.id, T0 + 20)).type).toBe("invalid_state");
    });

    it("records a failed run with its error, reason and compensation report", async () => {
      const { store, runs } = context();
      const start = runs.run();
      const end: RunEnd = {
        status: "failed",
        error: STEP_ERROR,
        reason: "error",
        compensation: { outcomes: [] },
      };
      const batch: StepBatch = {
        checkpoints: [failedStep("charge", T0 + 12)],
        attempts: [stepAttempt("charge", 1, T0 + 11)],
      };
      const { run } = await store.createEndedRun(start, end, batch, T0 + 13);
      expect(run).toMatchObject({
        status: "failed",
        error: STEP_ERROR,
        failReason: "error",
        compensation: { outcomes: [] },
      });
      expect(await store.getRunByUid(start.uid)).toStrictEqual(run);
      expect((await store.getRun(TENANT_A, start.id))?.checkpoints).toStrictEqual(
        batch.checkpoints,
      );
    });

    it("writes nothing for an id the tenant has, live or ended, and returns that run", async () => {
      const { store, runs } = context();
      const live = runs.run();
      await store.createRun(live);
      const claim = await claimRun(store, T0 + 10);
      const again = { ...runs.run(), id: live.id };
      const step = completedStep("plan", '"other"', T0 + 11);
      const result = await store.createEndedRun(
        again,
        { status: "succeeded", output: '"other"' },
        { checkpoints: [step], attempts: [stepAttempt("plan", 1, T0 + 10)] },
        T0 + 12,
      );
      expect(result.created).toBe(false);
      expect(result.run.uid).toBe(live.uid);
      expect(result.run.status).toBe("running");
      expect(await store.getRun(TENANT_A, live.id)).toMatchObject({
        checkpoints: [],
        attempts: [],
      });
      expect(await store.getRunByUid(again.uid)).toBeUndefined();
      expect(await store.commitSteps(runRef(claim), NO_STEPS, T0 + 13)).toBe(true);

      const ended = runs.run();
      const first = await store.createEndedRun(ended, { status: "cancelled" }, NO_STEPS, T0 + 14);
      const second = await store.createEndedRun(
        { ...runs.run(), id: ended.id },
        { status: "succeeded", output: '"late"' },
        NO_STEPS,
        T0 + 15,
      );
      expect(second).toStrictEqual({ created: false, run: first.run });
    });

    it("records exactly one of concurrent records of one id", async () => {
      const { store, runs } = context();
      const id = "same-request";
      const attempts = Array.from({ length: 8 }, (_, i) => ({
        ...runs.run(),
        id,
        input: `{"n":${i}}`,
      }));
      const results = await Promise.all(
        attempts.map((run) =>
          store.createEndedRun(run, { status: "succeeded", output: run.input }, NO_STEPS, T0 + 20),
        ),
      );
      const created = results.filter((r) => r.created);
      expect(created).toHaveLength(1);
      for (const result of results) expect(result.run).toStrictEqual(created[0]!.run);
    });

    it("keeps values larger than 256 KiB exactly: input, output and step outputs", async () => {
      const { store, runs } = context();
      const big = (seed: string) =>
        JSON.stringify({ seed, text: `ünïcödé ✓ 𝄞 ${seed} `.repeat(20_000) });
      const start = runs.run({ input: big("input") });
      const step = completedStep("load", big("step"), T0 + 11);
      await store.createEndedRun(
        start,
        { status: "succeeded", output: big("output") },
        { checkpoints: [step], attempts: [] },
        T0 + 12,
      );
      const detail = await store.getRun(TENANT_A, start.id);
      expect(detail?.run.input).toBe(big("input"));
      expect(detail?.run.output).toBe(big("output"));
      expect(detail?.checkpoints).toStrictEqual([step]);
    });

    it("refuses a run with a parent or a batch starting children (invariant_broken), writing nothing", async () => {
      const { store, runs } = context();
      const parent = runs.run();
      const child = runs.run({ parent: { uid: parent.uid, stepId: "sub" } });
      await expect(
        store.createEndedRun(child, { status: "cancelled" }, NO_STEPS, T0 + 5),
      ).rejects.toMatchObject({ code: "invariant_broken" });
      const withChild = runs.run();
      await expect(
        store.createEndedRun(
          withChild,
          { status: "cancelled" },
          { ...NO_STEPS, runs: [runs.run({ parent: { uid: withChild.uid, stepId: "sub" } })] },
          T0 + 5,
        ),
      ).rejects.toMatchObject({ code: "invariant_broken" });
      expect(await store.getRunByUid(child.uid)).toBeUndefined();
      expect(await store.getRunByUid(withChild.uid)).toBeUndefined();
    });
  });
}
