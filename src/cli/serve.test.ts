import { describe, expect, it } from "vitest";
import type { CliIo } from "./cli-io.ts";
import type { ServeConfig } from "./config.ts";
import { main } from "./main.ts";
import { REPEATED_SIGNAL_WINDOW_MS, type RunningServer } from "./serve.ts";

/** A `CliIo` that records output, exits and signal handlers instead of touching the process. */
function recordingIo(env: Record<string, string> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const exits: number[] = [];
  const handlers = new Map<string, () => void>();
  const time = { nowMs: 0 };
  const io: CliIo = {
    env,
    cwd: "/srv",
    out: (text) => void out.push(text),
    err: (text) => void err.push(text),
    readFile: () => {
      throw Object.assign(new Error("no files here"), { code: "ENOENT" });
    },
    exit: (code) => {
      exits.push(code);
      return undefined as never;
    },
    onSignal: (signal, handler) => {
      handlers.set(signal, handler);
      return () => handlers.delete(signal);
    },
    now: () => time.nowMs,
  };
  const signal = (name: string): void => handlers.get(name)?.();
  return { io, out, err, exits, signal, time, listening: () => handlers.size === 2 };
}

/** A stand-in for `startServer` whose `close` resolves when the test says so. */
function controllableServer() {
  const configs: ServeConfig[] = [];
  let finishClose: (ok: boolean) => void = () => undefined;
  let closeCalls = 0;
  const start = (config: ServeConfig): Promise<RunningServer> => {
    configs.push(config);
    return Promise.resolve({
      url: `http://${config.host}:${config.port}`,
      port: config.port,
      close: () => {
        closeCalls++;
        return new Promise<void>((resolve, reject) => {
          finishClose = (ok) => (ok ? resolve() : reject(new Error("store would not close")));
        });
      },
    });
  };
  return {
    start,
    configs,
    finishClose: (ok: boolean) => finishClose(ok),
    closeCalls: () => closeCalls,
  };
}

async function untilTrue(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((resolve) => setImmediate(resolve));
  expect(check()).toBe(true);
}

describe("steadfast serve (in process)", () => {
  it("hands the resolved configuration to startServer and prints the URL", async () => {
    const recording = recordingIo({ STEADFAST_PORT: "9000", STEADFAST_LOG_LEVEL: "warn" });
    const server = controllableServer();
    void main(
      [
        "node",
        "steadfast",
        "serve",
        "--port",
        "7999",
        "--allow-private-networks",
        "--retention",
        "30d",
      ],
      recording.io,
      {
        startServer: server.start,
      },
    );
    await untilTrue(recording.listening);
    expect(server.configs[0]).toMatchObject({
      port: 7999,
      host: "127.0.0.1",
      logLevel: "warn",
      allowPrivateNetworks: true,
      dataDir: "/srv/.steadfast",
      db: "sqlite:/srv/.steadfast/steadfast.db",
      retentionMs: 30 * 86_400_000,
    });
    expect(recording.out).toEqual(["listening on http://127.0.0.1:7999\n"]);
  });

  it("closes on SIGTERM and exits 0 once closed", async () => {
    const recording = recordingIo();
    const server = controllableServer();
    void main(["node", "steadfast", "serve"], recording.io, { startServer: server.start });
    await untilTrue(recording.listening);

    recording.signal("SIGTERM");
    expect(server.closeCalls()).toBe(1);
    expect(recording.exits).toEqual([]);
    server.finishClose(true);
    await untilTrue(() => recording.exits.length > 0);
    expect(recording.exits).toEqual([0]);
    expect(recording.err.join("")).toContain("steadfast: SIGTERM, shutting down");
  });

  it("takes a signal repeated within a second as the same stop (npm and the process group both pass it on)", async () => {
    const recording = recordingIo();
    const server = controllableServer();
    void main(["node", "steadfast", "serve"], recording.io, { startServer: server.start });
    await untilTrue(recording.listening);

    recording.signal("SIGTERM");
    recording.signal("SIGTERM");
    recording.time.nowMs += REPEATED_SIGNAL_WINDOW_MS - 1;
    recording.signal("SIGINT");
    expect(recording.exits).toEqual([]);
    expect(server.closeCalls()).toBe(1);
    server.finishClose(true);
    await untilTrue(() => recording.exits.length > 0);
    expect(recording.exits).toEqual([0]);
  });

  it("exits at once with 1 on a signal a second or more after the first, while closing", async () => {
    const recording = recordingIo();
    const server = controllableServer();
    void main(["node", "steadfast", "serve"], recording.io, { startServer: server.start });
    await untilTrue(recording.listening);

    recording.signal("SIGINT");
    recording.time.nowMs += REPEATED_SIGNAL_WINDOW_MS;
    recording.signal("SIGINT");
    expect(recording.exits).toEqual([1]);
    expect(server.closeCalls()).toBe(1);
    expect(recording.err.at(-1)).toBe(
      "steadfast: SIGINT again, exiting without waiting for in-flight work\n",
    );
  });

  it("exits 1 with one line when closing fails", async () => {
    const recording = recordingIo();
    const server = controllableServer();
    void main(["node", "steadfast", "serve"], recording.io, { startServer: server.start });
    await untilTrue(recording.listening);

    recording.signal("SIGTERM");
    server.finishClose(false);
    await untilTrue(() => recording.exits.length > 0);
    expect(recording.exits).toEqual([1]);
    expect(recording.err.at(-1)).toBe("steadfast: shutdown failed: store would not close\n");
  });

  it("reports a start-up failure as one line, with the stack only at debug level", async () => {
    const failing = (): Promise<RunningServer> =>
      Promise.reject(new Error("Cannot listen on 127.0.0.1:7480: the port is in use"));
    const quiet = recordingIo();
    expect(await main(["node", "steadfast", "serve"], quiet.io, { startServer: failing })).toBe(1);
    expect(quiet.err).toEqual([
      "steadfast: cannot start: Cannot listen on 127.0.0.1:7480: the port is in use (--log-level debug shows the stack)\n",
    ]);

    const verbose = recordingIo();
    expect(
      await main(["node", "steadfast", "serve", "--log-level", "debug"], verbose.io, {
        startServer: failing,
      }),
    ).toBe(1);
    expect(verbose.err.join("")).toMatch(/the port is in use\n\s+at /);
  });
});
