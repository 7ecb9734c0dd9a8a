// Spawning and watching `test/workflow-process.ts` children, and the upstream their steps POST
// to, for the process-level workflow tests (issue 11, "Tests").
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import { tenantId } from "../src/core/ids.ts";
import type { RunDetail } from "../src/core/run-log.ts";
import { isFinalRunStatus } from "../src/core/workflow/run-state.ts";
import { storedValueCodec } from "../src/engine/workflows/stored-value-codec.ts";
import type { Steadfast } from "../src/steadfast.ts";
import {
  startFlakyUpstream,
  type FlakyUpstream,
  type ReceivedRequest,
  type UpstreamBehaviour,
} from "../src/testing/flaky-upstream.ts";
import { waitUntil } from "../src/testing/wait-until.ts";

const root = join(import.meta.dirname, "..");
/** Node 24, which runs the TypeScript sources directly. */
const NODE = join(root, "node_modules/.bin/node");
const SCRIPT = join(root, "test/workflow-process.ts");

/** A run to start in a child: `--start`'s JSON. */
export interface StartSpec {
  workflow: "counter" | "triple" | "sleeper" | "waiter" | "saga" | "fetcher" | "parent";
  id: string;
  input: unknown;
}

/** Options of `startWorkflowProcess`. */
export interface WorkflowProcessOptions {
  /** Sent by its steps as `x-workflow-process`. */
  label: string;
  /** Crash windows (`parseFaults`), such as `after-step-commit@3`. */
  faults?: string;
  /** Runs it starts once it is up. */
  start?: readonly StartSpec[];
  /** Runs at once in this process. Default 64. */
  concurrency?: number;
  /** Claim lease, ms. Default 2,000. */
  leaseMs?: number;
}

/** A running `test/workflow-process.ts`. */
export interface WorkflowProcess {
  readonly label: string;
  readonly child: ChildProcess;
  /** Everything it printed so far, both streams. */
  output(): string;
  /** Resolves when it has exited (by itself, or killed), with its signal if one ended it. */
  readonly exited: Promise<NodeJS.Signals | null>;
  /** SIGKILL from outside, then wait for the exit. */
  kill9(): Promise<void>;
  /** Asks it to close gracefully (`exit` on its standard input) and waits for the exit. */
  exit(): Promise<void>;
}

/** Starts `test/workflow-process.ts` on `db` and resolves once it prints `ready`. */
export async function startWorkflowProcess(
  db: string,
  options: WorkflowProcessOptions,
): Promise<WorkflowProcess> {
  const args = [
    SCRIPT,
    "--db",
    db,
    "--label",
    options.label,
    ...(options.faults === undefined ? [] : ["--faults", options.faults]),
    ...(options.concurrency === undefined ? [] : ["--concurrency", String(options.concurrency)]),
    ...(options.leaseMs === undefined ? [] : ["--lease-ms", String(options.leaseMs)]),
    ...(options.start ?? []).flatMap((spec) => ["--start", JSON.stringify(spec)]),
  ];
  const child = spawn(NODE, args, { cwd: root, stdio: ["pipe", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  // `close`, not `exit`: what it printed before it died is read before this resolves.
  const exited = once(child, "close").then(() => child.signalCode);
  const ready = waitUntil(() => /^ready /m.test(output), {
    timeoutMs: 30_000,
    intervalMs: 20,
    what: () => `workflow process ${options.label} to be ready; it printed:\n${output}`,
  });
  await Promise.race([
    ready,
    exited.then(() => {
      if (!/^ready /m.test(output)) {
        throw new Error(`workflow process ${options.label} exited before it was ready:\n${output}`);
      }
    }),
  ]);
  return {
    label: options.label,
    child,
    output: () => output,
    exited,
    async kill9() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
    },
    async exit() {
      if (child.exitCode === null && child.signalCode === null) child.stdin.end("exit\n");
      await exited;
    },
  };
}

/**
 * Sends one event from a short-lived process of its own (`--send-event`, no engine) and waits
 * for it to exit: what it printed.
 */
export async function sendEventFromProcess(
  db: string,
  event: { name: string; data?: unknown; id?: string },
): Promise<string> {
  const child = spawn(NODE, [SCRIPT, "--db", db, "--send-event", JSON.stringify(event)], {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const [code] = (await once(child, "close")) as [number | null];
  if (code !== 0) throw new Error(`the event process exited with ${code}:\n${output}`);
  return output;
}

/**
 * The upstream of the test workflows: answers each POST `{ total: <body's total> + 1 }` (after
 * `behaviour(request)` allows, for a test that holds one request back), and counts requests by
 * path.
 */
export async function startCountingUpstream(
  behaviour: (request: ReceivedRequest) => Partial<Extract<UpstreamBehaviour, object>> = () => ({}),
): Promise<FlakyUpstream & { count(path: string): number }> {
  const upstream = await startFlakyUpstream((request) => {
    const body = request.body === "" ? {} : (JSON.parse(request.body) as { total?: unknown });
    const total = typeof body.total === "number" ? body.total + 1 : null;
    return {
      status: 200,
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ total }),
      ...behaviour(request),
    };
  });
  return Object.assign(upstream, {
    count: (path: string) => upstream.requests.filter((r) => r.path === path).length,
  });
}

/** Waits until run `id` has ended and returns it, its output decoded. */
export async function runEnded(
  sf: Steadfast,
  id: string,
  timeoutMs = 30_000,
): Promise<RunDetail & { output: unknown }> {
  let detail: RunDetail | undefined;
  await waitUntil(
    async () => {
      detail = await sf.store.getRun(tenantId("default"), id);
      return detail !== undefined && isFinalRunStatus(detail.run.status);
    },
    { timeoutMs, intervalMs: 50, what: () => `run ${id} to end (now ${detail?.run.status})` },
  );
  const ended = detail!;
  return {
    ...ended,
    output: ended.run.output === undefined ? undefined : storedValueCodec.decode(ended.run.output),
  };
}
