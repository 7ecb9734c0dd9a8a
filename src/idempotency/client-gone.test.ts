// A client that goes away while the idempotency middleware waits (here on a slow principal, as
// it would on a slow store), on each framework over real HTTP (issue 13). The bug this guards
// against: on Express, `express.json()` skips a request whose socket has closed, so the route
// ran with `req.body === undefined`, its 500 was stored under the key, and the client's retry
// got that 500 replayed. Whatever the framework, the retry must get the route's real answer.
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import { connect, type AddressInfo, type Socket } from "node:net";
import { serve as serveHono } from "@hono/node-server";
import express from "express";
import Fastify from "fastify";
import { Hono } from "hono";
import { afterEach, describe, expect, it } from "vitest";
import { expressMiddleware } from "../middleware/express-middleware.ts";
import { fastifyMiddleware } from "../middleware/fastify-middleware.ts";
import { honoMiddleware } from "../middleware/hono-middleware.ts";
import { nodeMiddleware } from "../middleware/node-middleware.ts";
import type { WebMiddleware } from "../middleware/web-middleware.ts";
import { FakeClock } from "../testing/fake-clock.ts";
import { createIdempotency, type Idempotency } from "./create-idempotency.ts";
import { sqliteTestStore, type TestStore } from "./stores/test-stores.test-support.ts";

const ORDER = '{"sku":"A-1","quantity":2}';

/** What a route saw: how many times it ran, and the bodies it read. */
class Effects {
  readonly bodies: unknown[] = [];
  answer(body: unknown): { order: number; body: unknown } {
    this.bodies.push(body);
    return { order: this.bodies.length, body };
  }
}

/** An answer the route gives when its body is missing: what Express's stored 500 came from. */
function orderOf(body: unknown): unknown {
  if (body === undefined || body === null || body === "") throw new Error("no body");
  return body;
}

type Mount = (middleware: WebMiddleware, effects: Effects) => Server | Promise<Server>;

// Whether the route runs for the gone client: not on Express and node:http (the adapter does not
// run it), on Hono and Fastify (the body was read before the middleware waited; the answer is
// stored and replayed).
const FRAMEWORKS: [string, boolean, Mount][] = [
  [
    "express",
    false,
    (middleware, effects) => {
      const app = express();
      app.use("/orders", expressMiddleware(middleware));
      app.post("/orders", express.json(), (req, res) => {
        res.status(201).json(effects.answer(orderOf(req.body)));
      });
      return createServer(app);
    },
  ],
  [
    "node",
    false,
    (middleware, effects) =>
      createServer(
        nodeMiddleware(
          middleware,
          async (req, res) => {
            let text = "";
            for await (const chunk of req) text += String(chunk);
            const body = JSON.parse(orderOf(text) as string) as unknown;
            res.writeHead(201, { "content-type": "application/json" });
            res.end(JSON.stringify(effects.answer(body)));
          },
          { onError: () => undefined },
        ),
      ),
  ],
  [
    "hono",
    true,
    (middleware, effects) => {
      const app = new Hono();
      app.use("/orders", honoMiddleware(middleware));
      app.post("/orders", async (c) => c.json(effects.answer(orderOf(await c.req.json())), 201));
      return serveHono({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }) as Server;
    },
  ],
  [
    "fastify",
    true,
    async (middleware, effects) => {
      const app = Fastify();
      await app.register(fastifyMiddleware(middleware));
      app.post("/orders", async (request, reply) =>
        reply.code(201).send(effects.answer(orderOf(request.body))),
      );
      await app.ready();
      return app.server;
    },
  ],
];

let cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  cleanups = [];
});

describe.each(FRAMEWORKS)(
  "on %s, a client gone while the middleware waits",
  (_name, runsRoute, mount) => {
    it("leaves nothing stored under its key: the retry gets the route's real answer", async () => {
      const records: TestStore = await sqliteTestStore();
      cleanups.push(records.cleanup);
      let entered = (): void => undefined;
      const inPrincipal = new Promise<void>((resolve) => (entered = resolve));
      let open = (): void => undefined;
      const gate = new Promise<void>((resolve) => (open = resolve));
      const idempotency: Idempotency = await createIdempotency({
        store: records.store,
        // The first request waits here (as on a slow store) until its client has gone.
        principal: async () => {
          entered();
          await gate;
          return "anonymous";
        },
        clock: new FakeClock(),
        purgeIntervalMs: 0,
      });
      cleanups.push(() => idempotency.close());
      const handled: Promise<unknown>[] = [];
      const watched: WebMiddleware = {
        handle(request, next) {
          const answer = idempotency.handle(request, next);
          handled.push(answer.catch(() => undefined));
          return answer;
        },
      };
      const effects = new Effects();
      const server = await mount(watched, effects);
      const closed: Promise<unknown>[] = [];
      server.on("connection", (socket: Socket) => closed.push(once(socket, "close")));
      if (!server.listening) await once(server.listen(0, "127.0.0.1"), "listening");
      cleanups.push(async () => {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      });
      const { port } = server.address() as AddressInfo;

      const client = connect(port, "127.0.0.1");
      await once(client, "connect");
      client.write(
        "POST /orders HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" +
          `Content-Length: ${ORDER.length}\r\nIdempotency-Key: "gone-1"\r\n\r\n${ORDER}`,
      );
      await inPrincipal;
      client.destroy();
      await closed[0];
      open();
      await Promise.all(handled);

      const retry = await fetch(`http://127.0.0.1:${port}/orders`, {
        method: "POST",
        headers: { "content-type": "application/json", "idempotency-key": '"gone-1"' },
        body: ORDER,
      });
      expect(retry.status).toBe(201);
      const answer = (await retry.json()) as { order: number; body: unknown };
      expect(answer.body).toEqual(JSON.parse(ORDER));
      expect(retry.headers.get("idempotent-replayed")).toBe(runsRoute ? "true" : null);
      // The route ran once, with the body.
      expect(effects.bodies).toEqual([JSON.parse(ORDER)]);
    });
  },
);
