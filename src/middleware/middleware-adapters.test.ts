// The generic adapters of `steadfast/middleware` with a middleware that is not idempotency (as
// rate limiting will be): it stamps a header on the route's answer, or refuses the request
// itself. Over real HTTP with each framework: the route's status, headers (cookies included)
// and body go through it; a streamed answer streams (a chunk reaches the client before the
// route has ended); the route reads a body the middleware did not; a refusal skips the route.
import { once } from "node:events";
import { createServer, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
import { serve as serveHono } from "@hono/node-server";
import express from "express";
import Fastify from "fastify";
import { Hono } from "hono";
import { afterEach, describe, expect, it } from "vitest";
import { expressMiddleware } from "./express-middleware.ts";
import { fastifyMiddleware } from "./fastify-middleware.ts";
import { honoMiddleware } from "./hono-middleware.ts";
import { nodeMiddleware } from "./node-middleware.ts";
import type { WebMiddleware } from "./web-middleware.ts";

/** Refuses `x-deny` requests with 403; stamps `x-stamped: yes` on every other answer. */
const stamp: WebMiddleware = {
  async handle(request, next) {
    if (request.headers.has("x-deny")) return new Response("denied", { status: 403 });
    const answer = await next(request);
    const stamped = new Response(answer.body, answer);
    stamped.headers.set("x-stamped", "yes");
    return stamped;
  },
};

/** What the routes share: how many ran, and the gate the streaming route waits at. */
class Routes {
  ran = 0;
  #open = (): void => undefined;
  readonly gate = new Promise<void>((resolve) => (this.#open = resolve));
  release(): void {
    this.#open();
  }
}

const COOKIES = ["a=1; HttpOnly", "b=2"];

async function listen(server: Server): Promise<string> {
  if (!server.listening) await once(server.listen(0, "127.0.0.1"), "listening");
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function stopper(server: Server): () => Promise<void> {
  return async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  };
}

/** The routes on a node:http response (Express's and node:http's). */
async function nodeRoute(routes: Routes, path: string, body: string, res: ServerResponse) {
  routes.ran++;
  if (path === "/stream") {
    res.writeHead(200, { "content-type": "text/plain" });
    res.write("first;");
    await routes.gate;
    res.end("second");
    return;
  }
  res.statusCode = 201;
  res.setHeader("set-cookie", COOKIES);
  res.setHeader("content-type", "text/plain");
  res.end(`echo:${body}`);
}

type Mount = (routes: Routes) => Promise<{ url: string; close(): Promise<void> }>;

const FRAMEWORKS: [string, Mount][] = [
  [
    "hono",
    async (routes) => {
      const app = new Hono();
      app.use("*", honoMiddleware(stamp));
      app.post("/echo", async (c) => {
        routes.ran++;
        for (const cookie of COOKIES) c.header("set-cookie", cookie, { append: true });
        return c.text(`echo:${await c.req.text()}`, 201);
      });
      app.get("/stream", (c) => {
        routes.ran++;
        let sent = false;
        const stream = new ReadableStream<Uint8Array>({
          async pull(controller) {
            if (!sent) {
              sent = true;
              controller.enqueue(new TextEncoder().encode("first;"));
              return;
            }
            await routes.gate;
            controller.enqueue(new TextEncoder().encode("second"));
            controller.close();
          },
        });
        return c.body(stream, 200, { "content-type": "text/plain" });
      });
      const server = serveHono({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }) as Server;
      return { url: await listen(server), close: stopper(server) };
    },
  ],
  [
    "express",
    async (routes) => {
      const app = express();
      app.use(expressMiddleware(stamp));
      app.post("/echo", express.text({ type: () => true }), (req, res) => {
        void nodeRoute(routes, "/echo", req.body as string, res);
      });
      app.get("/stream", (_req, res) => void nodeRoute(routes, "/stream", "", res));
      const server = createServer(app);
      return { url: await listen(server), close: stopper(server) };
    },
  ],
  [
    "fastify",
    async (routes) => {
      const app = Fastify();
      await app.register(fastifyMiddleware(stamp));
      app.post("/echo", async (request, reply) => {
        routes.ran++;
        return reply
          .code(201)
          .header("set-cookie", COOKIES)
          .type("text/plain")
          .send(`echo:${JSON.stringify(request.body)}`);
      });
      app.get("/stream", async (_request, reply) => {
        routes.ran++;
        async function* chunks() {
          yield "first;";
          await routes.gate;
          yield "second";
        }
        return reply.type("text/plain").send(Readable.from(chunks()));
      });
      await app.listen({ port: 0, host: "127.0.0.1" });
      return { url: await listen(app.server), close: () => app.close() };
    },
  ],
  [
    "fastify (onRequest)",
    async (routes) => {
      const app = Fastify();
      await app.register(fastifyMiddleware(stamp, { hook: "onRequest" }));
      app.post("/echo", async (request, reply) => {
        routes.ran++;
        return reply
          .code(201)
          .header("set-cookie", COOKIES)
          .type("text/plain")
          .send(`echo:${JSON.stringify(request.body)}`);
      });
      app.get("/stream", async (_request, reply) => {
        routes.ran++;
        async function* chunks() {
          yield "first;";
          await routes.gate;
          yield "second";
        }
        return reply.type("text/plain").send(Readable.from(chunks()));
      });
      await app.listen({ port: 0, host: "127.0.0.1" });
      return { url: await listen(app.server), close: () => app.close() };
    },
  ],
  [
    "node",
    async (routes) => {
      const server = createServer(
        nodeMiddleware(stamp, async (req, res) => {
          let body = "";
          for await (const chunk of req) body += String(chunk);
          await nodeRoute(routes, new URL(req.url ?? "/", "http://x").pathname, body, res);
        }),
      );
      return { url: await listen(server), close: stopper(server) };
    },
  ],
];

let routes: Routes;
let stop: (() => Promise<void>) | undefined;
afterEach(async () => {
  routes?.release();
  await stop?.();
  stop = undefined;
});

describe.each(FRAMEWORKS)("a web middleware on %s", (_name, mount) => {
  async function start(): Promise<string> {
    routes = new Routes();
    const server = await mount(routes);
    stop = server.close;
    return server.url;
  }

  it("hands the route's answer to the middleware and sends what it returns, cookies and all", async () => {
    const url = await start();
    const answer = await fetch(`${url}/echo`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"a":1}',
    });
    expect(answer.status).toBe(201);
    expect(answer.headers.get("x-stamped")).toBe("yes");
    expect(answer.headers.getSetCookie()).toEqual(COOKIES);
    expect(answer.headers.get("content-type")).toMatch(/^text\/plain/);
    expect(await answer.text()).toBe('echo:{"a":1}');
    expect(routes.ran).toBe(1);
  });

  it("streams a streamed answer: its first chunk arrives while the route still runs", async () => {
    const url = await start();
    const answer = await fetch(`${url}/stream`);
    expect(answer.status).toBe(200);
    expect(answer.headers.get("x-stamped")).toBe("yes");
    const reader = answer.body!.pipeThrough(new TextDecoderStream()).getReader();
    expect((await reader.read()).value).toBe("first;");
    routes.release();
    let rest = "";
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
      rest += chunk.value;
    }
    expect(rest).toBe("second");
  });

  it("sends the middleware's own answer without running the route", async () => {
    const url = await start();
    const denied = await fetch(`${url}/echo`, {
      method: "POST",
      headers: { "x-deny": "1", "content-type": "application/json" },
      body: "{}",
    });
    expect(denied.status).toBe(403);
    expect(await denied.text()).toBe("denied");
    expect(routes.ran).toBe(0);
  });
});

describe("on Fastify in its onRequest hook", () => {
  it("a middleware that reads the body leaves it to Fastify's parser, as sent", async () => {
    const reading: WebMiddleware = {
      async handle(request, next) {
        const read = await request.text();
        const answer = await next(request);
        const stamped = new Response(answer.body, answer);
        stamped.headers.set("x-read", read);
        return stamped;
      },
    };
    const app = Fastify();
    await app.register(fastifyMiddleware(reading, { hook: "onRequest" }));
    app.post("/echo", async (request, reply) => reply.send({ parsed: request.body }));
    await app.listen({ port: 0, host: "127.0.0.1" });
    stop = () => app.close();
    const answer = await fetch(`${await listen(app.server)}/echo`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"a":1}',
    });
    expect(answer.headers.get("x-read")).toBe('{"a":1}');
    expect(await answer.json()).toEqual({ parsed: { a: 1 } });
  });
});

describe("on Express after a body parser", () => {
  it("the middleware reads the parsed body as bytes, and the route runs with req.body", async () => {
    let read = "";
    const reading: WebMiddleware = {
      async handle(request, next) {
        read = await request.text();
        return await next(request);
      },
    };
    const app = express();
    // The parser reads the body to its end before the adapter (the message is then destroyed):
    // the client is still there, so the route runs.
    app.use(express.json());
    app.use(expressMiddleware(reading));
    app.post("/echo", (req, res) => void res.status(201).json({ parsed: req.body as unknown }));
    const server = createServer(app);
    stop = stopper(server);
    const answer = await fetch(`${await listen(server)}/echo`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{ "a": 1 }',
    });
    expect(answer.status).toBe(201);
    expect(await answer.json()).toEqual({ parsed: { a: 1 } });
    expect(read).toBe('{"a":1}');
  });
});
