import { mkdtempSync, rmSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { tenantId } from "../core/ids.ts";
import { rawExchange } from "../testing/raw-http.ts";
import { waitUntil } from "../testing/wait-until.ts";
import { clientErrorProblem } from "./client-error.ts";
import { ProblemSchema } from "./schemas.ts";
import { startServer, type RunningServer } from "./start-server.ts";

const KEY = "acme_key_0123456789abcdef";
const PLANTED = "PLANTED-SECRET-7c1f";

let dir: string;
let server: RunningServer;
/** A pino line, as captured. */
interface LogLine {
  level: number;
  msg: string;
  path?: string;
}

let logLines: LogLine[];

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), "steadfast-client-error-"));
  logLines = [];
  const logger = pino(
    { level: "debug" },
    { write: (line: string) => void logLines.push(JSON.parse(line) as LogLine) },
  );
  server = await startServer(
    {
      port: 0,
      host: "127.0.0.1",
      db: `sqlite:${join(dir, "steadfast.db")}`,
      dataDir: join(dir, "data"),
      apiKeys: `acme:${KEY}`,
      allowPrivateNetworks: true,
      allowedCidrs: [],
      concurrency: 8,
      maxBodyBytes: 4_096,
      logLevel: "debug",
    },
    { logger, print: () => undefined },
  );
});
afterEach(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Resolves once the server has closed `socket`. */
function closed(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.destroyed) resolve();
    else socket.once("close", () => resolve());
  });
}

const request = (lines: string[]): string => [...lines, "", ""].join("\r\n");

describe("malformed HTTP (node's parser refuses it)", () => {
  const cases: [name: string, bytes: string, status: number, code: string][] = [
    [
      "a control byte in a header value",
      request(["GET /healthz HTTP/1.1", "Host: x", `X-Token: ${PLANTED}\x01`]),
      400,
      "bad_request",
    ],
    [
      "a control byte in a header name",
      request(["GET /healthz HTTP/1.1", "Host: x", `X-${PLANTED}\x7f: 1`]),
      400,
      "bad_request",
    ],
    [
      "a space in the request target",
      request([`GET /v1/calls/${PLANTED} x HTTP/1.1`, "Host: x"]),
      400,
      "bad_request",
    ],
    ["an unknown method", request([`${PLANTED} /healthz HTTP/1.1`, "Host: x"]), 400, "bad_request"],
    ["an unknown HTTP version", request(["GET /healthz HTTP/7.0", "Host: x"]), 400, "bad_request"],
    [
      "a non-numeric Content-Length",
      request(["POST /v1/fetch HTTP/1.1", "Host: x", `Content-Length: ${PLANTED}`]),
      400,
      "bad_request",
    ],
    [
      "both Content-Length and Transfer-Encoding",
      request([
        "POST /v1/fetch HTTP/1.1",
        "Host: x",
        "Content-Length: 3",
        "Transfer-Encoding: chunked",
      ]),
      400,
      "bad_request",
    ],
    [
      "a malformed chunk size",
      request(["POST /v1/fetch HTTP/1.1", "Host: x", "Transfer-Encoding: chunked"]) +
        `${PLANTED}\r\n{}\r\n0\r\n\r\n`,
      400,
      "bad_request",
    ],
    ["bytes that are not HTTP", `\x00\x01\x02${PLANTED}\r\n\r\n`, 400, "bad_request"],
    [
      "an Expect other than 100-continue",
      request([
        `POST /v1/destinations/${encodeURIComponent(`https://u:${PLANTED}@x.example`)}?api_key=${PLANTED} HTTP/1.1`,
        "Host: x",
        "Expect: 200-ok",
      ]),
      417,
      "expectation_failed",
    ],
    [
      "CONNECT to a host (this is no proxy)",
      request([`CONNECT ${PLANTED}.example:443 HTTP/1.1`, `Host: ${PLANTED}.example:443`]),
      400,
      "bad_request",
    ],
    [
      "CONNECT to a path",
      request(["CONNECT /v1/fetch HTTP/1.1", "Host: x", `Authorization: Bearer ${PLANTED}`]),
      400,
      "bad_request",
    ],
    [
      "headers over 16 KiB",
      request([
        "GET /healthz HTTP/1.1",
        "Host: x",
        `Authorization: Bearer ${PLANTED}`,
        `X-Big: ${"a".repeat(20_000)}`,
      ]),
      431,
      "headers_too_large",
    ],
  ];
  it.each(cases.map(([name, bytes, status, code]) => ({ name, bytes, status, code })))(
    "answers $name with a $status problem+json, a correlation id and Connection: close, quoting nothing sent",
    async ({ bytes, status, code }) => {
      const answer = await rawExchange(server.port, bytes);
      expect(answer.status).toBe(status);
      expect(answer.headers["content-type"]).toBe("application/problem+json");
      expect(answer.headers.connection).toBe("close");
      expect(Number(answer.headers["content-length"])).toBe(answer.body.length);
      const problem = ProblemSchema.parse(JSON.parse(answer.body.toString("utf8")));
      expect(problem).toMatchObject({
        status,
        code,
        type: `https://steadfast.dev/problems/${code}`,
      });
      expect(problem.title).not.toBe("");
      expect(problem.correlationId).toBe(answer.headers["x-request-id"]);
      expect(answer.raw.toString("latin1")).not.toContain(PLANTED);
      expect(logLines.filter((l) => l.level >= 40)).toEqual([]);
      // The server is unharmed.
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    },
  );

  it("answers a malformed request after a good one on a kept-alive connection", async () => {
    const socket = connect(server.port, "127.0.0.1");
    let received = "";
    socket.on("data", (chunk: Buffer) => (received += chunk.toString("latin1")));
    socket.on("error", () => undefined);
    socket.write(request(["GET /healthz HTTP/1.1", "Host: x"]));
    await waitUntil(() => received.includes('"ok":true'));
    expect(received).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    const first = received.length;
    socket.write(request(["GET /a b HTTP/1.1", "Host: x"]));
    await closed(socket);
    const second = received.slice(first);
    expect(second).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(second).toContain("\r\nContent-Type: application/problem+json\r\n");
  });

  it("answers a malformed pipelined request after the answers in flight, in order", async () => {
    const answers = await new Promise<string>((resolve, reject) => {
      const socket = connect(server.port, "127.0.0.1");
      let received = "";
      socket.on("data", (chunk: Buffer) => (received += chunk.toString("latin1")));
      socket.on("error", reject);
      socket.on("close", () => resolve(received));
      socket.write(waitingSubmit(1) + request(["GET /a b HTTP/1.1", "Host: x"]));
    });
    // The call's answer first (the wait ran out: 202), then the refusal of what followed it.
    expect(answers).toMatch(/^HTTP\/1\.1 202 Accepted\r\n/);
    const second = answers.slice(answers.indexOf("HTTP/1.1", 1));
    expect(second).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(second).toContain("\r\nContent-Type: application/problem+json\r\n");
    expect(logLines.filter((l) => l.level >= 40)).toEqual([]);
  });
});

describe("a client that goes away", () => {
  it("is not an error: aborting a Prefer: wait, closing mid-body, or mid-headers", async () => {
    const waiting = connect(server.port, "127.0.0.1");
    waiting.on("error", () => undefined);
    waiting.write(waitingSubmit());
    await waitUntil(callAccepted);
    waiting.destroy();

    const midBody = connect(server.port, "127.0.0.1");
    midBody.on("error", () => undefined);
    midBody.write(
      request([
        "POST /v1/fetch HTTP/1.1",
        "Host: x",
        `Authorization: Bearer ${KEY}`,
        "Content-Type: application/json",
        "Content-Length: 1000",
      ]) + '{"url":',
    );
    midBody.end();

    const midHeaders = connect(server.port, "127.0.0.1");
    midHeaders.on("error", () => undefined);
    midHeaders.end("POST /v1/fetch HTTP/1.1\r\nHost: x\r\nAuthor");
    midHeaders.resume();
    await closed(midHeaders);

    // Both requests that reached a route are logged (at debug) once answered.
    await waitUntil(() => requestsLogged("/v1/fetch") === 2);
    expect(logLines.filter((l) => l.level >= 40)).toEqual([]);
    expect(logLines.filter((l) => l.msg === "client went away before the answer")).toHaveLength(1);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });
});

/** A `POST /v1/fetch` with `Prefer: wait=<seconds>` for a call that will not end in an hour. */
function waitingSubmit(seconds = 60): string {
  const body = JSON.stringify({ url: "https://api.example.com/", delayMs: 3_600_000 });
  return (
    request([
      "POST /v1/fetch HTTP/1.1",
      "Host: x",
      `Authorization: Bearer ${KEY}`,
      "Content-Type: application/json",
      `Prefer: wait=${seconds}`,
      `Content-Length: ${Buffer.byteLength(body)}`,
    ]) + body
  );
}

async function callAccepted(): Promise<boolean> {
  return (await server.steadfast.calls.list(tenantId("acme"))).calls.length === 1;
}

function requestsLogged(path: string): number {
  return logLines.filter((l) => l.msg === "request" && l.path === path).length;
}

describe("clientErrorProblem", () => {
  it("only closes connections that are gone", () => {
    for (const code of ["ECONNRESET", "EPIPE", "ERR_STREAM_DESTROYED", "ETIMEDOUT", undefined])
      expect(clientErrorProblem(code)).toBeUndefined();
  });

  it("answers a parser error it has no words for as a generic 400", () => {
    expect(clientErrorProblem("HPE_SOMETHING_NEW")?.code).toBe("bad_request");
  });

  it("answers a request that arrived too slowly with 408", () => {
    expect(clientErrorProblem("ERR_HTTP_REQUEST_TIMEOUT")?.code).toBe("request_timeout");
  });
});
