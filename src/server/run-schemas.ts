/**
 * Zod schemas of the `/v1/runs` and `/v1/events` routes (issue 11): the query they validate and
 * the answers they give (`core/run-view.ts`). They feed `openapi.json`, and the tests check real
 * answers against them. The event body's schema is `core/event-input.ts`'s.
 */
import { z } from "zod";
import { ProblemCodes, ProblemSchema } from "./schemas.ts";
import {
  DEFAULT_RESULT_WAIT_SECONDS,
  MAX_RESULT_WAIT_SECONDS,
  MAX_RUN_PAGE,
} from "../engine/workflows/runs-service.ts";
import { RunStatuses } from "../core/workflow/run-state.ts";

const isoTime = z.iso.datetime().describe("ISO 8601 time, UTC.");
const nonNegativeInt = z.number().int().min(0);
// Any JSON value (`z.json()` would be recursive: a shared definition outside the components).
const jsonValue = z
  .unknown()
  .describe(
    "The stored value projected to JSON: Date as an ISO string, BigInt as a decimal string, Map as [[key, value], ...], Set as an array, bytes as base64, NaN and Infinity as null, undefined left out (docs/values.md, Values over HTTP).",
  );

/** A run's or a step's error. */
const RunErrorViewSchema = z
  .strictObject({
    name: z.string().describe("The error's class: TypeError, StepFailedError..."),
    message: z.string().describe("Credentials in quoted URLs redacted."),
    code: z
      .string()
      .optional()
      .describe("Its code, when it had one: step_failed, card_declined..."),
    terminal: z.boolean().describe("True for a TerminalError, which is never retried."),
  })
  .describe("An error as recorded.");

const StepAttemptViewSchema = z
  .strictObject({
    number: z.number().int().min(1).describe("1-based, over the step's life."),
    startedAt: isoTime,
    durationMs: z.number().min(0),
    outcome: z.discriminatedUnion("type", [
      z.strictObject({ type: z.literal("succeeded") }),
      z.strictObject({ type: z.literal("failed"), error: RunErrorViewSchema }),
    ]),
    decision: z.discriminatedUnion("type", [
      z.strictObject({ type: z.literal("succeed") }),
      z.strictObject({
        type: z.literal("retry"),
        delayMs: nonNegativeInt,
        retryAt: isoTime,
        reason: z.string(),
      }),
      z.strictObject({
        type: z.literal("fail"),
        code: z.enum(["terminal", "attempts_exhausted", "output_not_encodable", "cancelled"]),
        reason: z.string(),
      }),
    ]),
  })
  .describe("One attempt of a run or compensate step and the decision taken after it.");

const StepWaitViewSchema = z
  .discriminatedUnion("type", [
    z.strictObject({ type: z.literal("sleep"), until: isoTime }),
    z.strictObject({
      type: z.literal("event"),
      event: z.string().describe("The event's name."),
      match: z
        .record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()]))
        .optional()
        .describe("Top-level fields the event's data must have."),
      timeoutAt: isoTime.optional().describe("When the wait gives up and returns null."),
    }),
    z.strictObject({
      type: z.literal("child_run"),
      workflow: z.string(),
      runId: z.string().describe("The child run's id (GET /v1/runs/{id})."),
    }),
    z.strictObject({
      type: z.literal("child_call"),
      method: z.string(),
      url: z.string().describe("Credentials redacted."),
      idempotencyKey: z.string().describe("Forwarded upstream: <runId>:<stepId>."),
      callId: z.string().optional().describe("The child call (GET /v1/calls/{id})."),
    }),
  ])
  .describe("What a waiting step waits for.");

const StepViewSchema = z
  .strictObject({
    id: z.string().describe("The step's id: charge, charge#2 (a repeat), $compensate:charge."),
    kind: z.enum([
      "run",
      "sleep",
      "waitForEvent",
      "fetch",
      "invoke",
      "now",
      "random",
      "compensate",
    ]),
    status: z
      .enum(["completed", "failed", "retrying", "waiting"])
      .describe(
        "completed and failed are final (replayed without running); retrying: its next attempt is due at retryAt; waiting: the run is parked on it.",
      ),
    startedAt: isoTime,
    completedAt: isoTime.optional(),
    attempts: nonNegativeInt.describe("Attempts made (run and compensate steps; 0 for others)."),
    output: jsonValue.optional().describe("A completed step's output (absent when undefined)."),
    error: RunErrorViewSchema.optional().describe(
      "A failed step's error, or a retrying step's last error.",
    ),
    retryAt: isoTime.optional().describe("When a retrying step's next attempt is due."),
    wait: StepWaitViewSchema.optional(),
    attemptLog: z.array(StepAttemptViewSchema).describe("Its recorded attempts, oldest first."),
  })
  .describe("One step of a run.");

const runSummaryShape = {
  id: z.string().describe("The run's id, as it was started with (its idempotency key)."),
  workflow: z.string(),
  status: z
    .enum(RunStatuses)
    .describe(
      "queued, running, sleeping (every wait a sleep), waiting (see waitCode), compensating, or ended: succeeded, failed, cancelled.",
    ),
  phase: z
    .enum(["forward", "compensating"])
    .describe("compensating once it failed and runs its compensations."),
  waitCode: z
    .enum(["event", "child_run", "child_call", "retry_backoff"])
    .optional()
    .describe("While waiting: on an event, a child run, a child call, or a step's retry backoff."),
  runAt: isoTime
    .optional()
    .describe("While queued, sleeping or waiting: when time alone makes it due."),
  invocations: nonNegativeInt.describe("Invocations of its function so far, takeovers included."),
  error: RunErrorViewSchema.optional().describe("Why a failed run failed."),
  failReason: z
    .enum(["error", "diverged"])
    .optional()
    .describe(
      "error: its function threw; diverged: its code no longer matches its record (not compensated; retry it with fixed code).",
    ),
  createdAt: isoTime,
  updatedAt: isoTime,
  endedAt: isoTime.optional(),
};

/** A run as `GET /v1/runs` lists it. */
export const RunSummaryViewSchema = z
  .strictObject(runSummaryShape)
  .describe("A workflow run, without its input, output and steps (GET /v1/runs/{id} has them).");

/** A run as `GET /v1/runs/:id` shows it. */
export const RunViewSchema = z
  .strictObject({
    ...runSummaryShape,
    input: jsonValue.optional().describe("Its input (absent when undefined)."),
    output: jsonValue.optional().describe("A succeeded run's output (absent when undefined)."),
    compensation: z
      .array(
        z.strictObject({
          stepId: z.string(),
          compensationId: z.string(),
          status: z.enum(["compensated", "failed"]),
          error: RunErrorViewSchema.optional(),
        }),
      )
      .optional()
      .describe("What each compensation did, in the order they ran."),
    parent: z
      .strictObject({ id: z.string(), stepId: z.string() })
      .optional()
      .describe("For a run started by step.invoke: the parent run and its waiting step."),
    steps: z.array(StepViewSchema).describe("In the order each was first recorded."),
    unreadable: z
      .array(z.strictObject({ field: z.string(), message: z.string() }))
      .optional()
      .describe(
        "Values that could not be read (stored by a newer Steadfast, or damaged); those fields are absent.",
      ),
  })
  .describe("A workflow run with its steps and their attempts.");

/** The answer of `GET /v1/runs`. */
export const RunPageSchema = z
  .strictObject({
    runs: z.array(RunSummaryViewSchema),
    nextCursor: z
      .string()
      .optional()
      .describe("Pass as `cursor` for the next page; absent on the last page."),
  })
  .describe("A page of runs, newest first.");

/** The answer of `POST /v1/events`. */
export const SentEventSchema = z
  .strictObject({
    id: z.string().describe("The event's id: the one sent, or evt_<ULID>."),
    name: z.string(),
    receivedAt: isoTime.describe("When it was recorded (the first time, for a repeat)."),
    created: z
      .boolean()
      .describe("False when this tenant already had an event with this id, name and data."),
  })
  .describe("The event, recorded; the runs waiting for it are woken.");

const LIMIT_MESSAGE = `must be an integer from 1 to ${MAX_RUN_PAGE}`;

/** The body of a `202` of `GET /v1/runs/:id/result`: the run has not ended yet. */
export const RunAcceptedSchema = z
  .strictObject({
    runId: z.string(),
    location: z.string().describe("Where to ask again: the Location header."),
  })
  .describe("An endpoint run that has not ended yet.");

/**
 * A problem of `GET /v1/runs/:id/result`: the server's (`Problem`), or the answer of an endpoint
 * run that failed (`run_failed`) or was cancelled (`run_cancelled`), with its `runId`.
 */
export const RunResultProblemSchema = ProblemSchema.omit({ code: true })
  .extend({
    code: z.enum([...ProblemCodes, "run_failed", "run_cancelled"]),
    runId: z.string().optional().describe("The endpoint run, for run_failed and run_cancelled."),
  })
  .describe("Problem details (RFC 9457) of an endpoint run's answer, or of the request.");

const WAIT_MESSAGE = `must be a whole number of seconds from 0 to ${MAX_RESULT_WAIT_SECONDS}`;

/** Query parameters of `GET /v1/runs/:id/result`. */
export const RunResultQuerySchema = z.strictObject({
  wait: z.coerce
    .number({ error: WAIT_MESSAGE })
    .int({ error: WAIT_MESSAGE })
    .min(0, { error: WAIT_MESSAGE })
    .max(MAX_RESULT_WAIT_SECONDS, { error: WAIT_MESSAGE })
    .optional()
    .describe(
      `How long to hold the request for the run's end, seconds, 0 to ${MAX_RESULT_WAIT_SECONDS}. Default ${DEFAULT_RESULT_WAIT_SECONDS}.`,
    ),
});

/** Query parameters of `GET /v1/runs`. Unknown parameters are refused, so a typo is not ignored. */
export const ListRunsQuerySchema = z.strictObject({
  workflow: z
    .string()
    .min(1, { error: "must not be empty; leave it out for every workflow" })
    .max(256)
    .optional()
    .describe("Only runs of this workflow."),
  status: z
    .enum(RunStatuses, { error: `must be one of ${RunStatuses.join(", ")}` })
    .optional()
    .describe("Only runs in this status; failed lists the runs to retry."),
  limit: z.coerce
    .number({ error: LIMIT_MESSAGE })
    .int({ error: LIMIT_MESSAGE })
    .min(1, { error: LIMIT_MESSAGE })
    .max(MAX_RUN_PAGE, { error: LIMIT_MESSAGE })
    .optional()
    .describe(`Page size, 1 to ${MAX_RUN_PAGE}. Default 50.`),
  cursor: z.string().min(1).max(64).optional().describe("The nextCursor of the previous page."),
});
