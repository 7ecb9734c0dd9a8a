/**
 * A web middleware as a Fastify plugin (issue 13): `fastify.register(fastifyMiddleware(mw))`.
 * Fastify is not a dependency: the plugin takes the few members it uses, which Fastify's types
 * have.
 *
 * Fastify runs a route through hooks, not around a `next`, so the middleware runs in two halves
 * (`aroundRoute`): in a `preHandler` hook (after Fastify has parsed and validated the body; or,
 * with `hook: "onRequest"`, before it reads the body) up to its `next`, where it either answers
 * (a replay, a `409`, a `429`: sent, the route does not run) or lets the route run; then in an
 * `onSend` hook, which hands the route's reply (status, headers, payload) to the middleware's
 * `next` and sends what the middleware returns. An `onError` hook tells a route that threw from
 * one that answered: the middleware's `next` throws.
 *
 * The plugin is not encapsulated (it sets `skip-override`, as `fastify-plugin` does): its hooks
 * apply to the routes of the scope it is registered in, the whole app when registered on it.
 */
import type { IncomingMessage } from "node:http";
import { Readable } from "node:stream";
import { bodyContent } from "../exchange/body-bytes.ts";
import { nodeHeaders, toWebRequest } from "../exchange/node-exchange.ts";
import { aroundRoute, type AroundRoute, type WebMiddleware } from "./web-middleware.ts";

/** What the plugin reads of Fastify's request. */
export interface FastifyRequestLike {
  /** The node:http message. */
  raw: IncomingMessage;
  /** What Fastify's content-type parser made of the body. */
  body?: unknown;
}

/** What the plugin uses of Fastify's reply. */
export interface FastifyReplyLike {
  readonly statusCode: number;
  code(statusCode: number): unknown;
  header(name: string, value: string | string[]): unknown;
  getHeaders(): Record<string, number | string | string[] | undefined>;
  removeHeader(name: string): unknown;
  send(payload?: unknown): unknown;
}

/** What the plugin uses of a Fastify instance: its hooks. */
export interface FastifyHooksLike {
  addHook(
    name: "preHandler" | "onRequest",
    hook: (request: FastifyRequestLike, reply: FastifyReplyLike) => Promise<unknown>,
  ): unknown;
  addHook(
    name: "onSend",
    hook: (
      request: FastifyRequestLike,
      reply: FastifyReplyLike,
      payload: unknown,
    ) => Promise<unknown>,
  ): unknown;
  addHook(
    name: "onError",
    hook: (request: FastifyRequestLike, reply: FastifyReplyLike, error: Error) => Promise<unknown>,
  ): unknown;
}

/** Options of `fastifyMiddleware`. */
export interface FastifyMiddlewareOptions {
  /**
   * The Fastify hook the middleware's first half runs in. `"preHandler"` (the default): after
   * Fastify has parsed and validated the body, which the middleware sees as parsed (the
   * idempotency middleware's fingerprint needs it; a request refused by validation never reaches
   * the middleware). `"onRequest"`: as soon as the request is routed, before its body is read, so
   * a middleware that refuses (a `429`) does so before Fastify reads and parses a body for
   * nothing; what the middleware reads of the body is put back for Fastify's parser. Suits a
   * middleware that does not read the body (rate limiting).
   */
  hook?: "preHandler" | "onRequest";
}

/** A Fastify plugin (`FastifyPluginCallback`), typed without Fastify. */
export type FastifyMiddlewarePlugin = (
  instance: FastifyHooksLike,
  options: unknown,
  done: (error?: Error) => void,
) => void;

/**
 * `middleware` as a Fastify plugin, run in `options.hook` (default `preHandler`). There the
 * middleware sees the body as Fastify parsed it, as bytes: JSON serialised again (equal JSON,
 * equal bytes), text as UTF-8, a `Buffer` as is; a parsed value of another kind (a form
 * plugin's object) is refused with `500` and the fix. A route that throws is answered by
 * Fastify's error handler; the middleware's `next` throws (the idempotency middleware frees the
 * key, so a retry runs the route again).
 *
 * @example
 * const idempotency = await createIdempotency({ store: "sqlite:./idem.db", principal: () => "anonymous" });
 * const app = Fastify();
 * await app.register(fastifyMiddleware(idempotency));
 * app.post("/orders", async (request, reply) => reply.code(201).send({ id: 1 }));
 */
export function fastifyMiddleware(
  middleware: WebMiddleware,
  options: FastifyMiddlewareOptions = {},
): FastifyMiddlewarePlugin {
  const hook = options.hook ?? "preHandler";
  const running = new WeakMap<FastifyRequestLike, AroundRoute>();
  const plugin: FastifyMiddlewarePlugin = (instance, _options, done) => {
    instance.addHook(hook, async (request, reply) => {
      const webRequest = await toWebRequest(
        request.raw,
        hook === "onRequest" ? { putBodyBack: true } : { parsedBody: request.body },
      );
      if (webRequest instanceof Response) return reply.send(webRequest);
      const around = aroundRoute(middleware, webRequest);
      const first = await around.firstHalf;
      if (first.kind === "answered") return reply.send(first.response);
      running.set(request, around);
      return undefined;
    });
    instance.addHook("onError", (request, _reply, error) => {
      const around = running.get(request);
      running.delete(request);
      // The middleware's `next` throws the route's error; its own rethrow is not ours to report.
      around?.routeAnswered(Promise.reject(error)).catch(() => undefined);
      return Promise.resolve();
    });
    instance.addHook("onSend", async (request, reply, payload) => {
      const around = running.get(request);
      if (around === undefined) return payload;
      running.delete(request);
      const answer = await around.routeAnswered(Promise.resolve(replyResponse(reply, payload)));
      return await sendAnswer(reply, answer);
    });
    done();
  };
  // Fastify's way to add hooks to the scope the plugin is registered in (fastify-plugin sets it).
  Object.assign(plugin, {
    [Symbol.for("skip-override")]: true,
    [Symbol.for("fastify.display-name")]: "steadfast-middleware",
  });
  return plugin;
}

// RFC 9110 section 6.4.1: no content with these statuses.
const BODILESS: ReadonlySet<number> = new Set([204, 205, 304]);

/** The route's reply as a `Response`: its status, the reply's headers, and `payload`. */
function replyResponse(reply: FastifyReplyLike, payload: unknown): Response {
  const headers = new Headers();
  for (const [name, value] of Object.entries(reply.getHeaders())) {
    if (value === undefined || name === "content-length" || name === "transfer-encoding") continue;
    for (const one of Array.isArray(value) ? value : [value]) headers.append(name, String(one));
  }
  let status = reply.statusCode;
  let body: BodyInit | null = null;
  if (payload instanceof Response) {
    // A route may send a web Response: Fastify takes its status and headers after the hooks.
    status = payload.status;
    for (const [name, value] of payload.headers) headers.set(name, value);
    body = payload.body;
  } else if (typeof payload === "string" || payload instanceof Uint8Array) {
    body = typeof payload === "string" ? payload : new Uint8Array(payload);
  } else if (payload instanceof ReadableStream) {
    body = payload as ReadableStream<Uint8Array>;
  } else if (payload instanceof Readable) {
    body = Readable.toWeb(payload) as ReadableStream<Uint8Array>;
  }
  return new Response(BODILESS.has(status) ? null : body, { status, headers });
}

/**
 * Makes `reply` the middleware's `answer` (its status and exactly its headers) and returns the
 * payload to send: its bytes, its stream, or nothing.
 */
async function sendAnswer(reply: FastifyReplyLike, answer: Response): Promise<unknown> {
  reply.code(answer.status);
  const wanted = nodeHeaders(answer);
  delete wanted["content-length"];
  for (const name of Object.keys(reply.getHeaders())) reply.removeHeader(name);
  for (const [name, value] of Object.entries(wanted)) reply.header(name, value);
  const content = await bodyContent(answer);
  if (content.type === "none") return null;
  if (content.type === "stream") return content.stream;
  const { buffer, byteOffset, byteLength } = content.bytes;
  return Buffer.from(buffer, byteOffset, byteLength);
}
