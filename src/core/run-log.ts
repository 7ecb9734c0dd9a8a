/**
 * The run-log role of the `Store` port: workflow runs (issue 11), their step checkpoints and step
 * attempts, and the part of the work queue that claims, leases, parks and wakes them.
 *
 * A run is a row of the same `work` table as calls (kind `run`), claimed, leased and fenced the
 * same way: every write about a claimed run is conditional on its lease token, so a process whose
 * lease ended cannot commit a step over the new owner's. The wide `runs` row (its id, workflow,
 * input, output or error) is written at create and at end; its live state (status, due time, wait,
 * lease) is on the `work` row while it lives, as for calls.
 *
 * Values (inputs, outputs, step outputs, a waited event's data) are opaque text to the store: the
 * engine encodes them (`storedValueCodec`), and never contain U+0000 (the codec's texts are JSON,
 * which escapes it; PostgreSQL text cannot hold it). A text larger than `maxInlineBytes` (256 KiB) is kept
 * out of line by the store (a table of its own), transparently: reads give the text back.
 */
import type { NewCall } from "./call-log.ts";
import type { RecordEventResult, StoredEvent } from "./event-log.ts";
import type { RunUid, TenantId, WorkerId } from "./ids.ts";
import type { InitialClaim } from "./work-queue.ts";
import type { Checkpoint } from "./workflow/checkpoint.ts";
import type { CompensationReport } from "./workflow/compensation.ts";
import type { RunPhase, RunStatus, RunWaitCode } from "./workflow/run-state.ts";
import type { StepAttempt } from "./workflow/step-attempt.ts";
import type { RecordedError } from "./workflow/workflow-errors.ts";

export type { RunUid };

/** Why a failed run failed: its function threw (`error`), or its replay diverged (`diverged`). */
export type RunFailReason = "error" | "diverged";

/** A run as stored. */
export interface RunRecord {
  uid: RunUid;
  tenantId: TenantId;
  /** Its id, unique per tenant: the one it was started with (its idempotency key). */
  id: string;
  /** The name of its workflow. */
  workflow: string;
  /**
   * `queued`, `running`, `sleeping` (every wait a sleep), `waiting` (see `waitCode`),
   * `compensating` (running its compensations), or ended: `succeeded`, `failed`, `cancelled`.
   */
  status: RunStatus;
  /**
   * `compensating` once it failed and runs its compensations (also while parked or queued). An
   * ended run keeps the phase it ended in.
   */
  phase: RunPhase;
  /** While `waiting`: on what (the first non-sleep wait). */
  waitCode?: RunWaitCode;
  /**
   * While queued, sleeping or waiting: when time alone makes it due (epoch ms); absent when
   * nothing but a wake-up will (a wait without a timeout). Absent while running and once ended.
   */
  runAt?: number;
  /** Its input, encoded. */
  input: string;
  /** A hash of the workflow name and the encoded input: starting the id again must match it. */
  inputFingerprint: string;
  /** When it succeeded: its output, encoded. */
  output?: string;
  /** When it failed: its error. */
  error?: RecordedError;
  failReason?: RunFailReason;
  /** When it failed after compensating: what each compensation did. */
  compensation?: CompensationReport;
  /** Started by `step.invoke` of another run: that run and the step waiting for this one. */
  parent?: { uid: RunUid; stepId: string };
  /** Invocations so far (claims that ran its function), takeovers included. */
  invocations: number;
  /**
   * Claims in a row that took it over from an owner whose lease ended (a crash, a hang) with no
   * step committed since: a run that kills its process every time is failed at
   * `MAX_CRASHES_IN_A_ROW` (`crash_loop`) rather than retried for ever. 0 once ended.
   */
  crashesInARow: number;
  createdAt: number;
  updatedAt: number;
  /** When it ended (succeeded, failed, cancelled). */
  endedAt?: number;
}

/** A run to create. */
export interface NewRun {
  uid: RunUid;
  tenantId: TenantId;
  id: string;
  workflow: string;
  input: string;
  inputFingerprint: string;
  parent?: { uid: RunUid; stepId: string };
  /** When it is first due; `createdAt` when absent. */
  runAt?: number;
  createdAt: number;
}

/** What `createRun` did: created it, or found the tenant's run with that id (unchanged). */
export type CreateRunResult =
  { created: true; run: RunRecord } | { created: false; run: RunRecord };

/** A claimed run: the engine owns it until `leaseExpiresAt`, proven by `leaseToken`. */
export interface RunClaim {
  run: RunRecord;
  /** Its step checkpoints, in the order each step was first recorded. */
  checkpoints: Checkpoint[];
  leaseToken: number;
  leaseExpiresAt: number;
  /** True when this claim took the run over from an owner whose lease expired or was ended. */
  takenOver?: true;
}

/** Identifies a run claim in conditional writes. */
export interface RunRef {
  uid: RunUid;
  leaseToken: number;
}

/**
 * What one commit of a claimed run writes, in one transaction: its step checkpoints (inserted or
 * replacing the step's row), its step attempts (appended; one already recorded under its step
 * and number is left as it is), and the children its steps start.
 */
export interface StepBatch {
  checkpoints: readonly Checkpoint[];
  attempts: readonly StepAttempt[];
  /** Calls started by `step.fetch`, each with `parentRun` set to this run: created queued. */
  calls?: readonly ChildCall[];
  /**
   * Runs started by `step.invoke` (their `parent` is this run): created queued, or found when
   * the tenant already has a run with that id (then left as it is).
   */
  runs?: readonly NewRun[];
}

/**
 * A call started by a run's step: it wakes the run (`wakeRuns`) in the transaction that ends it
 * (an attempt's final commit, or `cancelCall`). Its `CallRecord` shows the run as `parentRun`.
 */
export interface ChildCall extends NewCall {
  parentRun: RunUid;
}

/** How a claimed run parks: until time or a wake-up makes it due again. */
export interface RunPark {
  /** `sleeping` (every wait a sleep) or `waiting` (with `waitCode`). */
  status: "sleeping" | "waiting";
  waitCode?: RunWaitCode;
  phase: RunPhase;
  /** When time alone makes it due (a sleep's end, a timeout, a retry), epoch ms; absent: never. */
  runAt?: number;
  /**
   * The events it waits for, by name (`recordEventAndWake` and `wakeRunsForEvent` wake it when
   * one is recorded). Empty or absent when it waits for none.
   */
  events?: readonly string[];
  /**
   * What the invocation that parks it read of the events (`listEvents`) before deciding to wait:
   * an event recorded after that read and before this park commits woke nobody, since the run
   * was not parked on its name yet. So when the park names `events`, the run is due at `now`
   * instead if the store has an event of one of those names, of the run's tenant, received at
   * or after `since` (epoch ms) whose id is not in `ids`: checked in the park's transaction, so
   * no event falls between the read and the park. `ids`: the events of those names received
   * since `since` that the invocation saw (delivered, or not deliverable to it). Ignored when
   * `events` is empty or absent. An event recorded before `since` counts as seen whatever its
   * id: `since` must be no later than the read (received times come from the senders' clocks,
   * so a margin for their skew keeps an event stamped earlier than it was recorded).
   */
  eventsSeen?: { since: number; ids: readonly string[] };
}

/** How a claimed run ends. */
export type RunEnd =
  | { status: "succeeded"; output: string }
  | {
      status: "failed";
      error: RecordedError;
      reason: RunFailReason;
      compensation?: CompensationReport;
    }
  | { status: "cancelled" };

/** A run, its steps and their attempts, as `GET /v1/runs/:id` shows them. */
export interface RunDetail {
  run: RunRecord;
  checkpoints: Checkpoint[];
  /** Every step attempt, by step (in the order steps were first recorded) then number. */
  attempts: StepAttempt[];
}

/** Query for `listRuns`: the tenant's runs, newest first. */
export interface ListRunsQuery {
  tenantId: TenantId;
  workflow?: string;
  status?: RunStatus;
  /** 1 to 1,000. */
  limit: number;
  /** Runs created strictly before this run's uid (the last one of the previous page). */
  before?: RunUid;
}

/** Result of `cancelRun` and `retryRun`. */
export type RunControlResult =
  | { type: "ok"; run: RunRecord }
  | { type: "not_found" }
  | { type: "invalid_state"; run: RunRecord };

/** Runs: created, claimed, committed step by step, parked, woken, ended, read and controlled. */
export interface RunLog {
  /**
   * Creates a run, due at `runAt`, or claimed by `claim.workerId` when given (running, lease token
   * 1, one invocation counted), so the process that starts it runs it at once. When the tenant has a run with this id (any
   * status), nothing is written and that run comes back (`created: false`): the caller compares
   * `inputFingerprint`. Atomic against concurrent creates of one id: exactly one is created.
   */
  createRun(run: NewRun, claim?: InitialClaim): Promise<CreateRunResult>;
  /**
   * Records a run that its process created and ran to its end before writing anything of it (a
   * durable endpoint's request answered at once, its writes held back and coalesced into one):
   * creates it ended as `end` says, invoked once under lease token 1, with `batch`'s checkpoints
   * (at most one per step) and attempts, in one write group-committed with others. The run has no
   * parent and `batch` starts no children (`invariant_broken` otherwise). When the tenant has a
   * run with this id, nothing is written and that run comes back (`created: false`).
   */
  createEndedRun(run: NewRun, end: RunEnd, batch: StepBatch, now: number): Promise<CreateRunResult>;
  /**
   * Claims up to `limit` due runs of the named workflows (the ones this process has registered):
   * queued, sleeping or waiting with `runAt <= now` (or woken), or running with an expired lease
   * (taken over: `takenOver`, no attempt is recorded for the step it cut off). Each claim
   * increments the lease token, counts an invocation, and sets it running (`compensating` in that
   * phase). Earliest `runAt` first. Each claim comes with its checkpoints.
   */
  claimDueRuns(query: {
    now: number;
    limit: number;
    leaseMs: number;
    workerId: WorkerId;
    workflows: readonly string[];
  }): Promise<RunClaim[]>;
  /** Earliest time a run of the named workflows becomes claimable (due or lease expiry), if any. */
  nextRunWakeAt(workflows: readonly string[]): Promise<number | undefined>;
  /**
   * Extends the leases of runs still held by these tokens (as `renewLeases` for calls); returns
   * the refs no longer held.
   */
  renewRunLeases(refs: readonly RunRef[], leaseExpiresAt: number, now: number): Promise<RunRef[]>;
  /** Gives claimed runs back (graceful shutdown): queued, due at `now`, in their phase. */
  releaseRuns(refs: readonly RunRef[], now: number): Promise<void>;
  /**
   * Commits a batch of a claimed run's steps (group-committed with other writes). Only while
   * `ref.leaseToken` owns the running run: returns false and writes nothing otherwise.
   */
  commitSteps(ref: RunRef, batch: StepBatch, now: number): Promise<boolean>;
  /**
   * Commits `batch` and parks the claimed run: it leaves running for `park.status` until
   * `park.runAt`, or until woken; its lease ends. If it was woken while it ran (`wakeRuns`,
   * `wakeRunsForEvent` after its claim), or an event it waits for arrived unseen
   * (`park.eventsSeen`), it is due at `now` instead, so no wake-up is lost. Fenced like
   * `commitSteps`.
   */
  parkRun(ref: RunRef, park: RunPark, batch: StepBatch, now: number): Promise<boolean>;
  /**
   * Commits `batch` and ends the claimed run (`end`): its work row goes, its end is written once,
   * and its parent run (if any) is woken in the same transaction. Fenced like `commitSteps`.
   */
  finishRun(ref: RunRef, end: RunEnd, batch: StepBatch, now: number): Promise<boolean>;
  /**
   * Makes these runs due at `now` if they are parked (queued, sleeping or waiting) and due later;
   * marks a running one woken (its `parkRun` then leaves it due). Returns how many were touched.
   */
  wakeRuns(uids: readonly RunUid[], now: number): Promise<number>;
  /**
   * Wakes (as `wakeRuns`) the tenant's runs whose last `parkRun` named `name` in `park.events`
   * (until they park again or end); returns how many. `recordEventAndWake` does this in the
   * transaction that records the event.
   */
  wakeRunsForEvent(tenantId: TenantId, name: string, now: number): Promise<number>;
  /**
   * Records `event` (as `recordEvent`: an id the tenant has is not recorded again, the event
   * stored comes back with `created: false`) and, in the same transaction, wakes (as
   * `wakeRunsForEvent`) the tenant's runs waiting for an event of the stored event's name, so
   * that no crash between the two leaves them asleep. Wakes them also when nothing was recorded:
   * a sender retrying a send wakes the waiting runs again (harmless: a woken run that finds no
   * event for it parks again). The stored event's name is the sent one unless the id was used
   * for another event (the caller compares them). `woken`: how many runs were woken.
   */
  recordEventAndWake(
    event: StoredEvent,
    now: number,
  ): Promise<RecordEventResult & { woken: number }>;

  /** The tenant's run with this id, with its steps and attempts. */
  getRun(tenantId: TenantId, id: string): Promise<RunDetail | undefined>;
  /** The run with this uid (no steps), whatever its tenant. */
  getRunByUid(uid: RunUid): Promise<RunRecord | undefined>;
  /** The tenant's runs, newest first (by uid), filtered. */
  listRuns(query: ListRunsQuery): Promise<RunRecord[]>;
  /**
   * Cancels a run that has not ended, at once: its work row goes (a running one's lease token is
   * fenced out, so its next commit is refused and it stops at that step boundary), it ends
   * `cancelled`, its parent is woken. `invalid_state` when it had ended.
   */
  cancelRun(tenantId: TenantId, id: string, now: number): Promise<RunControlResult>;
  /**
   * Retries a failed run from its failed step: the checkpoints of steps that failed for good are
   * deleted with their attempts (the step starts again at attempt 1; the other steps stay
   * memoized), its error, fail reason and end go, and it is queued due at `now` (forward phase),
   * its lease token carrying on above the last one and its invocations counting on.
   * `invalid_state` unless it failed without running any compensation (no `compensation` report,
   * and not ended in the compensating phase): a compensated run's completed steps were undone,
   * and replaying them as done would be wrong (start a new run instead).
   */
  retryRun(tenantId: TenantId, id: string, now: number): Promise<RunControlResult>;
}

/**
 * The record of `run` just created claimed by its creator (`createRun` with a claim: running,
 * one invocation), without reading it back.
 */
export function claimedRunRecord(run: NewRun): RunRecord {
  const record: RunRecord = {
    uid: run.uid,
    tenantId: run.tenantId,
    id: run.id,
    workflow: run.workflow,
    status: "running",
    phase: "forward",
    input: run.input,
    inputFingerprint: run.inputFingerprint,
    invocations: 1,
    crashesInARow: 0,
    createdAt: run.createdAt,
    updatedAt: run.createdAt,
  };
  if (run.parent !== undefined) record.parent = { ...run.parent };
  return record;
}

/**
 * The record of `run` as `finishRun(end)` at `now` left it, without reading it back: its end, and
 * no live state.
 */
export function endedRun(run: RunRecord, end: RunEnd, now: number): RunRecord {
  const { runAt: _runAt, waitCode: _waitCode, ...rest } = run;
  const ended: RunRecord = {
    ...rest,
    status: end.status,
    crashesInARow: 0,
    updatedAt: now,
    endedAt: now,
  };
  if (end.status === "succeeded") ended.output = end.output;
  if (end.status === "failed") {
    ended.error = end.error;
    ended.failReason = end.reason;
    if (end.compensation !== undefined) ended.compensation = end.compensation;
  }
  return ended;
}
