// Bodies through each adapter (node:http, Express, Fastify), over real HTTP on 127.0.0.1: a
// streaming response reaches the client chunk by chunk, a complete one in one write with its
// Content-Length, and a request body over the endpoint's maxBodyBytes is refused with 413
// problem+json as soon as it passes the limit (at once on its Content-Length), before it ends.
import { once } from "node:events";
import {
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type Server,
} from "node:http";
import type { AddressInfo } from "node:net";
import express from "express";
import Fastify from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import { tenantId } from "../core/ids.ts";
import { harness, type Harness } from "../engine/engine-harness.test-support.ts";
import type { DurableEndpoint } from "../engine/endpoints/durable-endpoint.ts";
import { toExpressHandler } from "./express-adapter.ts";
import { keepRawBodies, toFastifyHandler } from "./fastify-adapter.ts";
import { toNodeHandler } from "./node-adapter.ts";

/** A server of `endpoint` on 127.0.0.1, port 0, at path /chat: its URL, and how to stop it. */
type Mount = (endpoint: DurableEndpoint) => Promise<{ url: string; close(): Promise<void> }>;

async function listenNode(server: Server): Promise<{ url: string; close(): Promise<void> }> {
  if (!server.listening) await once(server.listen(0, "127.0.0.1"), "listening");
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/chat`,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

const ADAPTERS: [string, Mount][] = [
  ["node:http", (endpoint) => listenNode(createServer(toNodeHandler(endpoint)))],
  [
    "Express",
    (endpoint) => {
      const handler = toExpressHandler(endpoint);
      return listenNode(createServer(express().post("/chat", handler).get("/chat", handler)));
    },
  ],
  [
    "Fastify with keepRawBodies",
    async (endpoint) => {
      const app = Fastify();
      await app.register((scope) => {
        keepRawBodies(scope);
        scope.route({ method: ["GET", "POST"], url: "/chat", handler: toFastifyHandler(endpoint) });
        return Promise.resolve();
      });
      await app.listen({ port: 0, host: "127.0.0.1" });
      const { url } = await listenNode(app.server);
      return { url, close: () => app.close() };
    },
  ],
];

let h: Harness | undefined;
let close: (() => Promise<void>) | undefined;
afterEach(async () => {
  await close?.();
  close = undefined;
  await h?.cleanup();
  h = undefined;
});

const encoder = new TextEncoder();

interface RawAnswer {
  status: number | undefined;
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * POSTs `chunks` with `headers` and answers the response as soon as it comes, the request body
 * left unfinished (its end never sent): an answer proves the server did not wait for it.
 */
function postUnfinished(
  url: string,
  headers: Record<string, string>,
  chunks: string[],
): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: "POST", headers }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => {
        resolve({ status: res.statusCode, headers: res.headers, body });
        req.destroy();
      });
    });
    // The server may close while this side still sends: only the answer matters.
    req.on("error", (error) => reject(error));
    req.flushHeaders();
    for (const chunk of chunks) req.write(chunk);
  });
}

describe.each(ADAPTERS)("bodies through %s", (_name, mount) => {
  async function serve(endpoint: (h: Harness) => DurableEndpoint): Promise<string> {
    h = await harness([]);
    const mounted = await mount(endpoint(h));
    close = mounted.close;
    return mounted.url;
  }

  it("streams a response as the handler produces it", async () => {
    let held: ReadableStreamDefaultController<Uint8Array> | undefined;
    const url = await serve((h) =>
      h.sf.endpoint("chat", () => {
        const stream = new ReadableStream<Uint8Array>({
          start(controller) {
            controller.enqueue(encoder.encode("token-1 "));
            held = controller;
          },
        });
        return new Response(stream, { headers: { "content-type": "text/event-stream" } });
      }),
    );
    const response = await fetch(url, { method: "POST", body: "{}" });
    expect(response.headers.get("content-type")).toBe("text/event-stream");
    expect(response.headers.get("content-length")).toBeNull();
    const reader = response.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe("token-1 ");
    held!.enqueue(encoder.encode("token-2"));
    held!.close();
    let rest = "";
    for (let read = await reader.read(); !read.done; read = await reader.read()) {
      rest += new TextDecoder().decode(read.value);
    }
    expect(rest).toBe("token-2");
  });

  it("answers a complete body with its Content-Length", async () => {
    const url = await serve((h) =>
      h.sf.endpoint("chat", async (req) => Response.json({ echo: await req.text() })),
    );
    const response = await fetch(url, { method: "POST", body: "hi" });
    const body = '{"echo":"hi"}';
    expect(response.headers.get("content-length")).toBe(String(body.length));
    expect(response.headers.get("transfer-encoding")).toBeNull();
    expect(await response.text()).toBe(body);
  });

  it("refuses a body over maxBodyBytes with 413 problem+json: at once on its Content-Length, else as soon as it passes", async () => {
    let ran = 0;
    const url = await serve((h) =>
      h.sf.endpoint(
        "chat",
        () => {
          ran++;
          return new Response("never");
        },
        { maxBodyBytes: 100 },
      ),
    );
    const declared = await postUnfinished(url, { "content-length": "1000" }, []);
    expect(declared.status).toBe(413);
    expect(declared.headers["content-type"]).toBe("application/problem+json");
    expect(declared.headers.connection).toBe("close");
    expect(JSON.parse(declared.body)).toMatchObject({
      code: "payload_too_large",
      detail: expect.stringContaining("maxBodyBytes") as unknown,
    });

    const chunked = await postUnfinished(url, { "transfer-encoding": "chunked" }, [
      "x".repeat(60),
      "x".repeat(60),
    ]);
    expect(chunked.status).toBe(413);
    expect(JSON.parse(chunked.body)).toMatchObject({ code: "payload_too_large" });

    expect(ran).toBe(0);
    expect(
      await h!.sf.store.listRuns({ tenantId: tenantId("default"), workflow: "chat", limit: 10 }),
    ).toEqual([]);
    // A body within the limit is taken.
    expect(await (await fetch(url, { method: "POST", body: "x".repeat(100) })).text()).toBe(
      "never",
    );
  });
});
