/**
 * The loop that claims due work, shared by the call engine and the run executor: one pass at a
 * time (a wake-up during a pass asks for another, `again`), a timer for the next due time, and
 * the periodic tasks beside it (heartbeats, lease renewals, catching up with other processes).
 */
import type { Clock } from "../core/ports.ts";

/** What a `ClaimLoop` runs and reports to. */
export interface ClaimLoopOptions {
  clock: Clock;
  /** Whether passes may run now (the owner is running). */
  active: () => boolean;
  /** One pass: claims what is due and arms the timer for what is not. */
  pass: () => Promise<void>;
  /** A pass failed: the loop tries again in 1 s. */
  onError: (error: unknown) => void;
}

/** Serialised claim passes and the timer of the next one (see the file's comment). */
export class ClaimLoop {
  readonly #options: ClaimLoopOptions;
  #running: Promise<void> | undefined;
  #timer: { at: number; controller: AbortController } | undefined;
  /** Set by a wake-up during a pass: the pass (or the loop) runs again. */
  again = false;

  constructor(options: ClaimLoopOptions) {
    this.#options = options;
  }

  /** The pass under way, if any. */
  get running(): Promise<void> | undefined {
    return this.#running;
  }

  /** Runs a pass now, or after the one under way. */
  wake(): void {
    if (!this.#options.active()) return;
    if (this.#running !== undefined) {
      this.again = true;
      return;
    }
    this.#running = this.#options.pass().then(
      () => {
        this.#running = undefined;
        if (this.again) this.wake();
      },
      (error: unknown) => {
        this.#running = undefined;
        this.#options.onError(error);
        this.arm(this.#options.clock.now() + 1_000);
      },
    );
  }

  /** Wakes at `runAt` if that is due, else makes sure the timer fires by then. */
  notify(runAt: number): void {
    if (!this.#options.active()) return;
    if (runAt <= this.#options.clock.now()) this.wake();
    else if (this.#timer === undefined || runAt < this.#timer.at) this.arm(runAt);
  }

  /** Wakes at `at` (epoch ms), instead of any time armed before. */
  arm(at: number, onFire?: () => void): void {
    if (!this.#options.active()) return;
    this.#timer?.controller.abort();
    const controller = new AbortController();
    this.#timer = { at, controller };
    const { clock } = this.#options;
    clock.sleep(Math.max(0, at - clock.now()), controller.signal).then(
      () => {
        if (this.#timer?.controller === controller) this.#timer = undefined;
        onFire?.();
        this.wake();
      },
      () => {},
    );
  }

  /** Disarms the timer. */
  disarm(): void {
    this.#timer?.controller.abort();
    this.#timer = undefined;
  }
}

/**
 * Runs `task` every `intervalMs` of `clock` until `signal` aborts; a task that throws is
 * reported to `onError` and runs again next interval.
 */
export async function repeatEvery(
  clock: Clock,
  signal: AbortSignal,
  intervalMs: number,
  task: () => Promise<void>,
  onError: (error: unknown) => void,
): Promise<void> {
  while (!signal.aborted) {
    try {
      await clock.sleep(intervalMs, signal);
    } catch {
      return;
    }
    try {
      await task();
    } catch (error) {
      onError(error);
    }
  }
}
