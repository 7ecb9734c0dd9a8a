// Restate as a workflow benchmark target: its server (the binary shipped in the npm package
// `@restatedev/restate-server`) in a child process with a fresh data directory, and the benchmark's
// service on the SDK (`@restatedev/restate-sdk`) served over HTTP/2 from this process. A workflow
// is one durable handler invocation through the ingress; each step is a `ctx.run` journaled by the
// server before the next one starts.
import * as restate from "@restatedev/restate-sdk";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer as createHttp2Server, type Http2Server } from "node:http2";
import { createServer } from "node:net";
import { arch, platform, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { Pool } from "undici";
import type { WorkflowSession, WorkflowTarget } from "../lib/workflow-target.ts";

/** Stamps of the sequential workflow running now (one runs at a time). */
let stamps: number[] = [];

const service = restate.service({
  name: "bench",
  handlers: {
    run: async (ctx: restate.Context, request: { steps: number; stamped: boolean }) => {
      for (let i = 0; i < request.steps; i++) {
        await ctx.run(`step-${i}`, () => {
          if (request.stamped) stamps.push(performance.now());
          return i;
        });
      }
      return request.steps;
    },
  },
});

export function restateTarget(): WorkflowTarget {
  return {
    name: "restate",
    database: "own",
    settings:
      "restate-server (npm binary) in a child process, fresh data dir, default settings; SDK endpoint over HTTP/2 in this process; one ingress request per workflow (undici pool of 64); ctx.run per step",
    async open(): Promise<WorkflowSession> {
      // The SDK logs every invocation at INFO: 1,000 lines a run, and console time in the figures.
      process.env.RESTATE_LOGGING ??= "ERROR";
      const dataDir = mkdtempSync(join(tmpdir(), "steadfast-bench-restate-"));
      const [nodePort, adminPort, ingressPort] = await freePorts(3);
      const server = spawn(
        restateBinary(),
        ["--base-dir", dataDir, "--no-logo", "--log-filter", "error"],
        {
          env: {
            ...process.env,
            RESTATE_BIND_IP: "127.0.0.1",
            RESTATE_BIND_PORT: String(nodePort),
            RESTATE_ADMIN__BIND_PORT: String(adminPort),
            RESTATE_INGRESS__BIND_PORT: String(ingressPort),
            RESTATE_DISABLE_TELEMETRY: "true",
          },
          stdio: ["ignore", "ignore", "inherit"],
        },
      );
      const endpoint: Http2Server = createHttp2Server(
        restate.endpoint().bind(service).http2Handler(),
      );
      await new Promise<void>((resolve) => endpoint.listen(0, "127.0.0.1", resolve));
      const endpointPort = (endpoint.address() as { port: number }).port;
      const ingress = new Pool(`http://127.0.0.1:${ingressPort}`, { connections: 64 });
      try {
        await waitForHealthy(`http://127.0.0.1:${adminPort}/health`, server);
        const registered = await fetch(`http://127.0.0.1:${adminPort}/deployments`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ uri: `http://127.0.0.1:${endpointPort}` }),
        });
        if (!registered.ok) {
          throw new RangeError(
            `restate: registering the deployment answered ${registered.status}: ${await registered.text()}`,
          );
        }
      } catch (error) {
        await stop(server, endpoint, ingress, dataDir);
        throw error;
      }
      const invoke = async (steps: number, stamped: boolean): Promise<void> => {
        const response = await ingress.request({
          path: "/bench/run",
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ steps, stamped }),
        });
        const text = await response.body.text();
        if (response.statusCode !== 200) {
          throw new RangeError(`restate: the invocation answered ${response.statusCode}: ${text}`);
        }
      };
      return {
        async sequential(steps) {
          stamps = [];
          await invoke(steps, true);
          return stamps;
        },
        runOne: (steps) => invoke(steps, false),
        close: () => stop(server, endpoint, ingress, dataDir),
      };
    },
  };
}

function restateBinary(): string {
  const require = createRequire(import.meta.url);
  return require.resolve(`@restatedev/restate-server-${platform()}-${arch()}/bin/restate-server`);
}

async function stop(
  server: ChildProcess,
  endpoint: Http2Server,
  ingress: Pool,
  dataDir: string,
): Promise<void> {
  await ingress.close();
  if (server.exitCode === null) {
    const exited = new Promise((resolve) => server.once("exit", resolve));
    server.kill("SIGTERM");
    await exited;
  }
  await new Promise((resolve) => endpoint.close(resolve));
  rmSync(dataDir, { recursive: true, force: true });
}

/** Ports free on 127.0.0.1 now (bound to port 0, then released). */
async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve) => {
          const server = createServer();
          server.listen(0, "127.0.0.1", () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((server) => (server.address() as { port: number }).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

async function waitForHealthy(url: string, server: ChildProcess): Promise<void> {
  const started = performance.now();
  while (performance.now() - started < 60_000) {
    if (server.exitCode !== null)
      throw new RangeError(`restate-server exited with ${server.exitCode} while starting`);
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new RangeError(`restate-server was not healthy at ${url} within 60 s`);
}
