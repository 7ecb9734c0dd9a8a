/**
 * Overhead of a retry + circuit breaker + timeout pipeline around an already-resolved async
 * function (issue 3), side by side with cockatiel and opossum, and a bare call.
 *
 *   node bench/resilience.ts            # 5 child processes per contender, medians, table
 *   node bench/resilience.ts --child X  # one measurement of contender X, printed as JSON
 *
 * Each child warms up, then times 1,000,000 sequential awaited calls with
 * `process.hrtime.bigint()` (wall) and `process.cpuUsage()` (CPU, less sensitive to other load
 * on a shared machine). Rounds run the contenders interleaved, so load drifts hit all of them.
 * Benchmarks are not tests: this prints figures and never fails on time.
 */
import { execFileSync } from "node:child_process";
import { cpus } from "node:os";
import {
  circuitBreaker as cockatielBreaker,
  ConsecutiveBreaker,
  ExponentialBackoff,
  handleAll,
  retry as cockatielRetry,
  timeout as cockatielTimeout,
  TimeoutStrategy,
  wrap,
} from "cockatiel";
import OpossumBreaker from "opossum";
import { circuitBreaker, pipeline, retry, timeout } from "../src/resilience/index.ts";

const CALLS = 1_000_000;
const WARMUP_CALLS = 200_000;
const PROCESSES = 5;

const contenders = {
  bare: "await fn()",
  steadfast: "pipeline(retry(), circuitBreaker(), timeout(1000)).execute(fn), all defaults",
  "steadfast (reads signal)": "the same, with a function that reads context.signal",
  cockatiel:
    "wrap(retry(handleAll, { maxAttempts: 3, backoff: new ExponentialBackoff() }), " +
    "circuitBreaker(handleAll, { halfOpenAfter: 10_000, breaker: new ConsecutiveBreaker(5) }), " +
    "timeout(1000, TimeoutStrategy.Cooperative)).execute(fn)",
  opossum: "new CircuitBreaker(fn, { timeout: 1000 }).fire() in a 3-attempt retry loop",
} as const;
type Contender = keyof typeof contenders;

// The issue measures an already-resolved async function: `async` with nothing to await is the point.
// eslint-disable-next-line @typescript-eslint/require-await
const resolved = async (): Promise<number> => 42;

function makeCall(name: Contender): () => Promise<unknown> {
  switch (name) {
    case "bare":
      return resolved;
    case "steadfast": {
      const policy = pipeline(retry(), circuitBreaker(), timeout(1_000));
      return () => policy.execute(resolved);
    }
    case "steadfast (reads signal)": {
      const policy = pipeline(retry(), circuitBreaker(), timeout(1_000));
      const readsSignal = ({ signal }: { signal: AbortSignal }): Promise<number> =>
        signal.aborted ? Promise.reject(new Error("aborted")) : resolved();
      return () => policy.execute(readsSignal);
    }
    case "cockatiel": {
      // As a competent user would configure it (issue 3).
      const policy = wrap(
        cockatielRetry(handleAll, { maxAttempts: 3, backoff: new ExponentialBackoff() }),
        cockatielBreaker(handleAll, { halfOpenAfter: 10_000, breaker: new ConsecutiveBreaker(5) }),
        cockatielTimeout(1_000, TimeoutStrategy.Cooperative),
      );
      return () => policy.execute(resolved);
    }
    case "opossum": {
      const breaker = new OpossumBreaker(resolved, { timeout: 1_000 });
      // opossum has no retry: the loop a user would write around it.
      return async () => {
        for (let attempt = 1; ; attempt++) {
          try {
            return await breaker.fire();
          } catch (error) {
            if (attempt >= 3) throw error;
          }
        }
      };
    }
  }
}

interface Sample {
  wallNsPerCall: number;
  cpuNsPerCall: number;
}

async function child(name: Contender): Promise<void> {
  const call = makeCall(name);
  for (let i = 0; i < WARMUP_CALLS; i++) await call();
  const cpuStart = process.cpuUsage();
  const start = process.hrtime.bigint();
  for (let i = 0; i < CALLS; i++) await call();
  const wallNs = Number(process.hrtime.bigint() - start);
  const cpu = process.cpuUsage(cpuStart);
  const sample: Sample = {
    wallNsPerCall: wallNs / CALLS,
    cpuNsPerCall: ((cpu.user + cpu.system) * 1_000) / CALLS,
  };
  process.stdout.write(JSON.stringify(sample));
  // opossum and the steadfast watchdog leave timers behind; the figures are out.
  process.exit(0);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function parent(): void {
  const names = Object.keys(contenders) as Contender[];
  const samples = new Map<Contender, Sample[]>(names.map((name) => [name, []]));
  for (let round = 1; round <= PROCESSES; round++) {
    for (const name of names) {
      const output = execFileSync(process.execPath, [import.meta.filename, "--child", name], {
        encoding: "utf8",
      });
      samples.get(name)!.push(JSON.parse(output) as Sample);
      process.stderr.write(`round ${round}/${PROCESSES}: ${name} done\n`);
    }
  }
  const med = (name: Contender, key: keyof Sample): number =>
    median(samples.get(name)!.map((sample) => sample[key]));
  const cpu = cpus()[0]?.model ?? "unknown CPU";
  console.log(
    `\n${CALLS.toLocaleString("en")} calls per process, median of ${PROCESSES} processes per contender`,
  );
  console.log(`node ${process.version}, ${cpu}, ${cpus().length} CPUs\n`);
  for (const key of ["wallNsPerCall", "cpuNsPerCall"] as const) {
    const bare = med("bare", key);
    const oursNs = med("steadfast", key);
    const ours = oursNs - bare;
    console.log(key === "wallNsPerCall" ? "Wall time (hrtime):" : "CPU time (cpuUsage):");
    const header = [
      "contender".padEnd(26),
      "ns/call".padStart(9),
      "min-max".padStart(14),
      "overhead ns".padStart(13),
      "ns/call vs steadfast".padStart(22),
      "overhead vs steadfast".padStart(23),
    ];
    console.log(header.join(""));
    for (const name of names) {
      const values = samples.get(name)!.map((sample) => sample[key]);
      const ns = med(name, key);
      const overhead = ns - bare;
      const range = `${Math.min(...values).toFixed(0)}-${Math.max(...values).toFixed(0)}`;
      const row = [
        name.padEnd(26),
        ns.toFixed(0).padStart(9),
        range.padStart(14),
        overhead.toFixed(0).padStart(13),
        `${(ns / oursNs).toFixed(2)}x`.padStart(22),
        (name === "bare" ? "-" : `${(overhead / ours).toFixed(2)}x`).padStart(23),
      ];
      console.log(row.join(""));
    }
    console.log("");
  }
  for (const [name, description] of Object.entries(contenders)) {
    console.log(`${name}: ${description}`);
  }
}

const childIndex = process.argv.indexOf("--child");
if (childIndex >= 0) {
  const name = process.argv[childIndex + 1] as Contender;
  if (!(name in contenders))
    throw new Error(`unknown contender ${name}; one of ${Object.keys(contenders).join(", ")}`);
  await child(name);
} else {
  parent();
}
