/**
 * Runs written into a real store through its `RunLog`, as the engine would write them (create,
 * claim, commit, park or finish), for the tests of the run read and control surface: the
 * service, the routes, the client and the CLI.
 */
import { newRunUid, type TenantId, type WorkerId } from "../../core/ids.ts";
import type { Random } from "../../core/ports.ts";
import type { EventLog } from "../../core/event-log.ts";
import type { RunClaim, RunLog, RunRecord, StepBatch } from "../../core/run-log.ts";
import { encodeValue } from "../../core/value-codec.ts";
import type { Checkpoint } from "../../core/workflow/checkpoint.ts";
import type { StepId } from "../../core/workflow/step-id.ts";
import type { StepAttempt } from "../../core/workflow/step-attempt.ts";

/** How a seeded run is left. */
export type SeededState =
  "queued" | "succeeded" | "failed" | "compensated" | "sleeping" | "waiting_event";

/** What `seedRun` needs. */
export interface SeedRunOptions {
  store: RunLog & EventLog;
  random: Random;
  /** The time of every write, epoch ms. */
  now: number;
  tenantId: TenantId;
  id: string;
  /** Default `checkout`. */
  workflow?: string;
  /** Default `{ orderId: "o-42", at: Date(now), big: 42n }`. */
  input?: unknown;
  state: SeededState;
  /** The event a `waiting_event` run waits for. Default `order.approved`. */
  event?: string;
}

const WORKER = "worker_test" as WorkerId;
const LEASE_MS = 30_000;
const step = (id: string): StepId => id as StepId;
const encode = (value: unknown): string => encodeValue(value, "value").text;

/**
 * A run in `state`, written as the engine would. Its steps: `charge` (a run step that failed
 * once, then succeeded with `{ id: "ch_1", amount: 42n }`), then per state: a failed `notify`
 * step (failed), a waiting `approval` step (waiting_event), a waiting `cool-off` sleep
 * (sleeping). Returns the run as stored.
 */
export async function seedRun(options: SeedRunOptions): Promise<RunRecord> {
  const { store, now, tenantId } = options;
  const workflow = options.workflow ?? "checkout";
  const input = options.input === undefined ? defaultInput(now) : options.input;
  const created = await store.createRun({
    uid: newRunUid(now, options.random),
    tenantId,
    id: options.id,
    workflow,
    input: encode(input),
    inputFingerprint: `fp-${options.id}`,
    createdAt: now,
  });
  if (options.state === "queued") return created.run;
  const claim = await claimRun(store, created.run.uid, workflow, now);
  const ref = { uid: claim.run.uid, leaseToken: claim.leaseToken };
  const charged = chargeStep(now);
  let ok: boolean;
  switch (options.state) {
    case "succeeded":
      ok = await store.finishRun(
        ref,
        { status: "succeeded", output: encode({ receipt: "r-1", at: new Date(now) }) },
        charged,
        now,
      );
      break;
    case "failed":
    case "compensated": {
      const error = { name: "TypeError", message: "crm down", code: "crm_down", terminal: true };
      const failed: Checkpoint = {
        status: "failed",
        stepId: step("notify"),
        kind: "run",
        startedAt: now,
        attempts: 1,
        error,
        completedAt: now,
      };
      const attempt: StepAttempt = {
        stepId: step("notify"),
        number: 1,
        startedAt: now,
        durationMs: 3,
        outcome: { type: "failed", error },
        decision: { type: "fail", code: "terminal", reason: "terminal error (crm_down)" },
      };
      ok = await store.finishRun(
        ref,
        {
          status: "failed",
          error: {
            name: "StepFailedError",
            message: 'Step "notify" failed: TypeError (crm_down): crm down',
            code: "step_failed",
            terminal: true,
          },
          reason: "error",
          ...(options.state === "compensated"
            ? {
                compensation: {
                  outcomes: [
                    {
                      stepId: step("charge"),
                      compensationId: step("$compensate:charge"),
                      status: "compensated" as const,
                    },
                  ],
                },
              }
            : {}),
        },
        {
          checkpoints: [...charged.checkpoints, failed],
          attempts: [...charged.attempts, attempt],
        },
        now,
      );
      break;
    }
    case "sleeping":
      ok = await store.parkRun(
        ref,
        { status: "sleeping", phase: "forward", runAt: now + 600_000 },
        {
          checkpoints: [
            ...charged.checkpoints,
            {
              status: "waiting",
              stepId: step("cool-off"),
              kind: "sleep",
              startedAt: now,
              attempts: 0,
              wait: { type: "sleep", until: now + 600_000 },
            },
          ],
          attempts: charged.attempts,
        },
        now,
      );
      break;
    case "waiting_event": {
      const event = options.event ?? "order.approved";
      ok = await store.parkRun(
        ref,
        {
          status: "waiting",
          waitCode: "event",
          phase: "forward",
          runAt: now + 86_400_000,
          events: [event],
        },
        {
          checkpoints: [
            ...charged.checkpoints,
            {
              status: "waiting",
              stepId: step("approval"),
              kind: "waitForEvent",
              startedAt: now,
              attempts: 0,
              wait: {
                type: "event",
                event,
                match: { orderId: "o-42" },
                timeoutAt: now + 86_400_000,
              },
            },
          ],
          attempts: charged.attempts,
        },
        now,
      );
      break;
    }
  }
  if (!ok) throw new Error(`seedRun: the store refused the commit of run ${options.id}`);
  const detail = await store.getRun(tenantId, options.id);
  if (detail === undefined) throw new Error(`seedRun: run ${options.id} is gone`);
  return detail.run;
}

/** Claims run `uid` (and gives back any other run it claimed on the way). */
export async function claimRun(
  store: RunLog,
  uid: string,
  workflow: string,
  now: number,
): Promise<RunClaim> {
  const claims = await store.claimDueRuns({
    now,
    limit: 100,
    leaseMs: LEASE_MS,
    workerId: WORKER,
    workflows: [workflow],
  });
  const claim = claims.find((c) => c.run.uid === uid);
  await store.releaseRuns(
    claims.filter((c) => c !== claim).map((c) => ({ uid: c.run.uid, leaseToken: c.leaseToken })),
    now,
  );
  if (claim === undefined) throw new Error(`run ${uid} was not due`);
  return claim;
}

function defaultInput(now: number): unknown {
  return { orderId: "o-42", at: new Date(now), big: 42n };
}

/** The `charge` step: a failed attempt, a retry, then success. */
function chargeStep(now: number): StepBatch {
  const error = {
    name: "Error",
    message: "503 from https://user:pw@pay.example/x",
    terminal: false,
  };
  return {
    checkpoints: [
      {
        status: "completed",
        stepId: step("charge"),
        kind: "run",
        startedAt: now,
        attempts: 2,
        output: encode({ id: "ch_1", amount: 42n }),
        completedAt: now,
      },
    ],
    attempts: [
      {
        stepId: step("charge"),
        number: 1,
        startedAt: now,
        durationMs: 12,
        outcome: { type: "failed", error },
        decision: { type: "retry", delayMs: 0, retryAt: now, reason: "retry 1 of 3" },
      },
      {
        stepId: step("charge"),
        number: 2,
        startedAt: now,
        durationMs: 8,
        outcome: { type: "succeeded" },
        decision: { type: "succeed" },
      },
    ],
  };
}
