import { readFileSync, readlinkSync } from "node:fs";
import { hostname } from "node:os";
import type { WorkerRegistration } from "../core/store.ts";

/** What a worker knows of its own process, and how it asks whether another process still runs. */
export interface ProcessProbe {
  /** This process, as its worker registers it (`Store.registerWorker`, without the id). */
  readonly self: Omit<WorkerRegistration, "id">;
  /**
   * False only when no process with this pid exists where `self.pidScope` says (ESRCH). True
   * otherwise: alive, or alive and not ours to signal (EPERM), or a later process with its pid.
   */
  isAlive(pid: number): boolean;
}

/**
 * The probe of the running process: `os.hostname()`, its pid, when it started
 * (`performance.timeOrigin`), and on Linux the kernel boot id and PID namespace, so that a pid
 * is only ever compared with pids of the same namespace on the same boot of the same machine
 * (two containers, or two machines, can share a host name). `isAlive` is `kill(pid, 0)`.
 */
export function currentProcessProbe(): ProcessProbe {
  const scope = pidScope();
  return {
    self: {
      host: hostname(),
      pid: process.pid,
      startedAt: Math.round(performance.timeOrigin),
      ...(scope === undefined ? {} : { pidScope: scope }),
    },
    isAlive(pid) {
      try {
        process.kill(pid, 0);
        return true;
      } catch (error) {
        return (error as NodeJS.ErrnoException).code !== "ESRCH";
      }
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
