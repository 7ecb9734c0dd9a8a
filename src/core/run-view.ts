/**
 * A workflow run as the API and the CLI show it (`GET /v1/runs/:id`, `steadfast runs show`):
 * times as ISO 8601 strings, values (input, output, step outputs) decoded and projected to JSON
 * (`json-projection.ts`), messages with any credentials quoted in a URL redacted, as call views
 * are (`call-view.ts`).
 */
import type { RecordedError } from "./workflow/workflow-errors.ts";
import type { Checkpoint, StepKind, StepWait } from "./workflow/checkpoint.ts";
import type { RunPhase, RunStatus, RunWaitCode } from "./workflow/run-state.ts";
import type { StepAttempt, StepFailCode } from "./workflow/step-attempt.ts";
import type { RunDetail, RunFailReason, RunRecord } from "./run-log.ts";
import { isEndpointRequest } from "./endpoint/endpoint-exchange.ts";
import { toJsonValue, type JsonValue } from "./json-projection.ts";
import { redactText, redactUrl } from "./redact.ts";
import { decodeValue } from "./value-codec.ts";

/** An error of a run or a step, as shown. */
export interface RunErrorView {
  /** The error's class (`TypeError`, `StepFailedError`...). */
  name: string;
  message: string;
  /** Its string `code`, when it had one (`card_declined`, `step_failed`...). */
  code?: string;
  /** True when it was a `TerminalError` (never retried). */
  terminal: boolean;
}

/** What a waiting step waits for, as shown. */
export type StepWaitView =
  | { type: "sleep"; until: string }
  | {
      type: "event";
      /** The event's name. */
      event: string;
      /** Top-level fields the event's data must have. */
      match?: Record<string, string | number | boolean | null>;
      /** When the wait gives up and returns null. */
      timeoutAt?: string;
    }
  | { type: "child_run"; workflow: string; runId: string }
  | {
      type: "child_call";
      /** The request's method and URL (credentials redacted). */
      method: string;
      url: string;
      idempotencyKey: string;
      callId?: string;
    };

/** The decision after a step attempt, as shown. */
export type StepDecisionView =
  | { type: "succeed" }
  | { type: "retry"; delayMs: number; retryAt: string; reason: string }
  | { type: "fail"; code: StepFailCode; reason: string };

/** One attempt of a `run` or `compensate` step, as shown. */
export interface StepAttemptView {
  /** 1-based, over the step's life. */
  number: number;
  startedAt: string;
  durationMs: number;
  outcome: { type: "succeeded" } | { type: "failed"; error: RunErrorView };
  decision: StepDecisionView;
}

/** One step of a run, as shown. */
export interface StepView {
  /** The step's id (`charge`, `charge#2`, `$compensate:charge`). */
  id: string;
  kind: StepKind;
  status: Checkpoint["status"];
  startedAt: string;
  /** When it completed or failed for good. */
  completedAt?: string;
  /** Attempts made (`run` and `compensate` steps; 0 for the others). */
  attempts: number;
  /** A completed step's output, projected to JSON (absent when it is `undefined`). */
  output?: JsonValue;
  /** A failed step's error, or a retrying step's last error. */
  error?: RunErrorView;
  /** When a retrying step's next attempt is due. */
  retryAt?: string;
  /** What a waiting step waits for. */
  wait?: StepWaitView;
  /** Its recorded attempts, oldest first. */
  attemptLog: StepAttemptView[];
}

/** A run as lists show it: no input, output or steps (`GET /v1/runs/:id` has them). */
export interface RunSummaryView {
  /** The run's id, as it was started with. */
  id: string;
  workflow: string;
  status: RunStatus;
  /** `compensating` once it failed and runs its compensations. */
  phase: RunPhase;
  /** While `waiting`: on what. */
  waitCode?: RunWaitCode;
  /** While queued, sleeping or waiting: when time alone makes it due. */
  runAt?: string;
  /** Invocations of its function so far (takeovers included). */
  invocations: number;
  /** Why a failed run failed. */
  error?: RunErrorView;
  /** `error` (its function threw) or `diverged` (its replay diverged from its record). */
  failReason?: RunFailReason;
  createdAt: string;
  updatedAt: string;
  endedAt?: string;
}

/** A run as `GET /v1/runs/:id` shows it. */
export interface RunView extends RunSummaryView {
  /** Its input, projected to JSON (absent when it is `undefined`). */
  input?: JsonValue;
  /** A succeeded run's output, projected to JSON (absent when it is `undefined`). */
  output?: JsonValue;
  /** What each compensation did, in the order they ran, for a run that compensated. */
  compensation?: {
    stepId: string;
    compensationId: string;
    status: "compensated" | "failed";
    error?: RunErrorView;
  }[];
  /** For a run started by `step.invoke`: the run that started it and its waiting step. */
  parent?: { id: string; stepId: string };
  /** Its steps, in the order each was first recorded. */
  steps: StepView[];
  /**
   * Values that could not be read (stored by a newer Steadfast in a format this one does not
   * know, or damaged): each one's field (`input`, `output`, `steps[charge].output`) and why.
   * Those fields are absent from the view.
   */
  unreadable?: { field: string; message: string }[];
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** A recorded error as shown, its message redacted. */
export function toRunErrorView(error: RecordedError): RunErrorView {
  return {
    name: error.name,
    message: redactText(error.message),
    ...(error.code === undefined ? {} : { code: error.code }),
    terminal: error.terminal,
  };
}

/** The list view of a run. */
export function toRunSummaryView(run: RunRecord): RunSummaryView {
  const view: RunSummaryView = {
    id: run.id,
    workflow: run.workflow,
    status: run.status,
    phase: run.phase,
    invocations: run.invocations,
    createdAt: iso(run.createdAt),
    updatedAt: iso(run.updatedAt),
  };
  if (run.waitCode !== undefined) view.waitCode = run.waitCode;
  if (run.runAt !== undefined) view.runAt = iso(run.runAt);
  if (run.error !== undefined) view.error = toRunErrorView(run.error);
  if (run.failReason !== undefined) view.failReason = run.failReason;
  if (run.endedAt !== undefined) view.endedAt = iso(run.endedAt);
  return view;
}

/**
 * The full view of a run: its summary, input, output, compensation, parent (`parentId`, the
 * parent run's id, read by the caller) and steps with their attempts. A value that cannot be read
 * is left out and listed in `unreadable`; the view itself never fails on a stored value.
 */
export function toRunView(detail: RunDetail, parentId?: string): RunView {
  const { run } = detail;
  const unreadable: { field: string; message: string }[] = [];
  const read = (
    text: string,
    field: string,
    redact: (value: unknown) => unknown = (value) => value,
  ): JsonValue | undefined => {
    try {
      return toJsonValue(redact(decodeValue(text, field)));
    } catch (error) {
      unreadable.push({ field, message: error instanceof Error ? error.message : String(error) });
      return undefined;
    }
  };
  const attemptsByStep = new Map<string, StepAttemptView[]>();
  for (const attempt of detail.attempts) {
    const list = attemptsByStep.get(attempt.stepId) ?? [];
    list.push(toStepAttemptView(attempt));
    attemptsByStep.set(attempt.stepId, list);
  }
  const view: RunView = { ...toRunSummaryView(run), steps: [] };
  const input = read(run.input, "input", redactEndpointRequest);
  if (input !== undefined) view.input = input;
  if (run.output !== undefined) {
    const output = read(run.output, "output");
    if (output !== undefined) view.output = output;
  }
  if (run.compensation !== undefined) {
    view.compensation = run.compensation.outcomes.map((outcome) => ({
      stepId: outcome.stepId,
      compensationId: outcome.compensationId,
      status: outcome.status,
      ...(outcome.status === "failed" ? { error: toRunErrorView(outcome.error) } : {}),
    }));
  }
  if (run.parent !== undefined) {
    view.parent = { id: parentId ?? run.parent.uid, stepId: run.parent.stepId };
  }
  view.steps = detail.checkpoints.map((checkpoint) =>
    toStepView(checkpoint, attemptsByStep.get(checkpoint.stepId) ?? [], read),
  );
  if (unreadable.length > 0) view.unreadable = unreadable;
  return view;
}

/**
 * An endpoint run's input (a stored request) with the credentials in its URL (user info, a
 * `?token=` or `?api_key=`) redacted by the one URL redactor: the request is stored as sent (its
 * handler replays it), but is never shown so. Its secret headers were never stored. Any other
 * input is shown as it is.
 */
function redactEndpointRequest(value: unknown): unknown {
  if (!isEndpointRequest(value)) return value;
  return { ...value, url: redactUrl(value.url) };
}

function toStepView(
  checkpoint: Checkpoint,
  attemptLog: StepAttemptView[],
  read: (text: string, field: string) => JsonValue | undefined,
): StepView {
  const view: StepView = {
    id: checkpoint.stepId,
    kind: checkpoint.kind,
    status: checkpoint.status,
    startedAt: iso(checkpoint.startedAt),
    attempts: checkpoint.attempts,
    attemptLog,
  };
  switch (checkpoint.status) {
    case "completed": {
      view.completedAt = iso(checkpoint.completedAt);
      const output = read(checkpoint.output, `steps[${checkpoint.stepId}].output`);
      if (output !== undefined) view.output = output;
      break;
    }
    case "failed":
      view.completedAt = iso(checkpoint.completedAt);
      view.error = toRunErrorView(checkpoint.error);
      break;
    case "retrying":
      view.error = toRunErrorView(checkpoint.lastError);
      view.retryAt = iso(checkpoint.retryAt);
      break;
    case "waiting":
      view.wait = toStepWaitView(checkpoint.wait);
      break;
  }
  return view;
}

function toStepWaitView(wait: StepWait): StepWaitView {
  switch (wait.type) {
    case "sleep":
      return { type: "sleep", until: iso(wait.until) };
    case "event":
      return {
        type: "event",
        event: wait.event,
        ...(wait.match === undefined ? {} : { match: { ...wait.match } }),
        ...(wait.timeoutAt === undefined ? {} : { timeoutAt: iso(wait.timeoutAt) }),
      };
    case "child_run":
      return { type: "child_run", workflow: wait.workflow, runId: wait.runId };
    case "child_call": {
      const { url, method } = wait.request;
      return {
        type: "child_call",
        method: typeof method === "string" ? method.toUpperCase() : "GET",
        url: typeof url === "string" ? redactUrl(url) : "",
        idempotencyKey: wait.idempotencyKey,
        ...(wait.callId === undefined ? {} : { callId: wait.callId }),
      };
    }
  }
}

/** A step attempt as shown. */
export function toStepAttemptView(attempt: StepAttempt): StepAttemptView {
  const { decision } = attempt;
  return {
    number: attempt.number,
    startedAt: iso(attempt.startedAt),
    durationMs: attempt.durationMs,
    outcome:
      attempt.outcome.type === "succeeded"
        ? { type: "succeeded" }
        : { type: "failed", error: toRunErrorView(attempt.outcome.error) },
    decision:
      decision.type === "retry"
        ? {
            type: "retry",
            delayMs: decision.delayMs,
            retryAt: iso(decision.retryAt),
            reason: redactText(decision.reason),
          }
        : decision.type === "fail"
          ? { type: "fail", code: decision.code, reason: redactText(decision.reason) }
          : { type: "succeed" },
  };
}
