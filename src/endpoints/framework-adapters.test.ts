import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { serve as serveHono } from "@hono/node-server";
import express from "express";
import Fastify from "fastify";
import { Hono } from "hono";
import { afterEach, describe, expect, it } from "vitest";
import { tenantId } from "../core/ids.ts";
import { harness, type Harness } from "../engine/engine-harness.test-support.ts";
import type { DurableEndpoint } from "../engine/endpoints/durable-endpoint.ts";
import { toExpressHandler } from "./express-adapter.ts";
import { keepRawBodies, toFastifyHandler } from "./fastify-adapter.ts";

/** A framework serving an endpoint on 127.0.0.1, port 0: its base URL, its path, and how to stop. */
interface Mounted {
  base: string;
  path: string;
  close(): Promise<void>;
}
type Mount = (endpoint: DurableEndpoint) => Promise<Mounted>;

async function listenNode(server: Server): Promise<string> {
  if (!server.listening) await once(server.listen(0, "127.0.0.1"), "listening");
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function closeNode(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}

const FRAMEWORKS: [string, Mount][] = [
  [
    "Express, under a mounted router, no body parser",
    async (endpoint) => {
      const router = express.Router();
      router.post("/chat", toExpressHandler(endpoint)).get("/chat", toExpressHandler(endpoint));
      const server = createServer(express().use("/api", router));
      return { base: await listenNode(server), path: "/api/chat", close: () => closeNode(server) };
    },
  ],
  [
    "Express after express.json()",
    async (endpoint) => {
      const app = express().use(express.json());
      app.post("/chat", toExpressHandler(endpoint)).get("/chat", toExpressHandler(endpoint));
      const server = createServer(app);
      return { base: await listenNode(server), path: "/chat", close: () => closeNode(server) };
    },
  ],
  [
    "Fastify, its default parsers",
    async (endpoint) => {
      const app = Fastify();
      app.route({ method: ["GET", "POST"], url: "/chat", handler: toFastifyHandler(endpoint) });
      await app.listen({ port: 0, host: "127.0.0.1" });
      return { base: await listenNode(app.server), path: "/chat", close: () => app.close() };
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
      return { base: await listenNode(app.server), path: "/chat", close: () => app.close() };
    },
  ],
  [
    "Hono on @hono/node-server",
    async (endpoint) => {
      const app = new Hono();
      app.post("/chat", (c) => endpoint(c.req.raw)).get("/chat", (c) => endpoint(c.req.raw));
      const server = serveHono({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }) as Server;
      return { base: await listenNode(server), path: "/chat", close: () => closeNode(server) };
    },
  ],
];

let h: Harness | undefined;
let mounted: Mounted | undefined;
afterEach(async () => {
  await mounted?.close();
  mounted = undefined;
  await h?.cleanup();
  h = undefined;
});

function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
}

/** A "chat" endpoint of two steps on `mount`, counting each step's runs; `failAnswer` first attempts fail. */
async function chat(mount: Mount, options: { failAnswer?: number } = {}) {
  h = await harness([]);
  const ran = { plan: 0, answer: 0 };
  const bodies: string[] = [];
  const endpoint = h.sf.endpoint("chat", async (req, { step }) => {
    const text = await req.text();
    bodies.push(text);
    const { question } = JSON.parse(text) as { question: string };
    const plan = await step.run("plan", () => {
      ran.plan++;
      return `plan for ${question}`;
    });
    const answer = await step.run("answer", () => {
      ran.answer++;
      if (ran.answer <= (options.failAnswer ?? 0)) throw new Error(`llm down ${ran.answer}`);
      return `${plan}: 42`;
    });
    return Response.json({ answer }, { status: 201 });
  });
  mounted = await mount(endpoint);
  return { clock: h.clock, ran, bodies, url: `${mounted.base}${mounted.path}?lang=en` };
}

describe.each(FRAMEWORKS)("durable endpoints on %s", (_name, mount) => {
  it("answers a POST with a JSON body after two steps", async () => {
    const { ran, bodies, url } = await chat(mount);
    const response = await post(url, { question: "life" });
    expect(response.status).toBe(201);
    expect(response.headers.get("content-type")).toBe("application/json");
    expect(await response.json()).toEqual({ answer: "plan for life: 42" });
    expect(ran).toEqual({ plan: 1, answer: 1 });
    expect(bodies).toEqual(['{"question":"life"}']);
  });

  it("hands a failing step off with 202 and a Location the same route answers with the final response", async () => {
    const { clock, ran, url } = await chat(mount, { failAnswer: 1 });
    const handed = await post(url, { question: "life" });
    expect(handed.status).toBe(202);
    const location = handed.headers.get("location")!;
    expect(location.startsWith(`${url}&steadfast_run=run_`)).toBe(true);
    expect(ran).toEqual({ plan: 1, answer: 1 });

    await clock.advance(1_000);
    const final = await fetch(location);
    expect(final.status).toBe(201);
    expect(await final.json()).toEqual({ answer: "plan for life: 42" });
    expect(ran).toEqual({ plan: 1, answer: 2 });
  });

  it("replays a request with the same Idempotency-Key without running its steps again", async () => {
    const { ran, url } = await chat(mount);
    const first = await post(url, { question: "life" }, { "idempotency-key": "k-1" });
    expect(first.status).toBe(201);
    const second = await post(url, { question: "life" }, { "idempotency-key": "k-1" });
    expect(second.status).toBe(201);
    expect(await second.json()).toEqual({ answer: "plan for life: 42" });
    expect(ran).toEqual({ plan: 1, answer: 1 });
  });
});

/** An "echo" endpoint answering the body it was given, as text, with its content type. */
async function echo(serveWith: (endpoint: DurableEndpoint) => Promise<Mounted>) {
  h = await harness([]);
  const endpoint = h.sf.endpoint("echo", async (req) => {
    const type = req.headers.get("content-type") ?? "none";
    return new Response(`${type}|${await req.text()}`);
  });
  mounted = await serveWith(endpoint);
  return `${mounted.base}${mounted.path}`;
}

function send(url: string, type: string, body: string): Promise<Response> {
  return fetch(url, { method: "POST", headers: { "content-type": type }, body });
}

const SPACED_JSON = '{ "question" : "life" }';
const FORM = "a=1&b=two+words";

describe("the body a framework's parser already read", () => {
  it("Express without a parser: the bytes as sent", async () => {
    const url = await echo(async (endpoint) => {
      const server = createServer(express().post("/echo", toExpressHandler(endpoint)));
      return { base: await listenNode(server), path: "/echo", close: () => closeNode(server) };
    });
    expect(await (await send(url, "application/json", SPACED_JSON)).text()).toBe(
      `application/json|${SPACED_JSON}`,
    );
  });

  it("Express after express.json(): the JSON serialised again; after express.raw(): the bytes as sent", async () => {
    const url = await echo(async (endpoint) => {
      const app = express();
      app.post("/echo", express.json(), toExpressHandler(endpoint));
      app.post("/raw", express.raw({ type: "*/*" }), toExpressHandler(endpoint));
      const server = createServer(app);
      return { base: await listenNode(server), path: "", close: () => closeNode(server) };
    });
    const json = await send(`${url}/echo`, "application/json", SPACED_JSON);
    expect(await json.text()).toBe('application/json|{"question":"life"}');
    const raw = await send(`${url}/raw`, "application/x-www-form-urlencoded", FORM);
    expect(await raw.text()).toBe(`application/x-www-form-urlencoded|${FORM}`);
  });

  it("Express after express.urlencoded(): the form cannot be rebuilt, next(error) answers 500 and the endpoint never runs", async () => {
    const url = await echo(async (endpoint) => {
      const app = express();
      app.post("/echo", express.urlencoded(), toExpressHandler(endpoint));
      const server = createServer(app);
      return { base: await listenNode(server), path: "/echo", close: () => closeNode(server) };
    });
    const response = await send(url, "application/x-www-form-urlencoded", FORM);
    expect(response.status).toBe(500);
    expect(
      await h!.sf.store.listRuns({ tenantId: tenantId("default"), workflow: "echo", limit: 10 }),
    ).toEqual([]);
  });

  it("Fastify: JSON serialised again by default, any body as sent with keepRawBodies", async () => {
    const url = await echo(async (endpoint) => {
      const app = Fastify();
      app.post("/echo", toFastifyHandler(endpoint));
      await app.register((scope) => {
        keepRawBodies(scope);
        scope.post("/raw", toFastifyHandler(endpoint));
        return Promise.resolve();
      });
      await app.listen({ port: 0, host: "127.0.0.1" });
      return { base: await listenNode(app.server), path: "", close: () => app.close() };
    });
    const json = await send(`${url}/echo`, "application/json", SPACED_JSON);
    expect(await json.text()).toBe('application/json|{"question":"life"}');
    // Fastify has no form parser: refused before the endpoint, unless the scope keeps raw bodies.
    expect((await send(`${url}/echo`, "application/x-www-form-urlencoded", FORM)).status).toBe(415);
    const rawJson = await send(`${url}/raw`, "application/json", SPACED_JSON);
    expect(await rawJson.text()).toBe(`application/json|${SPACED_JSON}`);
    const form = await send(`${url}/raw`, "application/x-www-form-urlencoded", FORM);
    expect(await form.text()).toBe(`application/x-www-form-urlencoded|${FORM}`);
  });
});
