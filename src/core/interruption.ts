/**
 * Attempts cut off by the end of their process (issue 10, item 11): what is recorded for them,
 * and how they count.
 *
 * An interrupted attempt is recorded, so that the attempt log counts every request the upstream
 * may have seen, but it is not one of the call's failures: it does not count against
 * `maxAttempts` (it goes into `CallRecord.attemptBase`), nor as a retry for the destination's retry
 * budget, nor in the backoff's attempt number. A process can also end over and over because of
 * the call it runs (a response that exhausts memory, a bug): a call whose attempts were cut off by
 * the end of their process `MAX_CRASHES_IN_A_ROW` times in a row, without an attempt completing in
 * between, is failed without being sent again (`crash_loop`). A graceful stop is not a crash: it
 * never counts toward that; nor is a fence (a live process that stopped sending because it could
 * not confirm in time that it was alive: a database blip, a VM pause), which records the attempt
 * it cut off itself when its claim is still its own.
 */
import type { AttemptDecision, CallRecord, InterruptedOutcome } from "./call.ts";
import type { WorkerId } from "./ids.ts";

/**
 * How many takeovers in a row (attempts cut off by the end of their process, with no attempt
 * completing in between) end a call as `crash_loop` at its next claim, without sending it again.
 * Not configurable: 3 lets a call through two crashes it did not cause (a deploy that killed its
 * process, a host lost) and still stops a call that kills every process that runs it.
 */
export const MAX_CRASHES_IN_A_ROW = 3;

/**
 * What the claim that takes a call over records for the attempt its previous owner had started:
 * the process ended (or stopped renewing its lease) before the attempt's outcome was recorded.
 * Its `sent` is `"unknown"`: the call may have been waiting in that process's memory (for a
 * destination's slot, a rate limit) without being sent, or its request may have been answered.
 * Its `startedAt` is the previous claim's time, so its duration includes any such wait.
 */
export function takenOverAttempt(takenBy: WorkerId): {
  outcome: InterruptedOutcome;
  sent: "unknown";
  decision: AttemptDecision;
} {
  return {
    outcome: {
      type: "interrupted",
      code: "process_ended",
      message:
        "interrupted: the process ended (or stopped renewing its lease) before the attempt's " +
        "outcome was recorded; whether its request was sent is unknown",
    },
    sent: "unknown",
    decision: { type: "retry", delayMs: 0, reason: `taken over by ${takenBy}` },
  };
}

/** What an engine records for an attempt of its own it cut off: a stop's or a fence's. */
export interface Interruption {
  outcome: InterruptedOutcome;
  /** Due again at once. */
  decision: Extract<AttemptDecision, { type: "retry" }>;
}

/** What a graceful stop records for an attempt it aborted after the grace period. */
export function stoppedAttempt(graceMs: number): Interruption {
  return {
    outcome: {
      type: "interrupted",
      code: "process_stopped",
      message: `interrupted: the process stopped, and the attempt had not ended within its ${graceMs} ms shutdown grace`,
    },
    decision: { type: "retry", delayMs: 0, reason: "the process stopped; due again at once" },
  };
}

/**
 * What an engine that fenced itself records for an attempt it aborted after its request may
 * have been sent (`WorkerLiveness`): not a crash, and due again at once. The engine knows
 * whether the request was sent, so the record carries its `sent`.
 */
export function fencedAttempt(): Interruption {
  return {
    outcome: {
      type: "interrupted",
      code: "process_fenced",
      message:
        "interrupted: the process stopped sending because it could not confirm in time that it " +
        "was still alive (its heartbeat was not acknowledged, or another process found it dead), " +
        "so that no other process would take the call over while it ran",
    },
    decision: {
      type: "retry",
      delayMs: 0,
      reason: "the process fenced itself; due again at once",
    },
  };
}

/**
 * The attempts `maxAttempts` counts so far: neither those made before the call's last redrive
 * nor interrupted ones. Also the number of the retry to come, for the backoff and the retry
 * budget: 0 before the first attempt that completed.
 */
export function attemptsUsed(call: Pick<CallRecord, "attempts" | "attemptBase">): number {
  return call.attempts - call.attemptBase;
}

/**
 * Why a claimed call must not be sent again, or `undefined`: its attempts were cut off by the
 * end of their process `MAX_CRASHES_IN_A_ROW` times in a row (see the file comment).
 */
export function crashLoop(
  call: Pick<CallRecord, "crashesInARow">,
): { code: "crash_loop"; reason: string } | undefined {
  if (call.crashesInARow < MAX_CRASHES_IN_A_ROW) return undefined;
  return {
    code: "crash_loop",
    reason:
      `not sent: its last ${call.crashesInARow} attempts were cut off by the end of their ` +
      "process, none completing, so this call may be what ends it; redrive it " +
      "(POST /v1/calls/:id/retry) once the cause is fixed",
  };
}
