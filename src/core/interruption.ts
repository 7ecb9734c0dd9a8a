/**
 * Attempts cut off by the end of their process (issue 10, item 11): what is recorded for them,
 * and how they count against `maxAttempts`.
 *
 * An interrupted attempt counts as an attempt: it may have reached the upstream, and a call that
 * crashes its process on every attempt must not be retried forever. But a crash is ours, not the
 * upstream's: when interruptions have used up `maxAttempts`, one more attempt is still made (so a
 * call with `maxAttempts: 1` is not failed by a single crash without ever getting an answer), and
 * only a call interrupted again after that ends `failed` (`attempts_exhausted`) without being sent.
 */
import type { AttemptDecision, CallRecord, InterruptedOutcome } from "./call.ts";
import type { WorkerId } from "./ids.ts";

/**
 * What the claim that takes a call over records for the attempt its previous owner had started:
 * the process ended (or stopped renewing its lease) before the attempt's outcome was recorded.
 * `sent` is `true` for it: whether the request reached the upstream is unknown.
 */
export function takenOverAttempt(takenBy: WorkerId): {
  outcome: InterruptedOutcome;
  decision: AttemptDecision;
} {
  return {
    outcome: {
      type: "interrupted",
      code: "process_ended",
      message:
        "interrupted: the process ended (or stopped renewing its lease) before the attempt's " +
        "outcome was recorded; the request may have reached the upstream",
    },
    decision: { type: "retry", delayMs: 0, reason: `taken over by ${takenBy}` },
  };
}

/** What a graceful stop records for an attempt it aborted after the grace period. */
export function stoppedAttempt(graceMs: number): {
  outcome: InterruptedOutcome;
  decision: AttemptDecision;
} {
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
 * True when a claimed call must not be sent again: interruptions took it past `maxAttempts`
 * plus the one attempt granted after them (see the file comment). Only interruptions can take a
 * call there: a decided attempt that uses up `maxAttempts` ends the call.
 */
export function interruptionsExhausted(call: CallRecord): boolean {
  return call.attempts - call.attemptBase > call.spec.retry.maxAttempts;
}
