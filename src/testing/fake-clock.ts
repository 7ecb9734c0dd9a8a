import type { Clock } from "../core/ports.ts";

interface Sleeper {
  /** Due at this monotonic time. */
  dueAt: number;
  seq: number;
  resolve: () => void;
}

/**
 * A `Clock` whose time moves only when a test calls `advance`. Due sleepers resolve in time
 * order (ties in the order they started), each after the clock reads its due time, and the
 * promise callbacks they trigger run before the next one is released (Effect's `TestClock`).
 *
 * Like a real machine's, its wall clock (`now`) can also be stepped without time passing
 * (`stepWall`: an NTP step, a VM's time sync after a resume): its monotonic reading
 * (`monotonicNow`, starting at 0) and its sleeps, which run on monotonic time as Node's timers
 * do, are not moved by that.
 *
 * @example
 * const clock = new FakeClock(0);
 * const slept = clock.sleep(1_000);
 * await clock.advance(1_000); // `slept` has resolved, clock.now() === 1_000
 */
export class FakeClock implements Clock {
  /** Monotonic time, ms since the clock was made. */
  #monotonic = 0;
  /** Wall time minus monotonic time: moved by `stepWall`. */
  #wallOffset: number;
  #seq = 0;
  #sleepers: Sleeper[] = [];

  /** Starts at `startMs` (epoch ms). Default 1,700,000,000,000. */
  constructor(startMs = 1_700_000_000_000) {
    this.#wallOffset = startMs;
  }

  now(): number {
    return this.#wallOffset + this.#monotonic;
  }

  monotonicNow(): number {
    return this.#monotonic;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    return new Promise<void>((resolve, reject) => {
      const sleeper: Sleeper = {
        dueAt: this.#monotonic + Math.max(0, ms),
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

  /** Moves time (wall and monotonic) forward by `ms`, resolving due sleepers in time order. */
  async advance(ms: number): Promise<void> {
    const target = this.#monotonic + ms;
    for (;;) {
      await flushMicrotasks();
      const next = this.#sleepers
        .filter((s) => s.dueAt <= target)
        .sort((a, b) => a.dueAt - b.dueAt || a.seq - b.seq)[0];
      if (next === undefined) break;
      this.#sleepers = this.#sleepers.filter((s) => s !== next);
      this.#monotonic = Math.max(this.#monotonic, next.dueAt);
      next.resolve();
    }
    this.#monotonic = target;
    await flushMicrotasks();
  }

  /** Sets the wall time (never backwards) by advancing, and resolves what is due. */
  async set(epochMs: number): Promise<void> {
    await this.advance(Math.max(0, epochMs - this.now()));
  }

  /**
   * Steps the wall clock by `ms` (negative: back) without time passing, as NTP or a VM's time
   * sync does: `monotonicNow` and sleeps are not moved, nothing is resolved.
   */
  stepWall(ms: number): void {
    this.#wallOffset += ms;
  }
}

async function flushMicrotasks(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}
