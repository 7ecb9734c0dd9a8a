/**
 * A durable endpoint (or any web-standard `(Request) => Promise<Response>` handler) as a Fastify
 * route handler, and `keepRawBodies`, which makes Fastify hand it the body as sent. Fastify is not
 * a dependency: both take the few members they use, which Fastify's types have.
 *
 * The request is converted from `request.raw` (the node:http message) by the conversion the other
 * adapters share. The response goes back through the reply (`reply.code`, `reply.header`,
 * `reply.send`) rather than written to `reply.raw`: so headers that Fastify plugins set on the
 * reply (`@fastify/cors`), its `onSend` and `onResponse` hooks, and its logging still apply. A
 * complete body is sent as one `Buffer` (Fastify writes it at once, with its length), a streaming
 * one as its web stream (Fastify pipes it, with backpressure, and cancels it when the client
 * goes away).
 */
import type { IncomingMessage } from "node:http";
import { Readable } from "node:stream";
import { bodyContent } from "../exchange/body-bytes.ts";
import { toEndpointRequest, type WebHandler } from "./endpoint-request.ts";

/** What the adapter reads of Fastify's request: the node:http message and the parsed body. */
export interface FastifyRequestLike {
  /** The node:http message. */
  raw: IncomingMessage;
  /** What Fastify's content-type parser made of the body (`keepRawBodies`: the unread stream). */
  body?: unknown;
}

/** What the adapter uses of Fastify's reply. */
export interface FastifyReplyLike {
  /** Sets the status. */
  code(statusCode: number): unknown;
  /** Sets a header (`Set-Cookie` given again adds a field). */
  header(name: string, value: string): unknown;
  /** Sends the payload: a `Buffer`, a web stream, or nothing. */
  send(payload?: Buffer | ReadableStream<Uint8Array>): unknown;
}

/** A Fastify route handler, typed without Fastify. */
export type FastifyHandler = (
  request: FastifyRequestLike,
  reply: FastifyReplyLike,
) => Promise<unknown>;

/**
 * `endpoint` as a Fastify route handler (mount it for `POST` and `GET`: the `GET` answers the
 * handoff location). A malformed `Host` gets `400`. Fastify parses bodies before the handler:
 * with `keepRawBodies` on the route's scope the endpoint gets the bytes as sent, read by the
 * adapter with the endpoint's `maxBodyBytes` (a body over it gets `413` problem+json as soon as
 * it passes it, at once when its `Content-Length` does); without it, Fastify reads the body
 * within its `bodyLimit`, a JSON body is serialised again and a text body encoded as UTF-8, and
 * a body Fastify has no parser for is refused by Fastify (`415`) before the endpoint sees it.
 *
 * @example
 * const chat = steadfast.endpoint("chat", async (req, { step }) => Response.json(await step.run("a", () => 1)));
 * await app.register(async (scope) => {
 *   keepRawBodies(scope);
 *   scope.route({ method: ["GET", "POST"], url: "/chat", handler: toFastifyHandler(chat) });
 * });
 */
export function toFastifyHandler(endpoint: WebHandler): FastifyHandler {
  return async (request, reply) => {
    const unread = request.body instanceof Readable ? request.body : undefined;
    const webRequest = await toEndpointRequest(request.raw, endpoint, {
      parsedBody: unread === undefined ? request.body : undefined,
      body: unread,
    });
    const response = webRequest instanceof Response ? webRequest : await endpoint(webRequest);
    reply.code(response.status);
    for (const [name, value] of response.headers) reply.header(name, value);
    const content = await bodyContent(response);
    if (content.type === "none") return reply.send();
    if (content.type === "stream") return reply.send(content.stream);
    const { buffer, byteOffset, byteLength } = content.bytes;
    return reply.send(Buffer.from(buffer, byteOffset, byteLength));
  };
}

/** What `keepRawBodies` uses of a Fastify instance (or a plugin's scope). */
export interface FastifyContentTypeParsers {
  /** Removes every content-type parser of this scope, the defaults for JSON and text included. */
  removeAllContentTypeParsers(): unknown;
  /** Adds a parser for `contentType` (`"*"`: any type) that is given the body's stream. */
  addContentTypeParser(
    contentType: string,
    parser: (
      request: unknown,
      payload: IncomingMessage,
      done: (error: null, body: IncomingMessage) => void,
    ) => void,
  ): unknown;
}

/**
 * Makes Fastify give the routes of `scope` each request's body unread, whatever its content
 * type: the adapter reads it (`toFastifyHandler`), so a durable endpoint stores and compares the
 * bytes as sent (and accepts form or binary bodies Fastify has no parser for), and refuses a body
 * over its `maxBodyBytes` as soon as it passes it. Fastify's `bodyLimit` does not apply to these
 * routes (Fastify does not read their bodies): the endpoint's `maxBodyBytes` does. It replaces
 * every parser of `scope`: call it inside a plugin (`app.register(async (scope) => ...)`) that
 * holds only endpoint routes, so the rest of the app keeps Fastify's JSON parsing.
 */
export function keepRawBodies(scope: FastifyContentTypeParsers): void {
  scope.removeAllContentTypeParsers();
  // The parser passes the payload on unread, as @fastify/multipart does: the handler reads it.
  scope.addContentTypeParser("*", (_request, payload, done) => {
    done(null, payload);
  });
}
