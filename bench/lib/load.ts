// Load shapes shared by the benchmarks: a fixed number of operations with N in flight, and a
// steady offered rate.
import { performance } from "node:perf_hooks";

/**
 * Runs `operation(i)` for i in 0..total-1 with at most `inFlight` running at once (a closed loop:
 * each lane starts its next operation when the previous one settles). Resolves to operations per
 * second over the whole run; rejects on the first failure.
 */
export async function runClosedLoop(
  total: number,
  inFlight: number,
  operation: (index: number) => Promise<unknown>,
): Promise<number> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < total) await operation(next++);
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: Math.min(inFlight, total) }, lane));
  return total / ((performance.now() - started) / 1000);
}

/**
 * Starts `operation(i)` at a steady `ratePerSecond` (an open loop: starts follow the schedule
 * `t0 + i / rate`, not the previous operation's completion) for `total` operations, then waits for
 * all of them. Timers are re-aimed at the schedule each time, so lateness does not accumulate.
 */
export async function runOpenLoop(
  total: number,
  ratePerSecond: number,
  operation: (index: number) => Promise<unknown>,
): Promise<void> {
  const intervalMs = 1000 / ratePerSecond;
  const started = performance.now();
  const pending: Promise<unknown>[] = [];
  for (let index = 0; index < total; index++) {
    const dueInMs = started + index * intervalMs - performance.now();
    if (dueInMs > 1) await new Promise((resolve) => setTimeout(resolve, dueInMs));
    pending.push(operation(index));
  }
  await Promise.all(pending);
}

/** Splits `items` into consecutive chunks of at most `size`. */
export function chunk<T>(items: readonly T[], size: number): T[][] {
  const chunks: T[][] = [];
  for (let start = 0; start < items.length; start += size)
    chunks.push(items.slice(start, start + size));
  return chunks;
}
