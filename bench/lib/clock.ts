import { performance } from "node:perf_hooks";

/**
 * Wall-clock time in epoch milliseconds with sub-millisecond precision
 * (`performance.timeOrigin + performance.now()`). Monotonic within a process, so two readings in
 * the same process subtract cleanly; the unit is milliseconds.
 */
export function epochMs(): number {
  return performance.timeOrigin + performance.now();
}

/**
 * Resolves once `predicate()` is true, checking every `intervalMs` (default 10 ms). Rejects with
 * `describe()` in the message after `timeoutMs` (default 120,000 ms) so a stuck peer fails the run
 * instead of hanging it.
 */
export async function waitUntil(
  predicate: () => boolean,
  describe: () => string,
  options: { intervalMs?: number; timeoutMs?: number } = {},
): Promise<void> {
  const intervalMs = options.intervalMs ?? 10;
  const deadline = performance.now() + (options.timeoutMs ?? 120_000);
  while (!predicate()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting: ${describe()}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
