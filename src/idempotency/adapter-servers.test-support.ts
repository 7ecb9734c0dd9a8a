// An orders API on each framework, behind the idempotency middleware through its adapter, on
// 127.0.0.1 port 0 (issue 13): the adapters' end-to-end tests and the conformance check's tests
// drive the same four servers.
//
// Routes, the same on every framework:
// - `POST /orders`: one effect (counted), held while `orders.hold()` is on; `201` with
//   `{ order, received }` (the body the route read, as text), `Location`, `ETag`, a cookie and a
//   header the middleware does not keep;
// - `POST /orders/fail`: the route throws;
// - `GET /orders`: `200` `listed`, passing through the middleware.
import { once } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { serve as serveHono } from "@hono/node-server";
import express from "express";
import Fastify from "fastify";
import { Hono } from "hono";
import type { Idempotency } from "./create-idempotency.ts";
import {
  expressIdempotency,
  fastifyIdempotency,
  honoIdempotency,
  nodeIdempotency,
} from "./framework-adapters.ts";

/** The route's side effects, and a gate to hold requests in it. */
export class Orders {
  effects = 0;
  held = 0;
  #gate: Promise<void> | undefined;
  #open = (): void => undefined;

  /** From now on the route waits before answering, until `release()`. */
  hold(): void {
    this.#gate = new Promise((resolve) => (this.#open = resolve));
  }

  /** Lets every held (and later) request answer. */
  release(): void {
    this.#open();
    this.#gate = undefined;
  }

  /** One effect: counts it, waits at the gate, and returns the order's number. */
  async effect(): Promise<number> {
    const effect = ++this.effects;
    if (this.#gate !== undefined) {
      this.held++;
      await this.#gate;
      this.held--;
    }
    return effect;
  }
}

/** The `201` headers of order `n`. */
export function orderHeaders(n: number): Record<string, string> {
  return {
    location: `/orders/${n}`,
    etag: `"v${n}"`,
    "set-cookie": `session=s${n}; HttpOnly`,
    "x-handler-only": "not kept",
  };
}

/** A running server: its `/orders` URL, and how to stop it. */
export interface OrdersServer {
  url: string;
  close(): Promise<void>;
}

/** Serves the orders API on one framework behind `idempotency`. */
export type MountOrders = (idempotency: Idempotency, orders: Orders) => Promise<OrdersServer>;

async function listen(server: Server): Promise<string> {
  if (!server.listening) await once(server.listen(0, "127.0.0.1"), "listening");
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/orders`;
}

function closer(server: Server): () => Promise<void> {
  return async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  };
}

function readText(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = "";
    request.setEncoding("utf8");
    request.on("data", (chunk: string) => (text += chunk));
    request.on("end", () => resolve(text));
    request.on("error", reject);
  });
}

async function nodeOrders(orders: Orders, req: IncomingMessage, res: ServerResponse) {
  const path = new URL(req.url ?? "/", "http://x").pathname;
  if (req.method === "GET" && path === "/orders") {
    res.writeHead(200, { "content-type": "text/plain" }).end("listed");
    return;
  }
  if (req.method === "POST" && path === "/orders/fail") throw new Error("the route failed");
  if (req.method !== "POST" || path !== "/orders") {
    res.writeHead(404).end();
    return;
  }
  const received = await readText(req);
  const order = await orders.effect();
  res.statusCode = 201;
  for (const [name, value] of Object.entries(orderHeaders(order))) res.setHeader(name, value);
  res.setHeader("content-type", "application/json");
  res.end(JSON.stringify({ order, received }));
}

/** The four adapters, by framework. */
export const ADAPTERS: Record<string, MountOrders> = {
  hono: async (idempotency, orders) => {
    const app = new Hono();
    app.onError((error, c) => c.text(`failed: ${error.message}`, 500));
    app.use("/orders/*", honoIdempotency(idempotency));
    app.get("/orders", (c) => c.text("listed"));
    app.post("/orders/fail", () => {
      throw new Error("the route failed");
    });
    app.post("/orders", async (c) => {
      const received = await c.req.text();
      const order = await orders.effect();
      for (const [name, value] of Object.entries(orderHeaders(order))) c.header(name, value);
      return c.json({ order, received }, 201);
    });
    const server = serveHono({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }) as Server;
    return { url: await listen(server), close: closer(server) };
  },
  express: async (idempotency, orders) => {
    const app = express();
    app.use("/orders", expressIdempotency(idempotency));
    app.get("/orders", (_req, res) => void res.type("text/plain").send("listed"));
    app.post("/orders/fail", () => {
      throw new Error("the route failed");
    });
    // The route's own parser, after the middleware: it reads the body the middleware put back.
    app.post("/orders", express.json({ type: () => true }), (req, res, next) => {
      orders
        .effect()
        .then((order) => {
          res.status(201).set(orderHeaders(order));
          res.json({ order, received: JSON.stringify(req.body) });
        })
        .catch(next);
    });
    const server = createServer(app);
    return { url: await listen(server), close: closer(server) };
  },
  fastify: async (idempotency, orders) => {
    const app = Fastify();
    await app.register(fastifyIdempotency(idempotency));
    app.get("/orders", async (_request, reply) => reply.type("text/plain").send("listed"));
    app.post("/orders/fail", () => Promise.reject(new Error("the route failed")));
    app.post("/orders", async (request, reply) => {
      const order = await orders.effect();
      return reply
        .code(201)
        .headers(orderHeaders(order))
        .send({ order, received: JSON.stringify(request.body) });
    });
    await app.listen({ port: 0, host: "127.0.0.1" });
    return { url: await listen(app.server), close: () => app.close() };
  },
  node: async (idempotency, orders) => {
    const server = createServer(
      nodeIdempotency(idempotency, (req, res) => nodeOrders(orders, req, res), {
        onError: () => undefined,
      }),
    );
    return { url: await listen(server), close: closer(server) };
  },
};
