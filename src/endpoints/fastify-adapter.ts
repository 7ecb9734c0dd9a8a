/**
 * A durable endpoint (or any web-standard `(Request) => Promise<Response>` handler) as a Fastify
 * route handler, and `keepRawBodies`, which makes Fastify hand it the body as sent. Fastify is not
 * a dependency: both take the few members they use, which Fastify's types have.
 *
 * The request is converted from `request.raw` (the node:http message) by the conversion the other
 * adapters share. The response goes back through `reply.send(response)` (Fastify sends a web
 * `Response` itself) rather than written to `reply.raw`: so headers that Fastify plugins set on
 * the reply (`@fastify/cors`), its `onSend` and `onResponse` hooks, and its logging still apply.
 */
import type { IncomingMessage } from "node:http";
import type { DurableEndpoint } from "../engine/endpoints/durable-endpoint.ts";
import { toWebRequest } from "./node-exchange.ts";

/** What the adapter reads of Fastify's request: the node:http message and the parsed body. */
export interface FastifyRequestLike {
  /** The node:http message. */
  raw: IncomingMessage;
  /** What Fastify's content-type parser made of the body. */
  body?: unknown;
}

/** What the adapter uses of Fastify's reply. */
export interface FastifyReplyLike {
  /** Sends a payload; Fastify takes a web `Response` (status, headers, body). */
  send(payload: Response): unknown;
}

/** A Fastify route handler, typed without Fastify. */
export type FastifyHandler = (
  request: FastifyRequestLike,
  reply: FastifyReplyLike,
) => Promise<unknown>;

/**
 * `endpoint` as a Fastify route handler (mount it for `POST` and `GET`: the `GET` answers the
 * handoff location). A malformed `Host` gets `400`. Fastify parses bodies before the handler:
 * with `keepRawBodies` on the route's scope the endpoint gets the bytes as sent; without it, a
 * JSON body is serialised again and a text body encoded as UTF-8, and a body Fastify has no
 * parser for is refused by Fastify (`415`) before the endpoint sees it.
 *
 * @example
 * const chat = steadfast.endpoint("chat", async (req, { step }) => Response.json(await step.run("a", () => 1)));
 * await app.register(async (scope) => {
 *   keepRawBodies(scope);
 *   scope.route({ method: ["GET", "POST"], url: "/chat", handler: toFastifyHandler(chat) });
 * });
 */
export function toFastifyHandler(endpoint: DurableEndpoint): FastifyHandler {
  return async (request, reply) => {
    const webRequest = await toWebRequest(request.raw, { parsedBody: request.body });
    if (webRequest === null) {
      return reply.send(
        new Response("Malformed request\n", {
          status: 400,
          headers: { "content-type": "text/plain" },
        }),
      );
    }
    return reply.send(await endpoint(webRequest));
  };
}

/** What `keepRawBodies` uses of a Fastify instance (or a plugin's scope). */
export interface FastifyContentTypeParsers {
  /** Removes every content-type parser of this scope, the defaults for JSON and text included. */
  removeAllContentTypeParsers(): unknown;
  /** Adds a parser for `contentType` (`"*"`: any type) that receives the body as a `Buffer`. */
  addContentTypeParser(
    contentType: string,
    options: { parseAs: "buffer" },
    parser: (request: unknown, body: Buffer, done: (error: null, body: Buffer) => void) => void,
  ): unknown;
}

/**
 * Makes Fastify give the routes of `scope` each request's body as the `Buffer` it received,
 * whatever its content type, so a durable endpoint stores and compares the bytes as sent (and
 * accepts form or binary bodies Fastify has no parser for). It replaces every parser of `scope`:
 * call it inside a plugin (`app.register(async (scope) => ...)`) that holds only endpoint routes,
 * so the rest of the app keeps Fastify's JSON parsing. Fastify's `bodyLimit` (1 MiB by default)
 * still applies, before the endpoint's `maxBodyBytes`.
 */
export function keepRawBodies(scope: FastifyContentTypeParsers): void {
  scope.removeAllContentTypeParsers();
  scope.addContentTypeParser("*", { parseAs: "buffer" }, (_request, body, done) => {
    done(null, body);
  });
}
