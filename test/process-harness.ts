import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import { Pool } from "undici";
import { waitUntil } from "../src/testing/wait-until.ts";

const root = join(import.meta.dirname, "..");

/** A `steadfast serve` child process. */
export interface ServerProcess {
  child: ChildProcess;
  url: string;
  /** Everything the process printed so far. */
  output(): string;
  /** What the process printed on standard output so far (the log stream). */
  stdout(): string;
  /** What the process printed on standard error so far (operator lines). */
  stderr(): string;
  /** SIGKILL, then wait for the exit. */
  kill9(): Promise<void>;
  /** SIGTERM, then wait for the exit code. */
  terminate(): Promise<number | null>;
}

/** Options of `startServerProcess` and `startWorkerProcess`. */
export interface ProcessOptions {
  /**
   * Crash windows to arm, such as `after-request-sent@20` (`parseFaults`): the process is then
   * started through `test/steadfast-with-faults.ts`, since `steadfast` itself never arms them.
   */
  faults?: string;
  /**
   * Per-destination protection (`DestinationSettings`' numeric fields), such as short breaker
   * open periods: the process is then started through `test/steadfast-with-faults.ts`, since
   * `steadfast` itself takes no such setting.
   */
  destinations?: Record<string, number>;
  /**
   * Lets `STEADFAST_FAULTS` through in `env` (only to test that `steadfast` ignores it); without
   * this, a test that still passes it is refused, as it would not crash anything.
   */
  allowFaultsVariable?: boolean;
  /**
   * Called with the child as soon as it is spawned, before it is ready: for a test that must be
   * able to kill it at any moment, even before it prints its URL.
   */
  onSpawn?: (child: ChildProcess) => void;
}

/** Starts `node bin/steadfast.js serve` on port 0 and resolves once it prints its URL. */
export function startServerProcess(
  env: Record<string, string>,
  options: ProcessOptions = {},
): Promise<ServerProcess> {
  return startSteadfastProcess("serve", env, /listening on (http:\/\/[^\s"]+)/, options);
}

/** Starts `node bin/steadfast.js worker` and resolves once it says it runs. */
export function startWorkerProcess(
  env: Record<string, string>,
  options: ProcessOptions = {},
): Promise<ServerProcess> {
  return startSteadfastProcess("worker", env, /worker (\S+) running/, options);
}

/** Starts `steadfast <command>` and resolves once its output matches `ready` (group 1 kept as `url`). */
async function startSteadfastProcess(
  command: string,
  env: Record<string, string>,
  ready: RegExp,
  options: ProcessOptions,
): Promise<ServerProcess> {
  if ("STEADFAST_FAULTS" in env && options.allowFaultsVariable !== true) {
    throw new Error(
      "steadfast ignores STEADFAST_FAULTS (issue 10, item 6): pass { faults } to start the process with crash windows armed",
    );
  }
  const overrides = [
    ...(options.faults === undefined ? [] : ["--faults", options.faults]),
    ...(options.destinations === undefined
      ? []
      : ["--destinations", JSON.stringify(options.destinations)]),
  ];
  const entry =
    overrides.length === 0
      ? [join(root, "bin/steadfast.js"), command]
      : [join(root, "test/steadfast-with-faults.ts"), ...overrides, command];
  const child = spawn(process.execPath, entry, {
    cwd: root,
    env: { ...process.env, STEADFAST_PORT: "0", STEADFAST_LOG_LEVEL: "warn", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  options.onSpawn?.(child);
  let output = "";
  const streams = { stdout: "", stderr: "" };
  const url = await new Promise<string>((resolve, reject) => {
    const onData = (stream: "stdout" | "stderr") => (chunk: Buffer) => {
      output += chunk.toString();
      streams[stream] += chunk.toString();
      const match = ready.exec(output);
      if (match?.[1] !== undefined) resolve(match[1].replace(/\/$/, ""));
    };
    child.stdout.on("data", onData("stdout"));
    child.stderr.on("data", onData("stderr"));
    child.once("exit", (code) =>
      reject(new Error(`steadfast ${command} exited with ${code} before it was ready:\n${output}`)),
    );
  });
  return {
    child,
    url,
    output: () => output,
    stdout: () => streams.stdout,
    stderr: () => streams.stderr,
    async kill9() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, "exit");
      child.kill("SIGKILL");
      await exited;
    },
    async terminate() {
      if (child.exitCode !== null) return child.exitCode;
      const exited = once(child, "exit");
      child.kill("SIGTERM");
      const [code] = (await exited) as [number | null];
      return code;
    },
  };
}

/** A keep-alive JSON client for one server. */
export function apiClient(url: string, apiKey: string) {
  const pool = new Pool(url, { connections: 64 });
  async function call(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ) {
    const response = await pool.request({
      method: method,
      path,
      headers: {
        authorization: `Bearer ${apiKey}`,
        "content-type": "application/json",
        ...headers,
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.body.text();
    return {
      status: response.statusCode,
      body: text === "" ? undefined : (JSON.parse(text) as Record<string, unknown>),
    };
  }
  return { call, close: () => pool.close() };
}

/** Polls `check` every `intervalMs` until it returns true or `timeoutMs` passes (`waitUntil`). */
export function until(
  check: () => Promise<boolean>,
  timeoutMs: number,
  intervalMs = 100,
): Promise<void> {
  return waitUntil(check, { timeoutMs, intervalMs });
}
