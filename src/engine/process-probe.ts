import { readFileSync, readlinkSync } from "node:fs";
import { hostname } from "node:os";
import type { WorkerRegistration } from "../core/worker-registry.ts";

/** What a worker knows of its own process, and how it asks whether another process still runs. */
export interface ProcessProbe {
  /** This process, as its worker registers it (`Store.registerWorker`, without the id). */
  readonly self: Omit<WorkerRegistration, "id">;
  /**
   * False only when the process registered as `pid`, started at `startedAt` (counted as
   * `self.startedAt` is), is certainly gone from `self.pidScope`: no process has that pid, or the
   * one that has it started at another time (the pid was given to a later process), or it is a
   * zombie. True otherwise: alive, or not ours to look at. Meaningful only when `self.pidScope`
   * is known.
   */
  isRunning(pid: number, startedAt: number): boolean;
}

/**
 * The probe of the running process: `os.hostname()` and its pid and, on Linux, its PID scope
 * (the kernel boot id and PID namespace, so that a pid is only ever compared with pids of the
 * same namespace on the same boot of the same machine: two containers, or two machines, can
 * share a host name) and its start time, field 22 of `/proc/self/stat` (clock ticks since boot:
 * one value for every thread of the process, so two engines on two worker threads agree on
 * it). `isRunning` reads `/proc/<pid>/stat`. Where `/proc` does not tell (not Linux), there is no
 * PID scope, `startedAt` is `performance.timeOrigin` (for diagnostics), and pids are not used as
 * evidence: a process is found dead by its heartbeat only.
 */
export function currentProcessProbe(): ProcessProbe {
  const scope = pidScope();
  const started = scope === undefined ? undefined : processStat("self");
  return {
    self: {
      host: hostname(),
      pid: process.pid,
      ...(scope === undefined || started === undefined
        ? { startedAt: Math.round(performance.timeOrigin) }
        : { pidScope: scope, startedAt: started.startTicks }),
    },
    isRunning(pid, startedAt) {
      try {
        process.kill(pid, 0);
      } catch (error) {
        // EPERM: it exists, and is not ours to signal.
        if ((error as NodeJS.ErrnoException).code === "ESRCH") return false;
      }
      const stat = processStat(String(pid));
      // Unreadable (hidden by `hidepid`, or gone since): no evidence that it is not running.
      if (stat === undefined) return true;
      return stat.startTicks === startedAt && stat.state !== "Z" && stat.state !== "X";
    },
  };
}

// `<boot id>/pid:[<namespace inode>]`, or undefined where /proc does not tell (not Linux).
function pidScope(): string | undefined {
  try {
    const boot = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
    return `${boot}/${readlinkSync("/proc/self/ns/pid")}`;
  } catch {
    return undefined;
  }
}

/**
 * The state and start time of process `pid` (or `self`) from `/proc/<pid>/stat` (see
 * `parseProcStat`), or undefined when it cannot be read.
 */
export function processStat(pid: string): { state: string; startTicks: number } | undefined {
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return undefined;
  }
}

/**
 * The state (field 3) and start time (field 22, clock ticks since boot) in the text of a
 * `/proc/<pid>/stat` file (proc(5)), or undefined when it does not hold them.
 */
export function parseProcStat(text: string): { state: string; startTicks: number } | undefined {
  // Field 2, the command name in parentheses, may hold spaces and parentheses itself.
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  const state = fields[0];
  const startTicks = Number(fields[19]);
  if (state === undefined || state === "" || !Number.isSafeInteger(startTicks)) return undefined;
  return { state, startTicks };
}
