/** Options of `waitUntil`. */
export interface WaitUntilOptions {
  /** How long to wait before failing, ms. Default 5,000. */
  timeoutMs?: number;
  /** How long between two checks, ms. Default 10. */
  intervalMs?: number;
  /** What is awaited, for the failure's message (`the call to be running`). */
  what?: string | (() => string);
}

/**
 * Resolves once `condition` holds, checking it every `intervalMs`; rejects after `timeoutMs`,
 * naming `what`. For waiting on real I/O (a child process's output, a server's state, a commit's
 * fsync), never to see a retry or a timer fire: that is what `FakeClock` is for.
 *
 * @example
 * await waitUntil(async () => (await getCall(id)).status === "succeeded", { timeoutMs: 10_000 });
 */
export async function waitUntil(
  condition: () => boolean | Promise<boolean>,
  options: WaitUntilOptions = {},
): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 5_000;
  const intervalMs = options.intervalMs ?? 10;
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) {
      const what = typeof options.what === "function" ? options.what() : options.what;
      throw new Error(
        `${what === undefined ? "condition" : what} not reached within ${timeoutMs} ms`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
