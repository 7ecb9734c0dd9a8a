// What the destination isolation test (test/destination-isolation.test.ts) and its benchmark
// (bench/destination-isolation.ts) share: a `steadfast serve` child set up for them, parallel
// submission, and reading completions and a destination's state over the API.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { apiClient, startServerProcess, type ServerProcess } from "./process-harness.ts";

/** The API key of the isolation server's operator tenant. */
export const ISOLATION_KEY = "isolation-test-key-0123456789";
/** Parallel clients submitting calls. */
const SUBMITTERS = 32;

/** A `steadfast serve` child on a fresh database; `stop()` kills it and removes its data. */
export interface IsolationServer {
  process: ServerProcess;
  url: string;
  stop(): Promise<void>;
}

/**
 * Starts a `steadfast serve` child for the isolation scenario (concurrency 128, loopback allowed).
 * `destinations` changes its per-destination protection (`DestinationSettings`' numeric fields;
 * the test shortens the breaker's open periods); without it, the production defaults.
 */
export async function startIsolationServer(
  destinations?: Record<string, number>,
): Promise<IsolationServer> {
  const dir = mkdtempSync(join(tmpdir(), "steadfast-isolation-"));
  let started: ServerProcess;
  try {
    started = await startServerProcess(
      {
        STEADFAST_DATA_DIR: dir,
        STEADFAST_API_KEYS: `isolation:${ISOLATION_KEY}`,
        STEADFAST_OPERATOR_TENANTS: "isolation",
        STEADFAST_ALLOW_PRIVATE_NETWORKS: "true",
        STEADFAST_CONCURRENCY: "128",
      },
      destinations === undefined ? {} : { destinations },
    );
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    process: started,
    url: started.url,
    async stop() {
      await started.kill9();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Accepts `count` calls made by `body(i)` through 32 parallel clients; throws unless each is 202. */
export async function submitCalls(
  url: string,
  count: number,
  body: (i: number) => unknown,
): Promise<void> {
  const client = apiClient(url, ISOLATION_KEY);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      const res = await client.call("POST", "/v1/fetch", body(i));
      if (res.status !== 202) throw new Error(`call ${i} answered ${res.status}`);
    }
  };
  try {
    await Promise.all(Array.from({ length: SUBMITTERS }, worker));
  } finally {
    await client.close();
  }
}

/** A sample of `/metrics` as the isolation scenario reads it. */
export interface CallCounts {
  /** `steadfast_calls_ended_total{status="succeeded"}`. */
  succeeded: number;
  /** `steadfast_attempts_total{outcome="2xx",decision="succeed"}`. */
  firstTimeSuccesses: number;
  /** Every attempt recorded, whatever its outcome. */
  attempts: number;
}

/** Reads the counters of `/metrics` (polled: no call is read one by one). */
export async function callCounts(url: string): Promise<CallCounts> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const read = (pattern: RegExp): number => {
    let total = 0;
    for (const match of text.matchAll(pattern)) total += Number(match[1]);
    return total;
  };
  return {
    succeeded: read(/^steadfast_calls_ended_total\{status="succeeded"\} (\d+)$/gm),
    firstTimeSuccesses: read(
      /^steadfast_attempts_total\{outcome="2xx",decision="succeed"\} (\d+)$/gm,
    ),
    attempts: read(/^steadfast_attempts_total\{[^}]*\} (\d+)$/gm),
  };
}

/** A destination's breaker and in-flight count, as `GET /v1/destinations/:destination` shows them. */
export interface DestinationSample {
  breaker: { state: "closed" | "open" | "half-open"; consecutiveOpens: number };
  /** Attempts to it in flight in the server. */
  inFlight: number;
}

/** `GET /v1/destinations/:destination`, or `undefined` while the server has no state for it. */
export async function destinationOf(
  url: string,
  destination: string,
): Promise<DestinationSample | undefined> {
  const client = apiClient(url, ISOLATION_KEY);
  try {
    const res = await client.call("GET", `/v1/destinations/${encodeURIComponent(destination)}`);
    if (res.status !== 200 || res.body === undefined) return undefined;
    const { breaker, health } = res.body as {
      breaker: DestinationSample["breaker"];
      health: { inFlight: number };
    };
    return { breaker, inFlight: health.inFlight };
  } finally {
    await client.close();
  }
}

/** The body of a call to the failing destination: held calls burn no attempts, so 20 is plenty. */
export function badCallBody(badUrl: string, mode: "503" | "hang", i: number): unknown {
  return {
    url: `${badUrl}/b/${i}`,
    retry: { maxAttempts: 20, initialDelayMs: 200, maxDelayMs: 2_000 },
    ...(mode === "hang" ? { timeout: { readMs: 1_000 } } : {}),
  };
}
