import { StoreError } from "../../core/errors.ts";
import { isStatementError } from "./postgres-errors.ts";

/** How one write of a batch ended. */
export type BatchOutcome<R> = { ok: true; value: R } | { ok: false; error: unknown };

/** Options of `WriteBatcher`. */
export interface WriteBatcherOptions<T, R> {
  /**
   * Writes a batch, usually as one statement, and reports one outcome per item in order. It
   * decides how a failure spreads: a bad item should fail alone. If it throws, every item of
   * the batch rejects with that error.
   */
  run: (items: T[]) => Promise<BatchOutcome<R>[]>;
  /** Most items per batch; the rest wait for the next one. Default 1,000. */
  maxBatchSize?: number;
  /** Most batches running at once; further items queue meanwhile. Default 4. */
  maxInFlight?: number;
  /**
   * An item's approximate size in bytes (its parameters), so that a batch of large items stays
   * far below PostgreSQL's 1 GiB message limit. Default: every item weighs 1.
   */
  weigh?: (item: T) => number;
  /** Most total weight per batch; a heavier single item still goes, alone. Default 16 MiB. */
  maxBatchWeight?: number;
}

interface Pending<T, R> {
  item: T;
  resolve: (value: R) => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit for a connection pool. PostgreSQL commits a multi-row statement about as fast as
 * a single-row one, so writes of one kind queued in the same event loop turn go out as one
 * batch. Batches are pipelined: up to `maxInFlight` run at once on separate connections, and
 * while they all run, new writes queue and leave together as the next batch once one finishes.
 * Batches therefore stay small when the load is light (low latency) and grow with it (high
 * throughput), without a timer.
 *
 * A write's promise settles with its own outcome once its batch has run; `run` commits before
 * returning, so a resolved write is durable.
 *
 * @example
 * const creates = new WriteBatcher({ run: (calls) => insertEach(calls) });
 * const result = await creates.enqueue(call);
 */
export class WriteBatcher<T, R> {
  readonly #run: (items: T[]) => Promise<BatchOutcome<R>[]>;
  readonly #maxBatchSize: number;
  readonly #maxInFlight: number;
  readonly #weigh: ((item: T) => number) | undefined;
  readonly #maxBatchWeight: number;
  #queue: Pending<T, R>[] = [];
  #inFlight = 0;
  #scheduled: NodeJS.Immediate | undefined;
  #idle: (() => void)[] = [];

  constructor(options: WriteBatcherOptions<T, R>) {
    this.#run = options.run;
    this.#maxBatchSize = Math.max(1, options.maxBatchSize ?? 1_000);
    this.#maxInFlight = Math.max(1, options.maxInFlight ?? 4);
    this.#weigh = options.weigh;
    this.#maxBatchWeight = options.maxBatchWeight ?? 16 * 1024 * 1024;
  }

  /** Items queued and not yet sent. */
  get pending(): number {
    return this.#queue.length;
  }

  /** Batches running now. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Queues `item` for the next batch; settles with its outcome. */
  enqueue(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.#queue.push({ item, resolve, reject });
      this.#scheduled ??= setImmediate(this.#launch);
    });
  }

  /** Sends everything queued now and resolves once no batch is queued or running. */
  async drain(): Promise<void> {
    if (this.#scheduled !== undefined) {
      clearImmediate(this.#scheduled);
      this.#scheduled = undefined;
    }
    this.#launch();
    while (this.#queue.length > 0 || this.#inFlight > 0) {
      await new Promise<void>((resolve) => this.#idle.push(resolve));
    }
  }

  #launch = (): void => {
    this.#scheduled = undefined;
    while (this.#inFlight < this.#maxInFlight && this.#queue.length > 0) {
      const batch = this.#queue.splice(0, this.#batchLength());
      this.#inFlight++;
      void this.#runBatch(batch).finally(() => {
        this.#inFlight--;
        // On the next turn, so that writes issued in this one join the batch.
        if (this.#queue.length > 0) this.#scheduled ??= setImmediate(this.#launch);
        for (const wake of this.#idle.splice(0)) wake();
      });
    }
  };

  // How many queued items the next batch takes: up to maxBatchSize, and up to maxBatchWeight
  // unless the first item alone is heavier.
  #batchLength(): number {
    const limit = Math.min(this.#queue.length, this.#maxBatchSize);
    if (this.#weigh === undefined) return limit;
    let weight = 0;
    for (let i = 0; i < limit; i++) {
      weight += this.#weigh(this.#queue[i]!.item);
      if (weight > this.#maxBatchWeight) return Math.max(1, i);
    }
    return limit;
  }

  async #runBatch(batch: Pending<T, R>[]): Promise<void> {
    let outcomes: BatchOutcome<R>[];
    try {
      outcomes = await this.#run(batch.map((p) => p.item));
    } catch (error) {
      for (const pending of batch) pending.reject(error);
      return;
    }
    for (const [i, pending] of batch.entries()) {
      const outcome = outcomes[i];
      if (outcome === undefined) {
        pending.reject(
          new StoreError(
            "invariant_broken",
            `The batch reported ${outcomes.length} outcomes for ${batch.length} writes.`,
          ),
        );
      } else if (outcome.ok) pending.resolve(outcome.value);
      else pending.reject(outcome.error);
    }
  }
}

/**
 * Runs `write` for each item on its own, concurrently: the fallback when a batch statement
 * failed because of one of its items, so that only that item fails.
 */
export async function oneByOne<T, R>(
  items: readonly T[],
  write: (item: T) => Promise<R>,
): Promise<BatchOutcome<R>[]> {
  const settled = await Promise.allSettled(items.map((item) => write(item)));
  return settled.map((s) =>
    s.status === "fulfilled"
      ? { ok: true, value: s.value }
      : { ok: false, error: s.reason as unknown },
  );
}

/**
 * Splits positions into successive rounds in which no key appears twice, keeping order: the
 * first write about a call goes in the first round, the second in the next, and so on. A
 * multi-row UPDATE joined on the key applies only one of two rows for the same call, so each
 * round is one statement.
 */
export function roundsByKey(positions: readonly number[], key: (i: number) => string): number[][] {
  const rounds: number[][] = [];
  const depth = new Map<string, number>();
  for (const i of positions) {
    const k = key(i);
    const round = depth.get(k) ?? 0;
    depth.set(k, round + 1);
    (rounds[round] ??= []).push(i);
  }
  return rounds;
}

/**
 * The `run` of a batch of fenced commits: each one encoded (one that cannot be fails alone),
 * then committed in rounds by `key` (`roundsByKey`), each round by `commit`, which resolves the
 * positions (0-based, in the round) of the commits that applied; the others were fenced (false).
 * A statement error (one commit's data refused) replays the round commit by commit, so that only
 * the faulty one fails; any other error (a lost connection, a timeout) fails the round, since
 * whether it committed is unknown.
 */
export async function commitInRounds<C, E>(
  commits: readonly C[],
  encode: (commit: C) => E,
  key: (commit: C) => string,
  commit: (rows: E[]) => Promise<Set<number>>,
): Promise<BatchOutcome<boolean>[]> {
  const outcomes = new Array<BatchOutcome<boolean>>(commits.length);
  const encoded = commits.map((one, i) => {
    try {
      return encode(one);
    } catch (error) {
      outcomes[i] = { ok: false, error };
      return undefined;
    }
  });
  const valid = commits.flatMap((_, i) => (encoded[i] === undefined ? [] : [i]));
  for (const round of roundsByKey(valid, (i) => key(commits[i]!))) {
    const rows = round.map((i) => encoded[i]!);
    try {
      const applied = await commit(rows);
      for (const [k, i] of round.entries()) outcomes[i] = { ok: true, value: applied.has(k) };
    } catch (error) {
      if (round.length === 1 || !isStatementError(error)) {
        for (const i of round) outcomes[i] = { ok: false, error };
        continue;
      }
      const alone = await oneByOne(rows, async (row) => (await commit([row])).has(0));
      for (const [k, i] of round.entries()) outcomes[i] = alone[k]!;
    }
  }
  return outcomes;
}
