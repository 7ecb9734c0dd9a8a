/**
 * Bulkhead: at most `maxConcurrent` calls run at once; up to `maxQueue` more wait in FIFO order;
 * the rest are refused at once with `BulkheadRejectedError`. A freed slot is handed straight to
 * the next queued call, so a newcomer cannot overtake the queue. A queued call whose signal aborts
 * (the caller cancelled, or an outer timeout or deadline passed) leaves the queue.
 *
 * The count is of calls inside the bulkhead: put a timeout inside it and an abandoned attempt
 * frees its slot when abandoned, though its work may still be running.
 */
import type { Context, ExecuteOptions, PolicyContext } from "./context.ts";
import { BulkheadRejectedError, type BulkheadRejectedDetails } from "./errors.ts";
import { Emitter, type EventSource } from "./events.ts";
import { check, executeWith, internal, rejected, type Operation, type Policy } from "./policy.ts";

/** Options of `bulkhead()`. */
export interface BulkheadOptions {
  /** Calls allowed to run at once. Default 10. */
  maxConcurrent?: number;
  /** Calls allowed to wait for a slot. Default 0 (refuse when full). */
  maxQueue?: number;
}

/** Events of `bulkhead()`. */
export interface BulkheadEvents {
  "bulkhead:queued": { executing: number; queued: number };
  "bulkhead:rejected": BulkheadRejectedDetails;
}

interface Waiter {
  context: Context;
  resolve: () => void;
  reject: (error: unknown) => void;
  onAbort: (() => void) | undefined;
}

/** The bulkhead policy. */
export class BulkheadPolicy implements Policy, EventSource<BulkheadEvents> {
  /** Calls allowed to run at once. */
  readonly maxConcurrent: number;
  /** Calls allowed to wait for a slot. */
  readonly maxQueue: number;
  #executing = 0;
  readonly #queue: Waiter[] = [];
  readonly #events = new Emitter<BulkheadEvents>();

  constructor(options: BulkheadOptions = {}) {
    this.maxConcurrent = options.maxConcurrent ?? 10;
    this.maxQueue = options.maxQueue ?? 0;
    check(
      Number.isInteger(this.maxConcurrent) && this.maxConcurrent >= 1,
      "bulkhead",
      `maxConcurrent must be an integer >= 1, got ${this.maxConcurrent}`,
    );
    check(
      this.maxQueue === Infinity || (Number.isInteger(this.maxQueue) && this.maxQueue >= 0),
      "bulkhead",
      `maxQueue must be an integer >= 0 (or Infinity), got ${this.maxQueue}`,
    );
  }

  on: EventSource<BulkheadEvents>["on"] = (name, listener) => this.#events.on(name, listener);

  /** Calls running now. */
  get executing(): number {
    return this.#executing;
  }

  /** Calls waiting for a slot. */
  get queued(): number {
    return this.#queue.length;
  }

  execute<T>(fn: Operation<T>, options?: ExecuteOptions): Promise<T> {
    return executeWith(this, fn, options);
  }

  run<T>(fn: Operation<T>, context: PolicyContext): Promise<T> {
    const ctx = internal(context);
    if (ctx.aborted) return rejected(ctx.reason);
    if (this.#executing < this.maxConcurrent) {
      this.#executing++;
      return this.#runInSlot(fn, ctx);
    }
    if (this.#queue.length >= this.maxQueue) {
      const details = {
        maxConcurrent: this.maxConcurrent,
        maxQueue: this.maxQueue,
        executing: this.#executing,
        queued: this.#queue.length,
      };
      if (this.#events.has("bulkhead:rejected")) this.#events.emit("bulkhead:rejected", details);
      return Promise.reject(new BulkheadRejectedError(details));
    }
    return this.#waitForSlot(ctx).then(() => this.#runInSlot(fn, ctx));
  }

  async #runInSlot<T>(fn: Operation<T>, ctx: Context): Promise<T> {
    try {
      return await fn(ctx);
    } finally {
      this.#release();
    }
  }

  #waitForSlot(ctx: Context): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { context: ctx, resolve, reject, onAbort: undefined };
      const signal = ctx.signal;
      waiter.onAbort = () => {
        const index = this.#queue.indexOf(waiter);
        if (index >= 0) this.#queue.splice(index, 1);
        waiter.reject(signal.reason);
      };
      signal.addEventListener("abort", waiter.onAbort, { once: true });
      this.#queue.push(waiter);
      if (this.#events.has("bulkhead:queued")) {
        this.#events.emit("bulkhead:queued", {
          executing: this.#executing,
          queued: this.#queue.length,
        });
      }
    });
  }

  /** Hands the slot to the next queued call, or frees it. */
  #release(): void {
    const next = this.#queue.shift();
    if (next === undefined) {
      this.#executing--;
      return;
    }
    next.context.signal.removeEventListener("abort", next.onAbort!);
    next.resolve();
  }
}

/**
 * Limits concurrency: `maxConcurrent` calls run, `maxQueue` wait, the rest get
 * `BulkheadRejectedError` at once.
 *
 * @example
 * const policy = bulkhead({ maxConcurrent: 20, maxQueue: 100 });
 * await policy.execute(() => renderThumbnail(file));
 */
export function bulkhead(options: BulkheadOptions = {}): BulkheadPolicy {
  return new BulkheadPolicy(options);
}
