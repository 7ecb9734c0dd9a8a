/**
 * The retention role of the `Store` port (issue 14): deleting ended calls and ended runs once
 * they are older than the retention period, in small batches, oldest first, each on an index.
 *
 * What is never deleted, whatever its age:
 *   - work that has not ended (a live call, callback or run), nor a call redriven since;
 *   - a call whose idempotency key is still held (`idempotencyExpiresAt` at or after `now`): a
 *     retry of its request must still find it;
 *   - a call whose callback delivery has not ended (it is still being delivered);
 *   - a call started by a run's step (`parentRun`) while that run is live, and a run started by
 *     another run's step (`parent`) while that run is live: the parent reads their ends.
 * A call goes with its callback deliveries and attempts; a run with its step checkpoints, step
 * attempts and out-of-line values. An ended parent run does not keep its children, nor do live
 * children keep an ended parent: each is judged on its own end.
 */

/** One batch of `purgeEndedCalls` or `purgeEndedRuns`. */
export interface EndedPurge {
  /** Deletes what ended strictly before this time, epoch ms. */
  endedBefore: number;
  /**
   * The time now, epoch ms: a call whose idempotency key is retained until `now` or later is
   * kept (keys are released when `idempotencyExpiresAt < now`, as `purgeExpiredIdempotencyKeys`).
   */
  now: number;
  /** Most calls (or runs) this batch deletes, callbacks and steps not counted. At least 1. */
  limit: number;
}

/** What one `purgeEndedCalls` batch deleted. */
export interface PurgedCalls {
  /** User calls (kind `call`), with their attempts. At most the batch's `limit`. */
  calls: number;
  /** Their callback deliveries (kind `callback`), with their attempts. */
  callbacks: number;
}

/** Deletes ended calls and runs past their retention (see the file's comment). */
export interface RetentionLog {
  /**
   * Deletes, in one transaction, up to `limit` ended user calls of every tenant that ended before
   * `endedBefore`, oldest end first, with their callback deliveries and attempts, skipping those
   * the file's rules keep. A caller deleting in batches calls again while `calls` equals `limit`.
   * Concurrent purges (other processes) do not block each other nor delete a call twice.
   */
  purgeEndedCalls(purge: EndedPurge): Promise<PurgedCalls>;
  /**
   * Deletes, in one transaction, up to `limit` runs of every tenant that ended before
   * `endedBefore`, oldest end first, with their steps, step attempts and out-of-line values,
   * skipping a run whose parent run is live. Returns how many runs. `now` is not used (runs hold
   * no idempotency key apart from their id, which goes with them).
   */
  purgeEndedRuns(purge: EndedPurge): Promise<number>;
}

/** A batch's `limit` as the stores apply it: a whole number, at least 1. */
export function purgeLimit(limit: number): number {
  return Math.max(1, Math.floor(limit));
}
