// CPU time of groups of processes (workers, PostgreSQL, the upstream) over a measurement, read
// from Linux's /proc, so a benchmark can say which part of the machine its figure spent.
import { readdirSync, readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";

/** Linux reports process times in clock ticks of 1/USER_HZ s; USER_HZ is 100 on every arch Node runs on. */
const MS_PER_TICK = 10;

/** Lists the current pids of a group of processes (called at start and at the end). */
export type PidLister = () => readonly number[] | Promise<readonly number[]>;

/** CPU time per pid, the machine's counters and the wall clock at one instant. */
export interface CpuSnapshot {
  atMs: number;
  machine: MachineTicks;
  groups: Map<string, Map<number, number>>;
  listers: ReadonlyMap<string, PidLister>;
}

/** Cores busy on average over a window, per group and for the whole machine. */
export interface CpuUsage {
  /** Wall time of the window, ms. */
  wallMs: number;
  /** Per group, CPU ms / wall ms: 1.0 is one core busy the whole window. */
  cores: Record<string, number>;
  /** Every process on the machine (user + system + interrupts), in cores. */
  machineCores: number;
  /** Time the hypervisor gave to other guests while this one wanted to run, in cores. */
  stealCores: number;
}

interface MachineTicks {
  busy: number;
  steal: number;
}

/**
 * Reads every group's CPU time now. Pids that appear only at the end (a pool's new connection)
 * count from zero; pids gone by the end are lost, which is negligible over one drain.
 *
 * @example
 * const start = await cpuSnapshot(new Map([["upstream", () => [upstreamPid]]]));
 * // ... work ...
 * (await cpuSince(start)).cores.upstream; // e.g. 0.85 of a core
 */
export async function cpuSnapshot(listers: ReadonlyMap<string, PidLister>): Promise<CpuSnapshot> {
  const pids = await listAll(listers);
  const groups = new Map<string, Map<number, number>>();
  for (const [name, list] of pids) groups.set(name, readTicks(list));
  return { atMs: performance.now(), machine: readMachineTicks(), groups, listers };
}

/** Cores used by each group of `start` between `start` and now. */
export async function cpuSince(start: CpuSnapshot): Promise<CpuUsage> {
  const pids = await listAll(start.listers);
  const wallMs = performance.now() - start.atMs;
  const machine = readMachineTicks();
  const cores: Record<string, number> = {};
  for (const [name, list] of pids) {
    const before = start.groups.get(name)!;
    let ticks = 0;
    for (const [pid, now] of readTicks(list)) ticks += now - (before.get(pid) ?? 0);
    cores[name] = (ticks * MS_PER_TICK) / wallMs;
  }
  return {
    wallMs,
    cores,
    machineCores: ((machine.busy - start.machine.busy) * MS_PER_TICK) / wallMs,
    stealCores: ((machine.steal - start.machine.steal) * MS_PER_TICK) / wallMs,
  };
}

/** Pids of this process's children whose command line contains `text`. */
export function childPidsMatching(text: string): number[] {
  return allPids().filter((pid) => {
    if (readStat(pid)?.ppid !== process.pid) return false;
    try {
      return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(text);
    } catch {
      return false;
    }
  });
}

/** Lists every group first, then reads (so a slow lister does not skew the readings apart). */
async function listAll(
  listers: ReadonlyMap<string, PidLister>,
): Promise<Map<string, readonly number[]>> {
  const entries = await Promise.all(
    [...listers].map(async ([name, list]) => [name, await list()] as const),
  );
  return new Map(entries);
}

function allPids(): number[] {
  return readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .map(Number);
}

function readTicks(pids: readonly number[]): Map<number, number> {
  const ticks = new Map<number, number>();
  for (const pid of pids) {
    const stat = readStat(pid);
    if (stat) ticks.set(pid, stat.ticks);
  }
  return ticks;
}

/** `/proc/<pid>/stat`: the name sits in parentheses and may hold spaces, so fields count after it. */
function readStat(pid: number): { ppid: number; ticks: number } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  const close = text.lastIndexOf(")");
  const fields = text.slice(close + 2).split(" ");
  // After the name: state(0) ppid(1) ... utime(11) stime(12), per proc(5).
  return {
    ppid: Number(fields[1]),
    ticks: Number(fields[11]) + Number(fields[12]),
  };
}

function readMachineTicks(): MachineTicks {
  const line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0]!;
  // cpu user nice system idle iowait irq softirq steal guest guest_nice
  const [user, nice, system, , , irq, softirq, steal] = line
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  return {
    busy: (user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0),
    steal: steal ?? 0,
  };
}
