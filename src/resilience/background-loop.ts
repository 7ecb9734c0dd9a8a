/**
 * A task repeated every `intervalMs` of an injected clock until stopped (issue 13): the lease
 * heartbeat of a running request, and the purge of expired records. On Node's clock the wait does
 * not keep the process alive (`sleepUnref`): a forgotten `close()` never holds a process open.
 */
import type { Clock } from "../core/ports.ts";
import { isUnrefClock } from "./system.ts";

/** A running loop. */
export interface BackgroundLoop {
  /** Stops the loop: no further run starts; resolves once a run in progress has ended. */
  stop(): Promise<void>;
}

/**
 * Runs `task` every `intervalMs` (the first run after one interval) until `stop()`, or until a
 * run returns `"stop"`. A run that throws is reported to `onError` and the loop goes on.
 */
export function startLoop(
  clock: Clock,
  intervalMs: number,
  task: () => Promise<"continue" | "stop">,
  onError: (error: unknown) => void,
): BackgroundLoop {
  const controller = new AbortController();
  const { signal } = controller;
  const sleep = isUnrefClock(clock)
    ? (ms: number) => clock.sleepUnref(ms, signal)
    : (ms: number) => clock.sleep(ms, signal);
  const done = (async () => {
    while (!signal.aborted) {
      try {
        await sleep(intervalMs);
      } catch {
        return; // aborted: stopped
      }
      if (signal.aborted) return;
      try {
        if ((await task()) === "stop") return;
      } catch (error) {
        onError(error);
      }
    }
  })();
  return {
    async stop() {
      controller.abort();
      await done;
    },
  };
}
