// Test data for the store contract suite: deterministic ids and times, no clock reads.
import type { AttemptRecord, CallError, CallSpec, StoredResponse } from "../../core/call.ts";
import type { NewApiKey } from "../../core/api-key.ts";
import type { Checkpoint } from "../../core/workflow/checkpoint.ts";
import type { StepId } from "../../core/workflow/step-id.ts";
import type { StepAttempt } from "../../core/workflow/step-attempt.ts";
import type { RecordedError } from "../../core/workflow/workflow-errors.ts";
import {
  newCallId,
  newRunUid,
  tenantId,
  type ApiKeyId,
  type CallId,
  type RunUid,
  type TenantId,
  type WorkerId,
} from "../../core/ids.ts";
import type {
  AttemptCommit,
  CallTransition,
  ChildCall,
  Claim,
  NewCall,
  NewRun,
  RunClaim,
  RunRef,
  StepBatch,
  Store,
} from "../../core/store.ts";
import { SeededRandom } from "../../testing/seeded-random.ts";

/** Epoch ms every contract test starts from. */
export const T0 = 1_700_000_000_000;
/** Lease length used by the suite, in ms. */
export const LEASE_MS = 30_000;
/** Idempotency-key retention used by the suite, in ms. */
export const RETENTION_MS = 86_400_000;
/** The tenant most tests use. */
export const TENANT_A = tenantId("tenant-a");
/** A second tenant, for isolation tests. */
export const TENANT_B = tenantId("tenant-b");
/** The engine that claims in most tests. */
export const WORKER = "worker-1" as WorkerId;

/** A fully defaulted spec, as the engine stores it. */
export const SPEC: CallSpec = {
  request: {
    url: "https://api.example.com/v1/orders",
    method: "POST",
    headers: { "content-type": "application/json", authorization: "Bearer secret" },
    body: '{"orderId":42}',
  },
  retry: { maxAttempts: 5, backoff: "exponential", initialDelayMs: 1_000, maxDelayMs: 60_000 },
  timeout: { connectMs: 10_000, readMs: 30_000, totalMs: 60_000 },
  deadlineMs: 3_600_000,
  callbackUrl: "https://hooks.example.com/steadfast",
};

/** A captured upstream response. */
export const RESPONSE: StoredResponse = {
  status: 200,
  headers: { "content-type": "application/json" },
  body: '{"ok":true}',
  bodyEncoding: "utf8",
  bodyTruncated: false,
  bodyBytes: 11,
};

/** Why a call failed. */
export const ERROR: CallError = { code: "http_status", message: "Upstream answered 503" };

/**
 * Makes `NewCall`s with time-ordered ids: each call is created 1 ms after the previous one
 * (from `T0`), so ids sort in creation order.
 */
export class CallFactory {
  #random: SeededRandom;
  #clock = T0;

  /** Default seed 1. */
  constructor(seed = 1) {
    this.#random = new SeededRandom(seed);
  }

  /** A fresh id created at `createdAt`. */
  id(createdAt: number): CallId {
    return newCallId(createdAt, this.#random);
  }

  /** A queued call of `TENANT_A`, due at creation, unless `overrides` say otherwise. */
  call(overrides: Partial<NewCall> = {}): NewCall {
    this.#clock += 1;
    const createdAt = overrides.createdAt ?? this.#clock;
    const id = overrides.id ?? this.id(createdAt);
    return {
      id,
      tenantId: TENANT_A,
      kind: "call",
      spec: SPEC,
      forwardedKey: `steadfast-${id}`,
      runAt: createdAt,
      createdAt,
      ...overrides,
    };
  }
}

/** An attempt that got a response (`200` unless told) and the given decision. */
export function attempt(
  callId: CallId,
  number: number,
  startedAt: number,
  decision: AttemptRecord["decision"] = { type: "succeed" },
  status = 200,
): AttemptRecord {
  return {
    callId,
    number,
    startedAt,
    durationMs: 120,
    connectMs: 15,
    firstByteMs: 100,
    outcome: { type: "response", status },
    sent: true,
    decision,
  };
}

/** A commit of the claim's next attempt with `transition` at `now`. */
export function commitOf(claim: Claim, now: number, transition: CallTransition): AttemptCommit {
  const decision: AttemptRecord["decision"] =
    transition.status === "waiting"
      ? { type: "retry", delayMs: transition.runAt - now, reason: transition.reason }
      : transition.status === "succeeded"
        ? { type: "succeed" }
        : { type: "fail", code: "not_retryable", reason: transition.error.message };
  return {
    callId: claim.call.id,
    leaseToken: claim.leaseToken,
    now,
    attempt: attempt(claim.call.id, claim.call.attempts + 1, now - 120, decision),
    transition,
  };
}

/** Transition to `succeeded`, keys retained `RETENTION_MS` after `now`. */
export function succeeded(now: number): CallTransition {
  return { status: "succeeded", response: RESPONSE, idempotencyExpiresAt: now + RETENTION_MS };
}

/** Transition to `failed`, keys retained `RETENTION_MS` after `now`. */
export function failed(now: number, response?: StoredResponse): CallTransition {
  return response === undefined
    ? { status: "failed", error: ERROR, idempotencyExpiresAt: now + RETENTION_MS }
    : { status: "failed", error: ERROR, response, idempotencyExpiresAt: now + RETENTION_MS };
}

/** Transition to `waiting` until `runAt`. */
export function waiting(runAt: number, reason = "retry after 503"): CallTransition {
  return { status: "waiting", runAt, reason };
}

/** Claims exactly the due calls at `now` and fails unless there are `count` of them. */
export async function claimAll(store: Store, now: number, count: number): Promise<Claim[]> {
  const claims = await store.claimDue({
    now,
    limit: count + 1,
    leaseMs: LEASE_MS,
    workerId: WORKER,
  });
  if (claims.length !== count) {
    throw new Error(`Expected ${count} claims at ${now}, got ${claims.length}.`);
  }
  return claims;
}

/** Claims the one due call at `now`. */
export async function claimOne(store: Store, now: number): Promise<Claim> {
  const [claim] = await claimAll(store, now, 1);
  return claim!;
}

/**
 * A key to add: tenant, hash (64 hex digits) and creation time, with an id derived from the
 * hash so that tests can name it, prefix `pre_<n>` and source `api` unless overridden.
 */
export function apiKey(
  tenant: TenantId,
  keyHash: string,
  createdAt: number,
  overrides: Partial<NewApiKey> = {},
): NewApiKey {
  return {
    id: `key_${keyHash.slice(0, 26).toUpperCase()}` as ApiKeyId,
    tenantId: tenant,
    keyHash,
    prefix: `pre_${keyHash.slice(0, 2)}`,
    source: "api",
    createdAt,
    ...overrides,
  };
}

/** The workflow most run tests register. */
export const WORKFLOW = "checkout";

/**
 * Makes `NewRun`s of `TENANT_A` and workflow `WORKFLOW`, with time-ordered uids: each run is
 * created 1 ms after the previous one (from `T0`), so uids sort in creation order. Ids are
 * `order-1`, `order-2`...; the fingerprint follows the input.
 */
export class RunFactory {
  #random: SeededRandom;
  #clock = T0;
  #count = 0;

  /** Default seed 7. */
  constructor(seed = 7) {
    this.#random = new SeededRandom(seed);
  }

  /** A fresh uid created at `createdAt`. */
  uid(createdAt: number): RunUid {
    return newRunUid(createdAt, this.#random);
  }

  /** A run due at creation unless `overrides` say otherwise. */
  run(overrides: Partial<NewRun> = {}): NewRun {
    this.#clock += 1;
    this.#count += 1;
    const createdAt = overrides.createdAt ?? this.#clock;
    const input = overrides.input ?? `{"orderId":${this.#count}}`;
    return {
      uid: overrides.uid ?? this.uid(createdAt),
      tenantId: TENANT_A,
      id: `order-${this.#count}`,
      workflow: WORKFLOW,
      input,
      inputFingerprint: `fp:${WORKFLOW}:${input}`,
      createdAt,
      ...overrides,
    };
  }

  /** A child call of run `parentRun`, made by `calls`, due at `createdAt`. */
  childCall(calls: CallFactory, parentRun: RunUid, createdAt: number): ChildCall {
    return { ...calls.call({ createdAt, runAt: createdAt }), parentRun };
  }
}

/** A step's error as recorded. */
export const STEP_ERROR: RecordedError = {
  name: "Error",
  message: "card declined",
  code: "card_declined",
  terminal: false,
};

/** A step id. */
export function stepId(id: string): StepId {
  return id as StepId;
}

/** A batch that commits nothing. */
export const NO_STEPS: StepBatch = { checkpoints: [], attempts: [] };

/** A `run` step that completed at `at` with `output`, after `attempts` attempts (default 1). */
export function completedStep(id: string, output: string, at: number, attempts = 1): Checkpoint {
  return {
    status: "completed",
    stepId: stepId(id),
    kind: "run",
    startedAt: at - 10,
    attempts,
    output,
    completedAt: at,
  };
}

/** A `run` step that failed for good at `at`. */
export function failedStep(id: string, at: number, attempts = 1): Checkpoint {
  return {
    status: "failed",
    stepId: stepId(id),
    kind: "run",
    startedAt: at - 10,
    attempts,
    error: STEP_ERROR,
    completedAt: at,
  };
}

/** A `run` step whose attempt `attempts` failed, its next due at `retryAt`. */
export function retryingStep(
  id: string,
  startedAt: number,
  attempts: number,
  retryAt: number,
): Checkpoint {
  return {
    status: "retrying",
    stepId: stepId(id),
    kind: "run",
    startedAt,
    attempts,
    retryAt,
    lastError: STEP_ERROR,
  };
}

/** A `waitForEvent` step waiting for `event` since `at`. */
export function waitingForEvent(id: string, event: string, at: number): Checkpoint {
  return {
    status: "waiting",
    stepId: stepId(id),
    kind: "waitForEvent",
    startedAt: at,
    attempts: 0,
    wait: { type: "event", event, match: { orderId: 42 } },
  };
}

/** Attempt `number` of step `id`: succeeded unless `failed`. */
export function stepAttempt(
  id: string,
  number: number,
  startedAt: number,
  failed = false,
): StepAttempt {
  return failed
    ? {
        stepId: stepId(id),
        number,
        startedAt,
        durationMs: 15,
        outcome: { type: "failed", error: STEP_ERROR },
        decision: { type: "retry", delayMs: 1_000, retryAt: startedAt + 1_015, reason: "backoff" },
      }
    : {
        stepId: stepId(id),
        number,
        startedAt,
        durationMs: 15,
        outcome: { type: "succeeded" },
        decision: { type: "succeed" },
      };
}

/** The ref of a run claim. */
export function runRef(claim: RunClaim): RunRef {
  return { uid: claim.run.uid, leaseToken: claim.leaseToken };
}

/** Claims exactly the due runs of `workflows` at `now` and fails unless there are `count`. */
export async function claimRuns(
  store: Store,
  now: number,
  count: number,
  workflows: readonly string[] = [WORKFLOW],
): Promise<RunClaim[]> {
  const claims = await store.claimDueRuns({
    now,
    limit: count + 1,
    leaseMs: LEASE_MS,
    workerId: WORKER,
    workflows,
  });
  if (claims.length !== count) {
    throw new Error(`Expected ${count} run claims at ${now}, got ${claims.length}.`);
  }
  return claims;
}

/** Claims the one due run of `WORKFLOW` at `now`. */
export async function claimRun(store: Store, now: number): Promise<RunClaim> {
  const [claim] = await claimRuns(store, now, 1);
  return claim!;
}
