/**
 * Group commit for a synchronous SQLite connection, shared by the SQLite stores of the engine
 * (`src/store/sqlite`) and of `steadfast/idempotency`.
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import { StoreError } from "../core/errors.ts";

/** A queued write: runs synchronously inside the batch transaction. */
interface PendingWrite {
  run: () => unknown;
  /** Whether its promise waits for the sync (see `GroupCommitOptions.sync`). */
  durable: boolean;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/** A committed batch: `settle` resolves or rejects each write; `fail` rejects them all. */
interface CommittedBatch {
  settle: () => void;
  fail: (error: unknown) => void;
}

/** How a write of the batch ended, before the batch commits. */
type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/** Options of `GroupCommit`. */
export interface GroupCommitOptions {
  /** Most writes committed in one transaction; the rest go in the next one. Default 10,000. */
  maxBatchSize?: number;
  /** Called after each successful COMMIT (e.g. to schedule a WAL checkpoint). */
  onCommit?: () => void;
  /**
   * Makes committed transactions durable (an fsync of the WAL file, off the event loop). When
   * given, a durable write's promise resolves only after a `sync()` that began after its COMMIT
   * has resolved. One sync runs at a time; transactions committed meanwhile share the next one, so
   * a slow disk groups more writes per fsync instead of stalling the event loop.
   */
  sync?: () => Promise<void>;
}

/**
 * Group commit for a synchronous SQLite connection. SQLite makes one fsync per transaction, so
 * committing every write on its own caps throughput at the disk's fsync rate. Instead, writes are
 * queued and a flush scheduled with `setImmediate` (after the current I/O callbacks, so one event
 * loop turn's worth of requests share it) runs them all in one `BEGIN IMMEDIATE ... COMMIT`.
 *
 * A write that throws is rolled back alone and rejects only its own promise: the batch first runs
 * without savepoints (fast), and if any write throws it is rolled back and replayed with a
 * SAVEPOINT around each write. Writes must therefore be deterministic functions of the database
 * and their arguments, with no side effects outside it.
 *
 * Promises settle after COMMIT returns, so a resolved write is durable (to the extent of the
 * connection's `synchronous` setting). If SQLite aborts the whole transaction (disk full, I/O
 * error) or COMMIT fails, every write of that transaction rejects.
 *
 * @example
 * const writes = new GroupCommit(db);
 * const changed = await writes.enqueue(() => update.run(id).changes);
 */
export class GroupCommit {
  #db: DatabaseSync;
  #maxBatchSize: number;
  #onCommit: (() => void) | undefined;
  #sync: (() => Promise<void>) | undefined;
  /** Committed batches waiting for the next sync. */
  #unsynced: CommittedBatch[] = [];
  #syncing: Promise<void> | undefined;
  #queue: PendingWrite[] = [];
  #scheduled: NodeJS.Immediate | undefined;
  #closed = false;
  #begin: StatementSync;
  #commit: StatementSync;
  #rollback: StatementSync;
  #savepoint: StatementSync;
  #release: StatementSync;
  #rollbackTo: StatementSync;

  constructor(db: DatabaseSync, options: GroupCommitOptions = {}) {
    this.#db = db;
    this.#maxBatchSize = options.maxBatchSize ?? 10_000;
    this.#onCommit = options.onCommit;
    this.#sync = options.sync;
    this.#begin = db.prepare("BEGIN IMMEDIATE");
    this.#commit = db.prepare("COMMIT");
    this.#rollback = db.prepare("ROLLBACK");
    this.#savepoint = db.prepare("SAVEPOINT write");
    this.#release = db.prepare("RELEASE write");
    this.#rollbackTo = db.prepare("ROLLBACK TO write");
  }

  /** Writes queued and not yet committed. */
  get pending(): number {
    return this.#queue.length;
  }

  /**
   * Queues `run` for the next batch transaction. `run` must be synchronous and touch only this
   * connection. With `durable: false` its promise resolves at COMMIT without waiting for the sync
   * (for writes whose loss in a power cut is harmless, such as claims: the call is claimed again). Resolves with its result once the batch has committed; rejects with what it threw
   * (its own changes rolled back), or when the batch as a whole could not commit.
   */
  enqueue<T>(run: () => T, options: { durable?: boolean } = {}): Promise<T> {
    if (this.#closed) {
      return Promise.reject(new StoreError("store_closed", "The SQLite store is closed."));
    }
    const durable = options.durable ?? true;
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ run, durable, resolve: resolve as (value: unknown) => void, reject });
      this.#scheduled ??= setImmediate(this.#onImmediate);
    });
  }

  /** Commits everything queued so far, synchronously. */
  flush(): void {
    if (this.#scheduled !== undefined) {
      clearImmediate(this.#scheduled);
      this.#scheduled = undefined;
    }
    while (this.#queue.length > 0) this.#runBatch(this.#takeBatch());
  }

  /** Commits everything queued, then refuses new writes. */
  close(): void {
    this.flush();
    this.#closed = true;
  }

  /** Resolves once every committed write has been synced and settled. */
  async settled(): Promise<void> {
    while (this.#syncing !== undefined) await this.#syncing;
  }

  #onImmediate = (): void => {
    this.#scheduled = undefined;
    this.#runBatch(this.#takeBatch());
    // Leave the event loop a turn between oversized batches.
    if (this.#queue.length > 0) this.#scheduled = setImmediate(this.#onImmediate);
  };

  #takeBatch(): PendingWrite[] {
    if (this.#queue.length <= this.#maxBatchSize) {
      const batch = this.#queue;
      this.#queue = [];
      return batch;
    }
    return this.#queue.splice(0, this.#maxBatchSize);
  }

  #runBatch(batch: PendingWrite[]): void {
    const outcomes = this.#runOptimistic(batch) ?? this.#runIsolated(batch);
    const sync = this.#sync;
    const durable: number[] = [];
    for (let i = 0; i < batch.length; i++) {
      const outcome = outcomes[i]!;
      if (!outcome.ok) batch[i]!.reject(outcome.error);
      else if (sync !== undefined && batch[i]!.durable) durable.push(i);
      else batch[i]!.resolve(outcome.value);
    }
    if (sync === undefined || durable.length === 0) return;
    const settle = (): void => {
      for (const i of durable) batch[i]!.resolve((outcomes[i] as { value: unknown }).value);
    };
    const fail = (error: unknown): void => {
      for (const i of durable) batch[i]!.reject(error);
    };
    this.#unsynced.push({ settle, fail });
    this.#syncing ??= this.#runSyncs(sync);
  }

  // Syncs until nothing committed is left unsynced. Each round settles exactly the writes that
  // were committed before its sync began.
  async #runSyncs(sync: () => Promise<void>): Promise<void> {
    while (this.#unsynced.length > 0) {
      const waiting = this.#unsynced;
      this.#unsynced = [];
      try {
        await sync();
      } catch (error) {
        // The transactions are committed but their durability is unknown: fail them loudly
        // rather than acknowledge what a power cut could take back.
        const failure = new StoreError(
          "store_failed",
          `fsync of the SQLite WAL failed: ${String(error)}`,
          { cause: error },
        );
        for (const committed of waiting) committed.fail(failure);
        continue;
      }
      for (const committed of waiting) committed.settle();
    }
    this.#syncing = undefined;
  }

  // Fast path: the whole batch without savepoints. A savepoint makes SQLite copy every page the
  // write touches into a sub-journal, and consecutive writes touch the same hot pages (the right
  // edge of each index), which halves insert throughput. Writes rarely throw (fencing and held
  // idempotency keys are results, not errors), so when one does, the batch is rolled back and
  // replayed by `#runIsolated`: the writes are deterministic functions of the database, so the
  // replay gives each write the same result it would have had with a savepoint of its own.
  // Returns undefined when the batch must be replayed.
  #runOptimistic(batch: PendingWrite[]): Outcome[] | undefined {
    const outcomes: Outcome[] = new Array<Outcome>(batch.length);
    if (!this.#tryBegin(batch, outcomes, 0)) return outcomes;
    try {
      for (let i = 0; i < batch.length; i++) outcomes[i] = { ok: true, value: batch[i]!.run() };
    } catch {
      if (this.#db.isTransaction) this.#rollback.run();
      return undefined;
    }
    this.#tryCommit(outcomes, 0);
    return outcomes;
  }

  // Slow path: one savepoint per write, so a write that throws is rolled back alone.
  #runIsolated(batch: PendingWrite[]): Outcome[] {
    const outcomes: Outcome[] = new Array<Outcome>(batch.length);
    let txStart = 0;
    let inTx = this.#tryBegin(batch, outcomes, 0);
    for (let i = 0; i < batch.length; i++) {
      if (!inTx) {
        outcomes[i] ??= {
          ok: false,
          error: new StoreError("store_failed", "The batch transaction did not start."),
        };
        continue;
      }
      this.#savepoint.run();
      try {
        const value = batch[i]!.run();
        this.#release.run();
        outcomes[i] = { ok: true, value };
      } catch (error) {
        outcomes[i] = { ok: false, error };
        if (this.#db.isTransaction) {
          this.#rollbackTo.run();
          this.#release.run();
        } else {
          // SQLite rolled back the whole transaction (e.g. SQLITE_FULL): the earlier writes of
          // it are lost too. Start afresh for the writes still to run.
          failRange(outcomes, txStart, i, error);
          txStart = i + 1;
          inTx = this.#tryBegin(batch, outcomes, txStart);
        }
      }
    }
    if (inTx) this.#tryCommit(outcomes, txStart);
    return outcomes;
  }

  // Commits; if that fails, every write of the transaction (from `txStart`) fails with it.
  #tryCommit(outcomes: Outcome[], txStart: number): void {
    try {
      this.#commit.run();
    } catch (error) {
      if (this.#db.isTransaction) this.#rollback.run();
      failRange(outcomes, txStart, outcomes.length, error);
      return;
    }
    this.#onCommit?.();
  }

  #tryBegin(batch: PendingWrite[], outcomes: Outcome[], from: number): boolean {
    if (from >= batch.length) return false;
    try {
      this.#begin.run();
      return true;
    } catch (error) {
      for (let i = from; i < batch.length; i++) outcomes[i] = { ok: false, error };
      return false;
    }
  }
}

function failRange(outcomes: Outcome[], from: number, to: number, cause: unknown): void {
  for (let i = from; i < to; i++) {
    if (outcomes[i]?.ok === true) {
      outcomes[i] = {
        ok: false,
        error: new StoreError(
          "store_failed",
          `The batch transaction was rolled back: ${String(cause)}`,
          { cause },
        ),
      };
    }
  }
}
