import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { Agent, request as httpRequest, type IncomingMessage } from "node:http";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startFlakyUpstream, type FlakyUpstream } from "../testing/flaky-upstream.ts";
import { waitUntil } from "../testing/wait-until.ts";
import { AttemptListSchema, CallViewSchema, ProblemSchema } from "./schemas.ts";
import { startServer, type RunningServer, type ServerConfig } from "./start-server.ts";

let dir: string;
let upstream: FlakyUpstream | undefined;
let servers: RunningServer[];
let printed: string[];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "steadfast-serve-"));
  servers = [];
  printed = [];
});
afterEach(async () => {
  for (const server of servers) await server.close();
  await upstream?.close();
  upstream = undefined;
  rmSync(dir, { recursive: true, force: true });
});

function config(overrides: Partial<ServerConfig> = {}): ServerConfig {
  return {
    port: 0,
    host: "127.0.0.1",
    db: `sqlite:${join(dir, "data", "steadfast.db")}`,
    dataDir: join(dir, "data"),
    allowPrivateNetworks: true,
    allowedCidrs: [],
    concurrency: 8,
    maxBodyBytes: 4_096,
    logLevel: "silent",
    ...overrides,
  };
}

async function start(overrides: Partial<ServerConfig> = {}): Promise<RunningServer> {
  const server = await startServer(config(overrides), {
    logger: pino({ level: "silent" }),
    print: (line) => void printed.push(line),
  });
  servers.push(server);
  return server;
}

/** A raw HTTP exchange (for chunked bodies and socket reuse, which fetch hides). */
function exchange(
  url: string,
  options: { method: string; headers: Record<string, string>; chunks?: string[]; agent?: Agent },
): Promise<{ res: IncomingMessage; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      {
        method: options.method,
        headers: options.headers,
        ...(options.agent === undefined ? {} : { agent: options.agent }),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => resolve({ res, body: Buffer.concat(chunks).toString("utf8") }));
      },
    );
    req.on("error", reject);
    for (const chunk of options.chunks ?? []) req.write(chunk);
    req.end();
  });
}

describe("startServer", () => {
  it("serves the API over a real socket: a call retried to success, with Prefer: wait", async () => {
    upstream = await startFlakyUpstream([{ status: 503 }, { status: 200, body: "paid" }]);
    const server = await start();
    expect(server.url).toBe(`http://127.0.0.1:${server.port}`);
    const key = readFileSync(join(dir, "data", "api-key"), "utf8").trim();
    expect(printed).toEqual([expect.stringContaining(key)]);

    const res = await fetch(`${server.url}/v1/fetch`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${key}`,
        "content-type": "application/json",
        prefer: "wait=20",
        "idempotency-key": "order-1",
      },
      body: JSON.stringify({
        url: `${upstream.url}/charge`,
        method: "POST",
        body: { amount: 1 },
        retry: { initialDelayMs: 0, maxDelayMs: 0 },
      }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("preference-applied")).toBe("wait=20");
    const call = CallViewSchema.parse(await res.json());
    expect(call).toMatchObject({
      status: "succeeded",
      attempts: 2,
      response: { status: 200, body: "paid" },
    });
    expect(upstream.requests.map((r) => r.headers["idempotency-key"])).toEqual([
      "order-1",
      "order-1",
    ]);

    const attempts = AttemptListSchema.parse(
      await (
        await fetch(`${server.url}/v1/calls/${call.id}/attempts`, {
          headers: { authorization: `Bearer ${key}` },
        })
      ).json(),
    );
    expect(attempts.attempts.map((a) => [a.outcome, a.decision.type])).toEqual([
      [{ type: "response", status: 503 }, "retry"],
      [{ type: "response", status: 200 }, "succeed"],
    ]);

    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(/^steadfast_attempts_total\{outcome="5xx",decision="retry"\} 1$/m);
    expect(metrics).toMatch(/^steadfast_attempts_total\{outcome="2xx",decision="succeed"\} 1$/m);
    expect(metrics).toMatch(/^steadfast_calls_ended_total\{status="succeeded"\} 1$/m);
    expect(metrics).toMatch(/^steadfast_calls_accepted_total 1$/m);
    expect(metrics).toContain("process_cpu_user_seconds_total");

    const health = await fetch(`${server.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ ok: true, details: { store: "sqlite" } });
  });

  it("answers 413 over the socket for a declared and for a chunked oversized body, and keeps serving", async () => {
    const server = await start({ apiKeys: "acme:acme_key_0123456789abcdef" });
    const headers = {
      authorization: "Bearer acme_key_0123456789abcdef",
      "content-type": "application/json",
    };
    const declared = await exchange(`${server.url}/v1/fetch`, {
      method: "POST",
      headers: { ...headers, "content-length": "10000" },
      chunks: [
        JSON.stringify({ url: "https://a.example/", body: "x".repeat(9_960) }).padEnd(10_000),
      ],
    });
    expect(declared.res.statusCode).toBe(413);
    expect(declared.res.headers["content-type"]).toBe("application/problem+json");
    expect(ProblemSchema.parse(JSON.parse(declared.body))).toMatchObject({
      code: "payload_too_large",
    });

    const chunked = await exchange(`${server.url}/v1/fetch`, {
      method: "POST",
      headers: { ...headers, "transfer-encoding": "chunked" },
      chunks: Array.from({ length: 10 }, () => " ".repeat(1_000)),
    });
    expect(chunked.res.statusCode).toBe(413);
    expect(ProblemSchema.parse(JSON.parse(chunked.body)).detail).toContain("4096 bytes (4 KiB)");

    const after = await fetch(`${server.url}/v1/calls`, { headers });
    expect(after.status).toBe(200);
    expect(printed).toEqual([]);
  });

  it("reads request headers from the socket as web Headers would: any case, repeats joined", async () => {
    const server = await start();
    const key = readFileSync(join(dir, "data", "api-key"), "utf8").trim();
    const body = JSON.stringify({ url: "http://127.0.0.1:9/x" });
    const raw = (lines: string[], payload = ""): Promise<string> =>
      new Promise((resolve, reject) => {
        const socket = connect(server.port, "127.0.0.1", () => {
          socket.write([...lines, "Connection: close", "", payload].join("\r\n"));
        });
        const chunks: Buffer[] = [];
        socket.on("data", (chunk: Buffer) => chunks.push(chunk));
        socket.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
        socket.on("error", reject);
      });
    const accepted = await raw(
      [
        "POST /v1/fetch HTTP/1.1",
        "Host: localhost",
        `AUTHORIZATION:   Bearer ${key}  `,
        "X-REQUEST-ID: trace-42",
        "Idempotency-Key: part-1",
        "idempotency-key: part-2",
        "CONTENT-TYPE: application/json",
        `Content-Length: ${Buffer.byteLength(body)}`,
      ],
      body,
    );
    expect(accepted).toMatch(/^HTTP\/1\.1 202 /);
    expect(accepted).toMatch(/^x-request-id: trace-42\r$/im);
    expect(accepted).toContain('"idempotencyKey":"part-1, part-2"');

    const refused = await raw(
      [
        "POST /v1/fetch HTTP/1.1",
        "Host: localhost",
        `Authorization: Bearer ${key}`,
        "Content-Type: text/plain",
        `Content-Length: ${Buffer.byteLength(body)}`,
      ],
      body,
    );
    expect(refused).toMatch(/^HTTP\/1\.1 415 /);
  });

  it("names its own flag and variable when it refuses a private destination", async () => {
    const server = await start({ allowPrivateNetworks: false });
    const key = readFileSync(join(dir, "data", "api-key"), "utf8").trim();
    const res = await fetch(`${server.url}/v1/fetch`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify({ url: `${server.url}/healthz` }),
    });
    expect(res.status).toBe(422);
    expect(((await res.json()) as { detail: string }).detail).toContain(
      "set --allow-private-networks (STEADFAST_ALLOW_PRIVATE_NETWORKS=true) or add the range to --allowed-cidrs (STEADFAST_ALLOWED_CIDRS)",
    );
  });

  it("keeps connections alive between requests", async () => {
    const server = await start();
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const first = await exchange(`${server.url}/healthz`, { method: "GET", headers: {}, agent });
      const second = await exchange(`${server.url}/healthz`, { method: "GET", headers: {}, agent });
      expect(first.res.headers.connection).toBe("keep-alive");
      expect(first.res.headers["x-request-id"]).toBeDefined();
      expect(first.res.socket).toBe(second.res.socket);
    } finally {
      agent.destroy();
    }
  });

  it("on a later start prints where the key file is, not the key", async () => {
    const first = await start();
    const key = readFileSync(join(dir, "data", "api-key"), "utf8").trim();
    await first.close();
    printed = [];
    const second = await start();
    expect(printed).toEqual([`Steadfast API key: in ${join(dir, "data", "api-key")}`]);
    expect(
      (await fetch(`${second.url}/v1/calls`, { headers: { authorization: `Bearer ${key}` } }))
        .status,
    ).toBe(200);
  });

  it("closes gracefully: a pending Prefer: wait answers 202 at once, then the port is released", async () => {
    const server = await start({ apiKeys: "acme:acme_key_0123456789abcdef" });
    const pending = fetch(`${server.url}/v1/fetch`, {
      method: "POST",
      headers: {
        authorization: "Bearer acme_key_0123456789abcdef",
        "content-type": "application/json",
        prefer: "wait=60",
      },
      body: JSON.stringify({ url: "https://api.example.com/", delayMs: 3_600_000 }),
    });
    await waitUntil(
      async () => (await server.steadfast.calls.list("acme" as never)).calls.length === 1,
    );
    const started = Date.now();
    const closed = server.close();
    const res = await pending;
    expect(res.status).toBe(202);
    expect(CallViewSchema.parse(await res.json()).status).toBe("queued");
    await closed;
    expect(Date.now() - started).toBeLessThan(5_000);
    await expect(fetch(`${server.url}/healthz`)).rejects.toThrow();
    expect(server.close()).toBe(closed);
  });

  it("refuses bad API key configuration and a port in use, and releases the database", async () => {
    await expect(start({ apiKeys: "acme:short" })).rejects.toThrow(
      /STEADFAST_API_KEYS entry 1 of 1 \(tenant acme\): the key is 5 characters/,
    );
    const server = await start();
    await expect(start({ port: server.port })).rejects.toThrow(
      new RegExp(`Cannot listen on 127.0.0.1:${server.port}: the port is in use`),
    );
    await expect(start({ port: server.port })).rejects.toMatchObject({ code: "listen_failed" });
    await expect(start({ apiKeys: "acme:short" })).rejects.toMatchObject({
      code: "invalid_option",
    });
  });
});
