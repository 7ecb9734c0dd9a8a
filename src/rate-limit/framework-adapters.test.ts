// The rate limit on Hono, Express, Fastify (in its preHandler and its onRequest hook) and
// node:http through its adapters, end to end over real HTTP on 127.0.0.1 port 0 with the real
// frameworks (issue 13): allowed answers carry RateLimit-Policy and RateLimit, the request over
// the limit gets 429 problem+json with Retry-After and the route does not run; the route reads
// the body as sent.
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { serve as serveHono } from "@hono/node-server";
import express from "express";
import Fastify from "fastify";
import { Hono } from "hono";
import { afterEach, describe, expect, it } from "vitest";
import { FakeClock } from "../testing/fake-clock.ts";
import { createRateLimit, type RateLimit } from "./create-rate-limit.ts";
import {
  expressRateLimit,
  fastifyRateLimit,
  honoRateLimit,
  nodeRateLimit,
} from "./framework-adapters.ts";
import { memoryTestStore } from "./stores/test-rate-limit-stores.test-support.ts";

/** What the route saw: the bodies it read, and how many bodies Fastify parsed. */
class Seen {
  readonly bodies: unknown[] = [];
  parsed = 0;
  created(body: unknown): { order: number; body: unknown } {
    this.bodies.push(body);
    return { order: this.bodies.length, body };
  }
}

type Mount = (rateLimit: RateLimit, seen: Seen) => Promise<Server>;

const ADAPTERS: [string, Mount][] = [
  [
    "hono",
    (rateLimit, seen) => {
      const app = new Hono();
      app.use("/orders/*", honoRateLimit(rateLimit));
      app.post("/orders", async (c) => c.json(seen.created(await c.req.json()), 201));
      return Promise.resolve(
        serveHono({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }) as Server,
      );
    },
  ],
  [
    "express",
    (rateLimit, seen) => {
      const app = express();
      app.use("/orders", expressRateLimit(rateLimit));
      app.post("/orders", express.json(), (req, res) => {
        res.status(201).json(seen.created(req.body));
      });
      return Promise.resolve(createServer(app));
    },
  ],
  ...(["preHandler", "onRequest"] as const).map((hook): [string, Mount] => [
    `fastify (${hook})`,
    async (rateLimit, seen) => {
      const app = Fastify();
      app.addHook("preParsing", (_request, _reply, payload, done) => {
        seen.parsed++;
        done(null, payload);
      });
      await app.register(fastifyRateLimit(rateLimit, { hook }));
      app.post("/orders", async (request, reply) =>
        reply.code(201).send(seen.created(request.body)),
      );
      await app.ready();
      return app.server;
    },
  ]),
  [
    "node",
    (rateLimit, seen) =>
      Promise.resolve(
        createServer(
          nodeRateLimit(rateLimit, async (req, res) => {
            let text = "";
            for await (const chunk of req) text += String(chunk);
            res.writeHead(201, { "content-type": "application/json" });
            res.end(JSON.stringify(seen.created(JSON.parse(text))));
          }),
        ),
      ),
  ],
];

let cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  cleanups = [];
});

describe.each(ADAPTERS)("rate limiting on %s", (name, mount) => {
  async function start(): Promise<{ seen: Seen; post: (n: number) => Promise<Response> }> {
    const buckets = await memoryTestStore();
    cleanups.push(buckets.cleanup);
    const rateLimit = await createRateLimit({
      store: buckets.store,
      key: (req) => req.headers.get("authorization") ?? undefined,
      limit: 2,
      window: "1m",
      clock: new FakeClock(),
      purgeIntervalMs: 0,
    });
    cleanups.push(() => rateLimit.close());
    const seen = new Seen();
    const server = await mount(rateLimit, seen);
    if (!server.listening) await once(server.listen(0, "127.0.0.1"), "listening");
    cleanups.push(async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    });
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/orders`;
    const post = (n: number): Promise<Response> =>
      fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: "Bearer alice" },
        body: JSON.stringify({ n }),
      });
    return { seen, post };
  }

  it("puts the RateLimit fields on allowed answers and answers 429 with Retry-After over the limit", async () => {
    const { seen, post } = await start();
    const first = await post(1);
    expect(first.status).toBe(201);
    expect(first.headers.get("ratelimit-policy")).toBe('"default";q=2;w=60');
    expect(first.headers.get("ratelimit")).toMatch(/^"default";r=1;t=\d+$/);
    expect(first.headers.get("retry-after")).toBeNull();
    expect(await first.json()).toEqual({ order: 1, body: { n: 1 } });
    const second = await post(2);
    expect(second.status).toBe(201);
    expect(second.headers.get("ratelimit")).toMatch(/^"default";r=0;t=\d+$/);
    await second.body?.cancel();

    const refused = await post(3);
    expect(refused.status).toBe(429);
    expect(refused.headers.get("content-type")).toBe("application/problem+json");
    expect(refused.headers.get("retry-after")).toMatch(/^[1-9]\d*$/);
    expect(refused.headers.get("ratelimit-policy")).toBe('"default";q=2;w=60');
    expect(refused.headers.get("ratelimit")).toMatch(/^"default";r=0;t=[1-9]\d*$/);
    expect(((await refused.json()) as { code: string }).code).toBe("rate_limited");
    // The route ran for the two allowed requests only, and read their bodies as sent.
    expect(seen.bodies).toEqual([{ n: 1 }, { n: 2 }]);
    // In onRequest, the refused request's body is never read: Fastify parses two bodies, not three.
    if (name.startsWith("fastify")) expect(seen.parsed).toBe(name.includes("onRequest") ? 2 : 3);
  });
});
