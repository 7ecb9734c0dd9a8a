/**
 * Destination isolation (issue 3): how much a failing destination slows calls to a healthy one.
 * A `steadfast serve` child per measurement; the healthy calls (1,000, 32 clients) are timed
 * alone on a fresh server, then right after 1,000 calls to a destination that answers 503 (or
 * hangs) on another fresh server, and the ratio printed. Each server accepts as many calls before
 * its measurement (a warm-up, and healthy calls or the bad destination's), so neither pays for
 * the JIT alone.
 * Also printed: the requests that reached the bad destination while its breaker was open, and
 * how long its held calls took to drain once it recovered.
 *
 *   npm run bench:isolation -- [--calls N] [--rounds N] [--mode 503|hang|both]
 *
 * The target is a ratio under 1.2. Benchmarks are not tests: this prints figures and
 * never fails on time. The behaviour (breaker opens, one probe, healthy calls not held, held calls
 * drain) is asserted by test/destination-isolation.test.ts.
 */
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { startFlakyUpstream, type FlakyUpstream } from "../src/testing/flaky-upstream.ts";
import {
  badCallBody,
  callCounts,
  destinationOf,
  startIsolationServer,
  submitCalls,
  type IsolationServer,
} from "../test/isolation-support.ts";
import { until } from "../test/process-harness.ts";
import { median } from "./lib/stats.ts";
import { formatGrid } from "./lib/text-table.ts";

const { values } = parseArgs({
  options: {
    calls: { type: "string", default: "1000" },
    rounds: { type: "string", default: "3" },
    mode: { type: "string", default: "both" },
  },
});
const CALLS = Number(values.calls);
const ROUNDS = Number(values.rounds);
const MODES = (values.mode === "both" ? ["503", "hang"] : [values.mode]) as ("503" | "hang")[];

/** Submits `CALLS` healthy calls and resolves with the ms until all have succeeded. */
async function timeHealthy(server: IsolationServer, healthy: FlakyUpstream): Promise<number> {
  const before = (await callCounts(server.url)).succeeded;
  const started = performance.now();
  await submitCalls(server.url, CALLS, (i) => ({ url: `${healthy.url}/h/${i}` }));
  await until(async () => (await callCounts(server.url)).succeeded >= before + CALLS, 120_000, 25);
  return performance.now() - started;
}

interface Measured {
  aloneMs: number;
  besideMs: number;
  /** Requests that reached the bad destination in a window while its breaker was open. */
  reachedWhileOpen: number;
  windowMs: number;
  /** From the bad destination's recovery to the last held call succeeded, ms. */
  drainMs: number;
}

async function measure(mode: "503" | "hang"): Promise<Measured> {
  const healthy = await startFlakyUpstream(() => ({ status: 200, delayMs: 5 }));
  let recovered = false;
  const arrivals: number[] = [];
  const bad = await startFlakyUpstream(() => {
    arrivals.push(performance.now());
    if (recovered) return { status: 200 };
    return mode === "503" ? { status: 503 } : "hang";
  });
  try {
    const alone = await startIsolationServer();
    let aloneMs: number;
    try {
      // Warm-up, then as many calls again as the bad destination's on the other server.
      await timeHealthy(alone, healthy);
      await timeHealthy(alone, healthy);
      aloneMs = await timeHealthy(alone, healthy);
    } finally {
      await alone.stop();
    }

    const shared = await startIsolationServer();
    try {
      await timeHealthy(shared, healthy);
      await submitCalls(shared.url, CALLS, (i) => badCallBody(bad.url, mode, i));
      const besideMs = await timeHealthy(shared, healthy);

      await until(async () => {
        const seen = await destinationOf(shared.url, bad.url);
        return seen?.breaker.state === "open" && seen.inFlight === 0;
      }, 60_000);
      const from = performance.now();
      await new Promise((resolve) => setTimeout(resolve, 6_000));
      const to = performance.now();
      const reachedWhileOpen = arrivals.filter((t) => t >= from && t < to).length;

      recovered = true;
      const drainStart = performance.now();
      await until(
        async () => (await callCounts(shared.url)).succeeded >= 3 * CALLS, // warm-up, healthy, bad
        180_000,
        100,
      );
      return {
        aloneMs,
        besideMs,
        reachedWhileOpen,
        windowMs: to - from,
        drainMs: performance.now() - drainStart,
      };
    } finally {
      await shared.stop();
    }
  } finally {
    await healthy.close();
    await bad.close();
  }
}

const formatLoad = (): string =>
  loadavg()
    .map((load) => load.toFixed(2))
    .join(" ");

console.log(
  `Node ${process.version}, ${new Date().toISOString()}; ${CALLS} calls per destination, ${ROUNDS} rounds; load average before: ${formatLoad()}`,
);
const results = new Map<"503" | "hang", Measured[]>(MODES.map((mode) => [mode, []]));
for (let round = 1; round <= ROUNDS; round++) {
  for (const mode of MODES) {
    const m = await measure(mode);
    results.get(mode)!.push(m);
    console.log(
      `round ${round}, bad destination ${mode === "503" ? "answers 503" : "hangs"}: healthy alone ${Math.round(m.aloneMs)} ms, beside it ${Math.round(m.besideMs)} ms, ratio ${(m.besideMs / m.aloneMs).toFixed(2)}; ${m.reachedWhileOpen} requests reached it in ${Math.round(m.windowMs)} ms while its breaker was open; held calls drained ${Math.round(m.drainMs)} ms after it recovered`,
    );
  }
}
console.log(`load average after: ${formatLoad()}\n`);
const range = (samples: number[], digits: number): string =>
  `${median(samples).toFixed(digits)} (${Math.min(...samples).toFixed(digits)}-${Math.max(...samples).toFixed(digits)})`;
console.log(
  formatGrid(
    [
      "bad destination",
      "healthy beside / alone",
      "reached while open (6 s)",
      "drain after recovery, ms",
    ],
    [...results].map(([mode, ms]) => [
      mode === "503" ? "answers 503" : "hangs",
      range(
        ms.map((m) => m.besideMs / m.aloneMs),
        2,
      ),
      range(
        ms.map((m) => m.reachedWhileOpen),
        0,
      ),
      range(
        ms.map((m) => m.drainMs),
        0,
      ),
    ]),
    (column) => column > 0,
  ),
);
console.log("medians over the rounds, min-max in brackets");
