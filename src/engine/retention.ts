/**
 * Retention (issue 14): ended calls (with their attempts and callback deliveries) and ended runs
 * (with their steps, step attempts and values) are deleted once they ended longer ago than the
 * retention period, in small batches with a pause between them, so that the engine's own writes
 * are never held up for long (on SQLite a batch runs on the event loop, inside a group commit).
 * What the store never deletes, whatever its age, is listed in core/retention-log.ts.
 *
 * The engine runs `purgeEnded` in its maintenance loop (`EngineOptions.retentionMs`); the
 * `steadfast purge --older-than` command runs it once.
 */
import type { Clock } from "../core/ports.ts";
import type { RetentionLog } from "../core/retention-log.ts";

/** How long ended calls and runs are kept by default: 7 days, in ms. */
export const DEFAULT_RETENTION_MS = 7 * 86_400_000;
/** Most calls (or runs) one batch deletes by default. */
export const DEFAULT_PURGE_BATCH_SIZE = 500;
/** The pause between two batches by default, ms. */
export const DEFAULT_PURGE_PAUSE_MS = 100;

/** What is counted as purged (`retention:purged`, `steadfast_purged_total{kind}`). */
export type PurgedKind = "call" | "callback" | "run" | "event";

/** What a purge deleted. */
export interface PurgeCounts {
  /** User calls, with their attempts. */
  calls: number;
  /** Their callback deliveries, with their attempts. */
  callbacks: number;
  /** Runs, with their steps, step attempts and values. */
  runs: number;
}

/** Options of `purgeEnded`. */
export interface PurgeEndedOptions {
  store: RetentionLog;
  /** Paces the batches (`pauseMs`). */
  clock: Clock;
  /** Deletes what ended strictly before this time, epoch ms. */
  endedBefore: number;
  /** The time now, epoch ms: calls whose idempotency key is held until then or later stay. */
  now: number;
  /** Most calls (or runs) one batch deletes. Default `DEFAULT_PURGE_BATCH_SIZE` (500). */
  batchSize?: number;
  /** Pause between two batches, ms. Default `DEFAULT_PURGE_PAUSE_MS` (100). */
  pauseMs?: number;
  /** Stops the purge between two batches (what was deleted stays deleted). */
  signal?: AbortSignal;
  /** Told what each batch deleted, as it is committed. */
  onBatch?: (kind: PurgedKind, count: number) => void;
}

/**
 * Deletes ended calls, then ended runs, that ended before `endedBefore`, one batch after another
 * (each one transaction), pausing `pauseMs` after each full batch, until a batch of runs comes
 * back short or `signal` aborts. Resolves with what it deleted; a store error rejects (what earlier batches
 * deleted stays deleted).
 *
 * @example
 * const DAY = 86_400_000;
 * const now = clock.now();
 * const purged = await purgeEnded({ store, clock, endedBefore: now - 30 * DAY, now });
 * // { calls: 1200, callbacks: 310, runs: 45 }
 */
export async function purgeEnded(options: PurgeEndedOptions): Promise<PurgeCounts> {
  const { store, endedBefore, now, signal } = options;
  const limit = Math.max(1, Math.floor(options.batchSize ?? DEFAULT_PURGE_BATCH_SIZE));
  const pauseMs = options.pauseMs ?? DEFAULT_PURGE_PAUSE_MS;
  const counts: PurgeCounts = { calls: 0, callbacks: 0, runs: 0 };
  const told = (kind: PurgedKind, count: number): void => {
    if (count > 0) options.onBatch?.(kind, count);
  };
  // After a full batch (more may follow), the next waits `pauseMs`: the writes of the engine
  // (and of other processes) get the database meanwhile. A short batch was the last of its kind.
  let full = false;
  /** Pauses after a full batch; false when the purge should stop. */
  const next = async (): Promise<boolean> => {
    if (signal?.aborted === true) return false;
    if (full && pauseMs > 0) {
      try {
        await options.clock.sleep(pauseMs, signal);
      } catch {
        return false;
      }
    }
    return true;
  };
  do {
    if (!(await next())) return counts;
    const batch = await store.purgeEndedCalls({ endedBefore, now, limit });
    counts.calls += batch.calls;
    counts.callbacks += batch.callbacks;
    told("call", batch.calls);
    told("callback", batch.callbacks);
    full = batch.calls >= limit;
  } while (full);
  do {
    if (!(await next())) return counts;
    const runs = await store.purgeEndedRuns({ endedBefore, now, limit });
    counts.runs += runs;
    told("run", runs);
    full = runs >= limit;
  } while (full);
  return counts;
}

/**
 * The cutoff of the engine's purges at `now`: `retentionMs` ago, or `idempotencyTtlMs` ago when
 * keys are kept longer. The store keeps a call until its key expires anyway; starting no later
 * than its expiry saves each pass walking the calls it would keep (core/retention-log.ts).
 */
export function retentionCutoff(
  now: number,
  retentionMs: number,
  idempotencyTtlMs: number,
): number {
  return now - Math.max(retentionMs, idempotencyTtlMs);
}
