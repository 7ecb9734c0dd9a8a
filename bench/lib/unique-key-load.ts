// Load with a unique Idempotency-Key per request (issue 13's benchmark): autocannon in a child
// process (./unique-key-load-child.ts), so the load generator does not share the server's core.
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const CHILD = fileURLToPath(new URL("./unique-key-load-child.ts", import.meta.url));

/** What the child is told: where to POST what, how hard, for how long, and the keys' prefix. */
export interface UniqueKeyLoadOptions {
  url: string;
  /** autocannon connections, each with one request in flight. */
  connections: number;
  durationS: number;
  /** The JSON body every request carries. */
  body: string;
  /** Every key is this prefix followed by a random UUID (so a run's keys can be found and deleted). */
  keyPrefix: string;
}

/** What the benchmark reads of autocannon's result (the same as its CLI's `--json`). */
export interface LoadReport {
  /** `average`: mean of the per-second counts; `total`: responses received. */
  requests: { average: number; total: number };
  /** Milliseconds (autocannon rounds them to whole ones). */
  latency: { p50: number; p99: number };
  non2xx: number;
  errors: number;
  timeouts: number;
}

/**
 * Runs the load child with `options` and returns its report; rejects when any request was
 * answered with anything but 2xx, failed, or timed out (a contender that does so stops the run).
 */
export async function loadWithUniqueKeys(options: UniqueKeyLoadOptions): Promise<LoadReport> {
  const { stdout } = await promisify(execFile)(process.execPath, [CHILD, JSON.stringify(options)], {
    maxBuffer: 16 * 1024 * 1024,
  });
  const report = JSON.parse(stdout) as LoadReport;
  const failed = report.non2xx + report.errors + report.timeouts;
  if (failed > 0) {
    throw new Error(
      `${options.url}: ${report.non2xx} non-2xx, ${report.errors} errors, ${report.timeouts} timeouts of ${report.requests.total} requests`,
    );
  }
  return report;
}
