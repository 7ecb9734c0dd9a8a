// Worker processes of a system under test, started N at a time: forked, booted and connected, then
// set going at one instant, so what is timed is the drain and not Node's start-up.
import { fork, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { epochMs } from "./clock.ts";
import type { GatedWorkerMessage } from "./gated-worker.ts";

/** What `steadfast worker` prints when it starts and stops: nothing to report here. */
const ROUTINE_LINE = /^worker \S+ running on |^steadfast: SIGTERM, shutting down/;

/** How to start one worker process. */
export interface WorkerProcessSpec {
  /** The module `fork()` runs (with this process's Node and flags). */
  modulePath: string;
  /** Its arguments, e.g. `["worker"]` for `bin/steadfast.js`. */
  args?: readonly string[];
  /** Added to this process's environment. */
  env: Readonly<Record<string, string>>;
  /**
   * `true`: the module uses `serveGatedWorker`, reports ready once connected and starts working on
   * `go`. `false`: it works as soon as it runs (a real CLI), so its boot is part of the timing.
   */
  gated: boolean;
}

/** Worker processes forked and ready to be set going. */
export interface WorkerProcesses {
  readonly pids: readonly number[];
  /** Sets every worker going; returns the start of the timing (epoch ms, this process's clock). */
  go(): number;
  /** Stops every worker gracefully (SIGKILL after `graceMs`) and waits for them to exit. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Forks `count` workers of `spec`. Gated ones resolve once all reported ready (they have booted
 * and connected); ungated ones at once, and `go()` then returns the time they were forked. Child
 * output goes to this process's stderr, each line prefixed with `label` and the worker's number.
 */
export async function forkWorkers(
  spec: WorkerProcessSpec,
  count: number,
  label: string,
): Promise<WorkerProcesses> {
  const forkedAt = epochMs();
  const children = Array.from({ length: count }, (_, index) => {
    const child = fork(spec.modulePath, [...(spec.args ?? [])], {
      env: { ...process.env, ...spec.env },
      stdio: ["ignore", "pipe", "pipe", "ipc"],
    });
    for (const stream of [child.stdout, child.stderr]) {
      if (!stream) continue;
      createInterface({ input: stream }).on("line", (line) => {
        if (!ROUTINE_LINE.test(line)) console.error(`[${label} #${index}] ${line}`);
      });
    }
    return child;
  });
  if (spec.gated) {
    try {
      await Promise.all(children.map((child) => untilReady(child, label)));
    } catch (error) {
      for (const child of children) child.kill("SIGKILL");
      throw error;
    }
  }
  return {
    pids: children.map((child) => child.pid!),
    go() {
      if (!spec.gated) return forkedAt;
      const startedAt = epochMs();
      for (const child of children) child.send({ type: "go" } satisfies GatedWorkerMessage);
      return startedAt;
    },
    async stop(graceMs = 20_000) {
      await Promise.all(children.map((child) => stopChild(child, spec.gated, graceMs)));
    },
  };
}

async function untilReady(child: ChildProcess, label: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`${label} worker not ready after 60 s`)), 60_000);
    const onMessage = (message: GatedWorkerMessage): void => {
      if (message.type !== "ready") return;
      done();
      resolve();
    };
    const onExit = (code: number | null): void =>
      fail(new Error(`${label} worker exited (code ${code}) before it was ready`));
    const fail = (error: Error): void => {
      done();
      reject(error);
    };
    const done = (): void => {
      clearTimeout(timer);
      child.off("message", onMessage);
      child.off("exit", onExit);
    };
    child.on("message", onMessage);
    child.on("exit", onExit);
  });
}

async function stopChild(child: ChildProcess, gated: boolean, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, "exit");
  if (gated && child.connected) child.send({ type: "stop" } satisfies GatedWorkerMessage);
  else child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
}
