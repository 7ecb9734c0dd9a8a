import { spawn } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { describe, expect, it } from "vitest";
import { currentProcessProbe, parseProcStat, processStat } from "./process-probe.ts";

// Issue 10, item 10 (review): a pid is evidence of a process's death only within one known PID
// scope, and the process's identity must be the same from every thread of it.

/** `currentProcessProbe().self` as a worker thread of this process sees it. */
async function selfFromWorkerThread(): Promise<unknown> {
  const module = pathToFileURL(join(import.meta.dirname, "process-probe.ts")).href;
  const worker = new Worker(
    `const { parentPort } = require("node:worker_threads");
     import(${JSON.stringify(module)}).then((m) => parentPort.postMessage(m.currentProcessProbe().self));`,
    { eval: true },
  );
  const [self] = (await once(worker, "message")) as [unknown];
  await worker.terminate();
  return self;
}

describe("currentProcessProbe", () => {
  it("describes the process alike from every thread (two engines in one process agree it is theirs)", async () => {
    const self = currentProcessProbe().self;
    expect(self.pidScope).toBeDefined();
    expect(await selfFromWorkerThread()).toEqual(self);
  });

  it("takes the start time from /proc/self/stat", () => {
    expect(currentProcessProbe().self.startedAt).toBe(processStat("self")?.startTicks);
  });

  it("finds a process running only with the start time it registered, and gone once it exits", async () => {
    const probe = currentProcessProbe();
    const child = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60_000)"]);
    await once(child, "spawn");
    const pid = child.pid!;
    const startTicks = processStat(String(pid))!.startTicks;
    expect(probe.isRunning(pid, startTicks)).toBe(true);
    // Another process has the pid now (the one registered under it started at another time).
    expect(probe.isRunning(pid, startTicks - 1)).toBe(false);
    const exited = once(child, "exit");
    child.kill("SIGKILL");
    await exited;
    expect(probe.isRunning(pid, startTicks)).toBe(false);
  });

  it("reads the state and start time past a command name with spaces and parentheses", () => {
    const fields = Array.from({ length: 50 }, (_, i) => String(i + 3));
    fields[0] = "Z";
    fields[19] = "987654";
    expect(parseProcStat(`4242 (my (odd) name) ${fields.join(" ")}\n`)).toEqual({
      state: "Z",
      startTicks: 987654,
    });
    expect(parseProcStat("4242 (cut")).toBeUndefined();
  });
});
