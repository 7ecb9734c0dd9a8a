import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startFlakyUpstream, type FlakyUpstream } from "../src/testing/flaky-upstream.ts";
import { apiClient, startServerProcess, until } from "./process-harness.ts";

// Issue 10, item 12: a supervisor that stops `npm start` with SIGTERM (as systemd, Docker or a
// shell's kill do) must stop the server npm started, gracefully, not leave it running as an
// orphan. npm runs the script through `sh -c`, which does not pass signals on: the script `exec`s.

const root = join(import.meta.dirname, "..");
let dir: string | undefined;
let npm: ChildProcess | undefined;
let leftovers: number[] = [];
let upstream: FlakyUpstream | undefined;
const KEY = "npm-start-test-key-0123456789";

afterEach(async () => {
  if (npm !== undefined && npm.exitCode === null && npm.signalCode === null) {
    const exited = once(npm, "exit");
    npm.kill("SIGKILL");
    await exited;
  }
  npm = undefined;
  // An orphaned server (the defect) must not outlive the test.
  for (const pid of leftovers) if (isRunning(pid)) process.kill(pid, "SIGKILL");
  leftovers = [];
  await upstream?.close();
  upstream = undefined;
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The pids of `pid`'s descendants, from /proc (Linux). */
function descendantsOf(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, "utf8");
    } catch {
      continue;
    }
    // pid (comm) state ppid ...: comm may hold spaces and parentheses, so split after the last ")".
    const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
  }
  const found: number[] = [];
  const walk = (parent: number): void => {
    for (const child of children.get(parent) ?? []) {
      found.push(child);
      walk(child);
    }
  };
  walk(pid);
  return found;
}

/** Whether `pid` is Node running `steadfast.js serve` (not the shell that may have started it). */
function isServer(pid: number): boolean {
  let argv: string[];
  try {
    argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
  } catch {
    return false;
  }
  return /(^|\/)node$/.test(argv[0] ?? "") && argv.some((arg) => arg.endsWith("steadfast.js"));
}

/** Starts `npm start` as the leader of its own process group, and waits for the server's URL. */
async function npmStart(
  env: Record<string, string>,
): Promise<{ url: string; output: () => string }> {
  npm = spawn("npm", ["start", "--silent"], {
    cwd: root,
    env: { ...process.env, STEADFAST_PORT: "0", STEADFAST_LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let output = "";
  npm.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  npm.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  await until(() => Promise.resolve(/listening on http:\/\//.test(output)), 30_000, 20);
  leftovers = descendantsOf(npm.pid!);
  const url = /listening on (http:\/\/\S+)/.exec(output)![1]!.replace(/\/$/, "");
  return { url, output: () => output };
}

describe("npm start under a supervisor (process level)", () => {
  it("stops gracefully when the whole process group gets SIGTERM (systemd's control-group, a terminal's Ctrl-C), though npm passes it on too", async () => {
    dir = mkdtempSync(join(tmpdir(), "steadfast-npm-start-"));
    upstream = await startFlakyUpstream(() => "hang");
    const env = {
      STEADFAST_DATA_DIR: dir,
      STEADFAST_API_KEYS: `npm:${KEY}`,
      STEADFAST_ALLOW_PRIVATE_NETWORKS: "true",
    };
    const started = await npmStart(env);
    const exited = once(npm!, "exit");
    const client = apiClient(started.url, KEY);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await client.call("POST", "/v1/fetch", { url: `${upstream.url}/slow/${i}` });
      expect(res.status).toBe(202);
      ids.push(String(res.body?.id));
    }
    await client.close();
    await upstream.waitForRequests(3);

    // The server gets SIGTERM twice at once: from the kernel (the group) and from npm.
    process.kill(-npm!.pid!, "SIGTERM");
    const [code] = (await exited) as [number | null];
    for (const pid of leftovers) await until(() => Promise.resolve(!isRunning(pid)), 30_000, 20);
    expect(started.output()).toContain("SIGTERM, shutting down");
    expect(started.output()).not.toContain("exiting without waiting");
    expect(started.output()).toContain('"msg":"steadfast stopped"');
    expect(code).toBe(0);

    // The calls in flight were given back by the graceful stop, not taken over after a crash.
    const next = await startServerProcess(env);
    try {
      const reader = apiClient(next.url, KEY);
      for (const id of ids) {
        const { body } = await reader.call("GET", `/v1/calls/${id}/attempts`);
        expect((body?.attempts as { outcome: unknown; sent: unknown }[])[0], id).toMatchObject({
          outcome: { type: "interrupted", code: "process_stopped" },
          sent: true,
        });
      }
      await reader.close();
    } finally {
      await next.kill9();
    }
  }, 90_000);

  it("stops the server gracefully when npm gets SIGTERM, leaving no orphan", async () => {
    dir = mkdtempSync(join(tmpdir(), "steadfast-npm-start-"));
    npm = spawn("npm", ["start", "--silent"], {
      cwd: root,
      env: {
        ...process.env,
        STEADFAST_PORT: "0",
        STEADFAST_DATA_DIR: dir,
        STEADFAST_API_KEYS: "npm:npm-start-test-key-0123456789",
        STEADFAST_LOG_LEVEL: "info",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const npmPid = npm.pid!;
    let output = "";
    npm.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
    npm.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const npmExited = once(npm, "exit");
    await until(() => Promise.resolve(/listening on http:\/\//.test(output)), 30_000, 20);

    const servers = descendantsOf(npmPid).filter(isServer);
    leftovers = descendantsOf(npmPid);
    expect(servers).toHaveLength(1);
    const server = servers[0]!;

    process.kill(npmPid, "SIGTERM");
    await npmExited;
    await until(() => Promise.resolve(!isRunning(server)), 15_000, 20);
    // It stopped through its graceful path, not by being cut off.
    expect(output).toContain("SIGTERM, shutting down");
    expect(output).toContain('"msg":"steadfast stopped"');
    expect(npm.exitCode).toBe(0);
  }, 60_000);
});
