/**
 * The children a run's steps start, created in the commit that records their wait: the call of a
 * `step.fetch` (a durable call like `POST /v1/fetch`'s, its end waking the run) and the run of a
 * `step.invoke`. Creating the child in the same transaction as the waiting checkpoint means a
 * crash leaves either both or neither: a step never waits for a child that does not exist, and
 * no child runs for a step that was never recorded.
 */
import { toCallSpec, type FetchInput } from "../../core/fetch-input.ts";
import { isSteadfastError } from "../../core/errors.ts";
import { newCallId, newRunUid, type RunUid } from "../../core/ids.ts";
import type { Random } from "../../core/ports.ts";
import type { ChildCall, NewRun, RunRecord, StepBatch } from "../../core/run-log.ts";
import { nextCheckpoint, type Checkpoint } from "../../core/workflow/checkpoint.ts";
import type { UrlCheck } from "../calls-service.ts";
import { fingerprint } from "../fingerprint.ts";
import type { CheckpointBatch } from "./invocation.ts";

/** What `withChildren` needs. */
export interface ChildOptions {
  random: Random;
  /** The destination guard of `POST /v1/fetch`: a refused URL fails the step at once. */
  guard?: UrlCheck;
}

/** A batch ready to commit, and whether a step failed while it was prepared (wake the run). */
export interface PreparedBatch {
  batch: StepBatch;
  /** A child call was refused (its URL): its step failed, and the run must run again now. */
  resolvedNow: boolean;
}

/**
 * The fingerprint a run's id is held with: its workflow and its encoded input. Starting the id
 * again with another input (or workflow) is refused.
 */
export function runInputFingerprint(workflow: string, encodedInput: string): string {
  return fingerprint({ workflow, input: encodedInput });
}

/**
 * Whether `existing`, the run found under a child run's id, is the one the step of run
 * `parentUid` started (its parent, and its workflow and input): any other holder of the id can
 * neither wake the step nor give it a result.
 */
export function isOwnChild(
  existing: RunRecord,
  parentUid: RunUid,
  inputFingerprint: string,
): boolean {
  return existing.parent?.uid === parentUid && existing.inputFingerprint === inputFingerprint;
}

/**
 * `batch` with the children of its newly waiting `fetch` and `invoke` steps: each child call gets
 * its id (recorded in the step's wait), each child run is created queued with this run as its
 * parent. A child call whose request the guard refuses fails its step instead.
 *
 * @example const { batch: ready } = withChildren(run, batch, clock.now(), { random, guard });
 */
export function withChildren(
  run: RunRecord,
  batch: CheckpointBatch,
  now: number,
  options: ChildOptions,
): PreparedBatch {
  const calls: ChildCall[] = [];
  const runs: NewRun[] = [];
  let resolvedNow = false;
  const checkpoints = batch.checkpoints.map((checkpoint): Checkpoint => {
    if (checkpoint.status !== "waiting") return checkpoint;
    const { wait } = checkpoint;
    if (wait.type === "child_run") {
      runs.push({
        uid: newRunUid(now, options.random),
        tenantId: run.tenantId,
        id: wait.runId,
        workflow: wait.workflow,
        input: wait.input,
        inputFingerprint: runInputFingerprint(wait.workflow, wait.input),
        parent: { uid: run.uid, stepId: checkpoint.stepId },
        createdAt: now,
      });
      return checkpoint;
    }
    if (wait.type !== "child_call" || wait.callId !== undefined) return checkpoint;
    const call = childCall(
      run,
      wait.request as unknown as FetchInput,
      wait.idempotencyKey,
      now,
      options,
    );
    if (call.type === "refused") {
      resolvedNow = true;
      return nextCheckpoint(
        checkpoint,
        {
          type: "rejected",
          error: {
            name: "CallRefusedError",
            message: call.message,
            code: call.code,
            terminal: true,
          },
          at: now,
        },
        checkpoint.stepId,
      );
    }
    calls.push(call.call);
    return { ...checkpoint, wait: { ...wait, callId: call.call.id } };
  });
  return {
    batch: {
      checkpoints,
      attempts: batch.attempts,
      ...(calls.length === 0 ? {} : { calls }),
      ...(runs.length === 0 ? {} : { runs }),
    },
    resolvedNow,
  };
}

function childCall(
  run: RunRecord,
  input: FetchInput,
  idempotencyKey: string,
  now: number,
  options: ChildOptions,
): { type: "call"; call: ChildCall } | { type: "refused"; code: string; message: string } {
  let spec;
  try {
    spec = toCallSpec(input);
  } catch (error) {
    return {
      type: "refused",
      code: isSteadfastError(error) ? error.code : "invalid_request",
      message: error instanceof Error ? error.message : String(error),
    };
  }
  const checked = options.guard?.checkUrl(spec.request.url);
  if (checked !== undefined && !checked.ok) {
    return { type: "refused", code: checked.code, message: checked.message };
  }
  const id = newCallId(now, options.random);
  return {
    type: "call",
    call: {
      id,
      tenantId: run.tenantId,
      kind: "call",
      spec,
      // The request's own Idempotency-Key header, else `<runId>:<stepId>`: the same on every
      // attempt, so the upstream can make the effect happen once.
      forwardedKey: spec.request.headers["idempotency-key"] ?? idempotencyKey,
      runAt: now,
      ...(spec.deadlineMs === undefined ? {} : { deadlineAt: now + spec.deadlineMs }),
      createdAt: now,
      parentRun: run.uid,
    },
  };
}
