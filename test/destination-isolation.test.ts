/**
 * Destination isolation (issue 3), at process level: a `steadfast serve` child, calls to a
 * destination that answers 503 (or hangs) and calls to a healthy one.
 *
 * - The healthy calls are not held: every one succeeds at its first attempt while the bad
 *   destination is still failing, and the healthy destination's breaker never opens.
 * - The bad destination's breaker opens, and while it is open only its probes reach it, one per
 *   half-open period: once nothing sent before it opened is still in flight, the requests that
 *   reach it are counted against the probes the breaker's own count of opens allows.
 * - When it recovers, its breaker closes and every held call succeeds.
 *
 * Each step waits for a state (read from `/metrics` and `GET /v1/destinations/...`), never for a
 * duration, and nothing is timed: how much the bad destination slows the healthy calls is a
 * figure, printed by `npm run bench:isolation` (bench/destination-isolation.ts, BENCHMARKS.md).
 * The child runs the production protection on a shorter time scale (`FAST_BREAKER`, passed
 * through test/steadfast-with-faults.ts): open periods of 200 ms rather than 5 s, so that no step
 * waits on a real open period and the file takes seconds, not minutes.
 */
import { describe, expect, it, type OnTestFinishedHandler } from "vitest";
import { startFlakyUpstream, type FlakyUpstream } from "../src/testing/flaky-upstream.ts";
import {
  badCallBody,
  callCounts,
  destinationOf,
  startIsolationServer,
  submitCalls,
  type DestinationSample,
  type IsolationServer,
} from "./isolation-support.ts";
import { until } from "./process-harness.ts";

/** Calls to each destination: enough for the breaker's minimum throughput (20) many times over. */
const CALLS = 200;
/**
 * The production protection on a shorter time scale, so that no step waits on a real open period
 * (5 s, 10 s... by default): open periods of 200 ms, 400 ms... at most 2.4 s, probes lost after
 * 2.4 s; the retry budget's window (10 s, 1 retry a second at least) becomes 1 s (its shortest)
 * with 10 a second: the same retries per window.
 */
const FAST_BREAKER = {
  openDurationMs: 200,
  maxOpenDurationMs: 2_400,
  maxProbeMs: 2_400,
  retryBudgetWindowMs: 1_000,
  retryBudgetMinPerSecond: 10,
};
/** How long a step may take before the test gives up: a guard against a hang, not a measure. */
const STEP_LIMIT_MS = 30_000;

async function scenario(
  mode: "503" | "hang",
  onFinished: (fn: OnTestFinishedHandler) => void,
): Promise<void> {
  // The two scenarios run at once (each mostly waits on its child process), so each
  // cleans up its own parts when it ends, last started first.
  const cleanups: (() => Promise<void>)[] = [];
  onFinished(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });
  const healthy = await startFlakyUpstream(() => ({ status: 200 }));
  cleanups.push(() => healthy.close());
  let recovered = false;
  let reachedBad = 0;
  const bad: FlakyUpstream = await startFlakyUpstream(() => {
    reachedBad++;
    if (recovered) return { status: 200 };
    return mode === "503" ? { status: 503 } : "hang";
  });
  cleanups.push(() => bad.close());
  const server: IsolationServer = await startIsolationServer(FAST_BREAKER);
  cleanups.push(() => server.stop());
  const badState = (): Promise<DestinationSample | undefined> => destinationOf(server.url, bad.url);

  // Both kinds of call at once: the healthy ones succeed, each at its first attempt, while the
  // bad destination still fails (it recovers only when this test says so).
  await submitCalls(server.url, CALLS, (i) => badCallBody(bad.url, mode, i));
  await submitCalls(server.url, CALLS, (i) => ({ url: `${healthy.url}/h/${i}` }));
  await until(async () => (await callCounts(server.url)).succeeded >= CALLS, STEP_LIMIT_MS);
  const counts = await callCounts(server.url);
  expect(counts.succeeded).toBe(CALLS);
  expect(counts.firstTimeSuccesses).toBe(CALLS);
  expect((await destinationOf(server.url, healthy.url))?.breaker).toEqual({
    state: "closed",
    consecutiveOpens: 0,
  });

  // The breaker opens. Once it is open with nothing in flight, no request sent before it opened
  // can still arrive: from then on only probes reach the destination.
  let start: DestinationSample | undefined;
  await until(async () => {
    start = await badState();
    return start?.breaker.state === "open" && start.inFlight === 0;
  }, STEP_LIMIT_MS);
  const reachedBefore = reachedBad;
  // Wait for a probe to have failed: the breaker opened again.
  let end: DestinationSample | undefined;
  await until(async () => {
    const seen = await badState();
    return seen !== undefined && seen.breaker.consecutiveOpens > start!.breaker.consecutiveOpens;
  }, STEP_LIMIT_MS);
  // Count first, then read the state: a probe counted here has either failed (in the opens) or
  // is still deciding (half-open).
  const reached = reachedBad - reachedBefore;
  end = await badState();
  const probesAllowed =
    end!.breaker.consecutiveOpens -
    start!.breaker.consecutiveOpens +
    (end!.breaker.state === "half-open" ? 1 : 0);
  expect(reached).toBeGreaterThanOrEqual(1);
  expect(reached).toBeLessThanOrEqual(probesAllowed);

  // It recovers: the next probe succeeds, the breaker closes, every held call succeeds.
  recovered = true;
  await until(async () => (await callCounts(server.url)).succeeded >= 2 * CALLS, STEP_LIMIT_MS);
  end = await badState();
  expect(end?.breaker.state).toBe("closed");
  expect((await callCounts(server.url)).succeeded).toBe(2 * CALLS);
}

describe.concurrent("destination isolation (process level)", () => {
  it("does not hold healthy calls beside a destination answering 503; probes it once per opening; drains it", async ({
    onTestFinished,
  }) => {
    await scenario("503", onTestFinished);
  }, 90_000);

  it("does not hold healthy calls beside a destination that hangs; probes it once per opening; drains it", async ({
    onTestFinished,
  }) => {
    await scenario("hang", onTestFinished);
  }, 90_000);
});
