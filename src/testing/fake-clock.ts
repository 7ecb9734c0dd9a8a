import type { Clock } from "../core/ports.ts";

interface Sleeper {
  dueAt: number;
  seq: number;
  resolve: () => void;
}

/**
 * A `Clock` whose time moves only when a test calls `advance`. Due sleepers resolve in time
 * order (ties in the order they started), each after the clock reads its due time, and the
 * promise callbacks they trigger run before the next one is released (Effect's `TestClock`).
 *
 * @example
 * const clock = new FakeClock(0);
 * const slept = clock.sleep(1_000);
 * await clock.advance(1_000); // `slept` has resolved, clock.now() === 1_000
 */
export class FakeClock implements Clock {
  #now: number;
  #seq = 0;
  #sleepers: Sleeper[] = [];

  /** Starts at `startMs` (epoch ms). Default 1,700,000,000,000. */
  constructor(startMs = 1_700_000_000_000) {
    this.#now = startMs;
  }

  now(): number {
    return this.#now;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    return new Promise<void>((resolve, reject) => {
      const sleeper: Sleeper = {
        dueAt: this.#now + Math.max(0, ms),
        seq: this.#seq++,
        resolve: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        },
      };
      const onAbort = (): void => {
        this.#sleepers = this.#sleepers.filter((s) => s !== sleeper);
        reject(signal?.reason as Error);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#sleepers.push(sleeper);
    });
  }

  /** Number of sleeps not yet resolved. */
  get pendingSleeps(): number {
    return this.#sleepers.length;
  }

  /** Moves time forward by `ms`, resolving due sleepers in time order. */
  async advance(ms: number): Promise<void> {
    const target = this.#now + ms;
    for (;;) {
      await flushMicrotasks();
      const next = this.#sleepers
        .filter((s) => s.dueAt <= target)
        .sort((a, b) => a.dueAt - b.dueAt || a.seq - b.seq)[0];
      if (next === undefined) break;
      this.#sleepers = this.#sleepers.filter((s) => s !== next);
      this.#now = Math.max(this.#now, next.dueAt);
      next.resolve();
    }
    this.#now = target;
    await flushMicrotasks();
  }

  /** Sets the time (never backwards) and resolves what is due. */
  async set(epochMs: number): Promise<void> {
    await this.advance(Math.max(0, epochMs - this.#now));
  }
}

async function flushMicrotasks(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}
