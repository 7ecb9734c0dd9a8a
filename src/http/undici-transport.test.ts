import { setImmediate as nextTurn } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import type { SendResult } from "../core/transport.ts";
import { FakeClock } from "../testing/fake-clock.ts";
import { createDestinationGuard } from "./destination-guard.ts";
import {
  closeAfterEach,
  closedPort,
  ROOMY,
  startHttpUpstream,
  startRawUpstream,
  type LoopbackUpstream,
} from "./loopback-upstream.test-support.ts";
import { UndiciTransport } from "./undici-transport.ts";

const T0 = 1_700_000_000_000;
const closing = closeAfterEach();

function transport(connections?: number): UndiciTransport {
  const created = new UndiciTransport({
    clock: new FakeClock(T0),
    guard: createDestinationGuard({ allowPrivateNetworks: true }),
    ...(connections === undefined ? {} : { connections }),
  });
  return closing.transport(created);
}

async function http(...args: Parameters<typeof startHttpUpstream>): Promise<LoopbackUpstream> {
  const upstream = await startHttpUpstream(...args);
  return closing.upstream(upstream);
}

async function raw(...args: Parameters<typeof startRawUpstream>): Promise<LoopbackUpstream> {
  const upstream = await startRawUpstream(...args);
  return closing.upstream(upstream);
}

function get(url: string): { url: string; method: string; headers: Record<string, string> } {
  return { url, method: "GET", headers: {} };
}

function text(result: SendResult): string {
  if (result.type !== "response")
    throw new Error(`expected a response, got ${JSON.stringify(result)}`);
  return Buffer.from(result.body).toString("utf8");
}

describe("UndiciTransport responses", () => {
  it("returns a 200 with its body, lower-cased joined headers and timings", async () => {
    const upstream = await http((request, response) => {
      response.setHeader("X-Trace", ["a", "b"]);
      response.setHeader("Content-Type", "application/json");
      response.end(JSON.stringify({ path: request.url, agent: request.headers["user-agent"] }));
    });
    const sender = transport();
    const result = await sender.send(get(`${upstream.origin}/orders?id=7#fragment`), ROOMY);

    expect(result).toMatchObject({
      type: "response",
      status: 200,
      bodyTruncated: false,
      headers: { "x-trace": "a, b", "content-type": "application/json" },
    });
    expect(JSON.parse(text(result))).toEqual({ path: "/orders?id=7", agent: "steadfast" });
    if (result.type !== "response") return;
    expect(result.bodyBytes).toBe(result.body.length);
    expect(result.timings.startedAt).toBe(T0);
    expect(result.timings.connectMs).toBeGreaterThanOrEqual(0);
    expect(result.timings.firstByteMs).toBeGreaterThanOrEqual(result.timings.connectMs!);
    expect(result.timings.durationMs).toBeGreaterThanOrEqual(result.timings.firstByteMs!);

    await nextTurn(); // undici marks the connection idle after the response completes
    const again = await sender.send(get(`${upstream.origin}/again`), ROOMY);
    expect(again.type).toBe("response");
    expect(again.timings.connectMs).toBeUndefined(); // pooled connection reused
    expect(again.timings.firstByteMs).toBeDefined();
    expect(upstream.connections).toBe(1);
  });

  it("returns a 503 as a response", async () => {
    const upstream = await http((_request, response) => {
      response.writeHead(503, { "retry-after": "5" });
      response.end("busy");
    });
    const result = await transport().send(get(upstream.origin), ROOMY);
    expect(result).toMatchObject({
      type: "response",
      status: 503,
      headers: { "retry-after": "5" },
    });
    expect(text(result)).toBe("busy");
  });

  it("does not follow redirects", async () => {
    const upstream = await http((request, response) => {
      if (request.url === "/start") response.writeHead(302, { location: "/elsewhere" });
      response.end();
    });
    const result = await transport().send(get(`${upstream.origin}/start`), ROOMY);
    expect(result).toMatchObject({
      type: "response",
      status: 302,
      headers: { location: "/elsewhere" },
    });
    expect(upstream.requests).toBe(1);
  });

  it("sends string and byte bodies with the method and headers given", async () => {
    const seen: string[] = [];
    const upstream = await http((request, response) => {
      let body = "";
      request.setEncoding("utf8");
      request.on("data", (chunk: string) => (body += chunk));
      request.on("end", () => {
        seen.push(
          `${request.method} ${request.headers["content-type"]} ${request.headers["user-agent"]} ${body}`,
        );
        response.end();
      });
    });
    const sender = transport();
    const headers = { "content-type": "application/json", "user-agent": "mine/1" };
    await sender.send({ url: upstream.origin, method: "POST", headers, body: '{"a":1}' }, ROOMY);
    const bytes = new TextEncoder().encode("héllo");
    await sender.send(
      {
        url: upstream.origin,
        method: "PUT",
        headers: { "content-type": "text/plain" },
        body: bytes,
      },
      ROOMY,
    );
    expect(seen).toEqual([
      'POST application/json mine/1 {"a":1}',
      "PUT text/plain steadfast héllo",
    ]);
  });

  it("answers HEAD without a body", async () => {
    const upstream = await http((_request, response) => {
      response.setHeader("content-length", "42");
      response.end();
    });
    const result = await transport().send({ ...get(upstream.origin), method: "HEAD" }, ROOMY);
    expect(result).toMatchObject({
      type: "response",
      status: 200,
      bodyBytes: 0,
      bodyTruncated: false,
    });
  });

  it("keeps maxResponseBytes of a longer body and reports the bytes received", async () => {
    const body = "x".repeat(5_000);
    const upstream = await http((_request, response) => response.end(body));
    const result = await transport().send(get(upstream.origin), {
      ...ROOMY,
      maxResponseBytes: 100,
    });
    expect(result).toMatchObject({
      type: "response",
      status: 200,
      bodyTruncated: true,
      bodyBytes: 5_000,
    });
    expect(text(result)).toBe("x".repeat(100));
  });

  it("stops reading a body far over the cap and drops the connection", async () => {
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    const upstream = await http((_request, response) => {
      response.writeHead(200, { "content-type": "application/octet-stream" });
      const write = (): void => {
        // Endless body: only the transport's own cut-off can end this exchange.
        while (response.write(chunk));
        response.once("drain", write);
      };
      write();
    });
    const result = await transport().send(get(upstream.origin), {
      ...ROOMY,
      maxResponseBytes: 1_024,
    });
    expect(result).toMatchObject({ type: "response", status: 200, bodyTruncated: true });
    if (result.type !== "response") return;
    expect(result.body.length).toBe(1_024);
    expect(result.bodyBytes).toBeGreaterThan(1_024);
  });
});

describe("UndiciTransport timeouts", () => {
  it("reports headers that never come as read_timeout, sent", async () => {
    const upstream = await http(() => undefined);
    const result = await transport().send(get(upstream.origin), { ...ROOMY, readTimeoutMs: 150 });
    expect(result).toMatchObject({ type: "error", code: "read_timeout", sent: true });
    if (result.type === "error")
      expect(result.message).toMatch(/no response headers within 150 ms/);
    expect(upstream.requests).toBe(1);
  });

  it("reports a body that stalls half-way as read_timeout, sent", async () => {
    const upstream = await http((_request, response) => {
      response.writeHead(200, { "content-length": "100" });
      response.write("only part of it");
    });
    const result = await transport().send(get(upstream.origin), { ...ROOMY, readTimeoutMs: 150 });
    expect(result).toMatchObject({ type: "error", code: "read_timeout", sent: true });
    if (result.type === "error") {
      expect(result.message).toMatch(/no further body bytes/);
      expect(result.timings.firstByteMs).toBeDefined();
    }
  });

  it("reports an exchange over totalTimeoutMs as total_timeout, sent", async () => {
    const upstream = await http(() => undefined);
    const result = await transport().send(get(upstream.origin), { ...ROOMY, totalTimeoutMs: 150 });
    expect(result).toMatchObject({ type: "error", code: "total_timeout", sent: true });
    if (result.type === "error") expect(result.timings.durationMs).toBeGreaterThanOrEqual(149);
  });

  it("reports a request that got no connection in time as connect_timeout, never sending it", async () => {
    const held: (() => void)[] = [];
    const upstream = await http((request, response) => {
      if (request.url === "/hold") held.push(() => response.end("held"));
      else response.end(request.url);
    });
    const sender = transport(1); // one connection, kept busy by the first request
    const first = sender.send(get(`${upstream.origin}/hold`), ROOMY);
    await upstream.requestArrived(1);
    const queued = await sender.send(get(`${upstream.origin}/queued`), {
      ...ROOMY,
      connectTimeoutMs: 100,
    });
    expect(queued).toMatchObject({ type: "error", code: "connect_timeout", sent: false });

    held[0]!();
    expect(text(await first)).toBe("held");
    expect(text(await sender.send(get(`${upstream.origin}/after`), ROOMY))).toBe("/after");
    expect(upstream.requests).toBe(2); // "/queued" was dropped before it was written
  });
});

describe("UndiciTransport connection errors", () => {
  it("reports a socket closed after the request arrived as reset, sent", async () => {
    const upstream = await raw((socket) => socket.destroy());
    const result = await transport().send(get(upstream.origin), ROOMY);
    expect(result).toMatchObject({ type: "error", code: "reset", sent: true });
  });

  it("reports a TCP reset after the request arrived as reset, sent", async () => {
    const upstream = await raw((socket) => socket.resetAndDestroy());
    const result = await transport().send(get(upstream.origin), ROOMY);
    expect(result).toMatchObject({ type: "error", code: "reset", sent: true });
  });

  it("reports garbage instead of HTTP as invalid_response, sent", async () => {
    const upstream = await raw((socket) =>
      socket.end("SSH-2.0-OpenSSH_9.6\r\nnot http at all\r\n\r\n"),
    );
    const result = await transport().send(get(upstream.origin), ROOMY);
    expect(result).toMatchObject({ type: "error", code: "invalid_response", sent: true });
  });

  it("reports a failed TLS handshake as tls, not sent", async () => {
    const upstream = await http((_request, response) => response.end("plain http"));
    const result = await transport().send(get(`https://127.0.0.1:${upstream.port}/`), ROOMY);
    expect(result).toMatchObject({ type: "error", code: "tls", sent: false });
    expect(upstream.requests).toBe(0);
  });

  it("reports a closed port as connect_refused, not sent", async () => {
    const port = await closedPort();
    const result = await transport().send(get(`http://127.0.0.1:${port}/`), ROOMY);
    expect(result).toMatchObject({ type: "error", code: "connect_refused", sent: false });
    if (result.type === "error") expect(result.message).toContain(`127.0.0.1:${port}`);
  });

  it("reports a failure inside our own process as internal, and logs the error (issue 10)", async () => {
    const upstream = await http((request, response) => {
      request.resume();
      request.on("end", () => response.end("ok"));
    });
    const logged: { obj: object; msg: string | undefined }[] = [];
    const sender = closing.transport(
      new UndiciTransport({
        clock: new FakeClock(T0),
        guard: createDestinationGuard({ allowPrivateNetworks: true }),
        logger: { error: (obj, msg) => void logged.push({ obj, msg }) },
      }),
    );
    // A bug of ours: a body of a type the port does not allow. Node's writer raises
    // ERR_INVALID_ARG_TYPE, which is no fault of the tenant's request (not invalid_request).
    const body = [5][Symbol.iterator]() as unknown as string;
    const result = await sender.send(
      { url: upstream.origin, method: "POST", headers: {}, body },
      ROOMY,
    );
    expect(result).toMatchObject({ type: "error", code: "internal" });
    if (result.type !== "error") return;
    expect(result.message).toMatch(/ERR_INVALID_ARG_TYPE.*not the request's fault/);
    expect(logged).toEqual([
      {
        obj: { err: expect.objectContaining({ code: "ERR_INVALID_ARG_TYPE" }) as unknown },
        msg: result.message,
      },
    ]);
  });

  it("reports a name that does not resolve as dns, not sent", async () => {
    // RFC 6761 section 6.4: names under .invalid never resolve.
    const result = await transport().send(get("http://steadfast-test.invalid/"), ROOMY);
    expect(result).toMatchObject({ type: "error", code: "dns", sent: false });
    if (result.type === "error") expect(result.message).toContain("steadfast-test.invalid");
  });
});
