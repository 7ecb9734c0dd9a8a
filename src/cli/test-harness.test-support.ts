/**
 * Real parts for the client and CLI tests: a Steadfast server (`startServer`, SQLite in a temp
 * directory) and an upstream on 127.0.0.1, both on port 0.
 *
 * Upstream routes: `/ok` answers 200 `{"ok":true}`; `/echo` answers 200 with the request's
 * method, headers and body as JSON; `/status/<n>` answers status n; anything else 404 in HTML
 * (for a client pointed at something that is not Steadfast).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startServer } from "../server/start-server.ts";

/** API key of tenant `t1` in the test server. The server wants keys of 16 characters or more. */
export const KEY_ONE = "key-one-0123456789abcdef";
/** API key of tenant `t2`. */
export const KEY_TWO = "key-two-0123456789abcdef";

/** A request the upstream received. */
export interface UpstreamRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A running server and upstream. */
export interface Harness {
  /** Base URL of the Steadfast server. */
  serverUrl: string;
  /** Base URL of the upstream. */
  upstreamUrl: string;
  /** Every request the upstream received, in order. */
  upstreamRequests: UpstreamRequest[];
  /** Temp directory holding the database; removed by `close`. */
  dir: string;
  close(): Promise<void>;
}

/** Starts an upstream and a Steadfast server with tenants `t1` (`KEY_ONE`) and `t2` (`KEY_TWO`). */
export async function startHarness(): Promise<Harness> {
  const dir = await mkdtemp(join(tmpdir(), "steadfast-client-"));
  const upstreamRequests: UpstreamRequest[] = [];
  const upstream = await startUpstream(upstreamRequests);
  const server = await startServer(
    {
      port: 0,
      host: "127.0.0.1",
      db: `sqlite:${join(dir, "db")}`,
      dataDir: dir,
      apiKeys: `t1:${KEY_ONE},t2:${KEY_TWO}`,
      operatorTenants: ["t1"],
      allowPrivateNetworks: true,
      allowedCidrs: [],
      concurrency: 16,
      maxBodyBytes: 1_048_576,
      logLevel: "silent",
      shutdownGraceMs: 1_000,
    },
    { print: () => undefined },
  );
  return {
    serverUrl: server.url,
    upstreamUrl: upstream.url,
    upstreamRequests,
    dir,
    async close() {
      await server.close();
      await upstream.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function startUpstream(
  requests: UpstreamRequest[],
): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const request: UpstreamRequest = {
        method: req.method ?? "",
        path: req.url ?? "",
        headers: req.headers,
        body: Buffer.concat(chunks).toString("utf8"),
      };
      requests.push(request);
      const status = /^\/status\/(\d{3})/.exec(request.path)?.[1];
      if (request.path.startsWith("/ok")) {
        res.writeHead(200, { "content-type": "application/json" }).end('{"ok":true}');
      } else if (request.path.startsWith("/echo")) {
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(request));
      } else if (status !== undefined) {
        res.writeHead(Number(status), { "content-type": "text/plain" }).end(`status ${status}`);
      } else {
        res.writeHead(404, { "content-type": "text/html" }).end("<html>not here</html>");
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
