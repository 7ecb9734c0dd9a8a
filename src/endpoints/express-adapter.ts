/**
 * A durable endpoint (or any web-standard `(Request) => Promise<Response>` handler) as an Express
 * route handler. Express is not a dependency: the handler takes the node:http message Express
 * extends, and Express's `RequestHandler` accepts it.
 *
 * The body: when no body parser ran before the route, the stream is read to the end (the bytes as
 * sent). When one did (`app.use(express.json())`), the stream is gone and `req.body` is used: a
 * `Buffer` as is, a string as UTF-8, a JSON body serialised again; a parsed form cannot be turned
 * back into its bytes and goes to `next(error)` with the fix (mount the endpoint before the parser,
 * or `express.raw({ type: "*\/*" })` on its route).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { writeResponse } from "../exchange/node-exchange.ts";
import { toEndpointRequest, type WebHandler } from "./endpoint-request.ts";

/** What the adapter reads of Express's request: the node:http message, its mount-free URL and parsed body. */
export interface ExpressRequestLike extends IncomingMessage {
  /** The URL before a mounting router cut its prefix off (Express sets it). */
  originalUrl?: string;
  /** What a body parser left, if one ran. */
  body?: unknown;
}

/** An Express route handler (`RequestHandler`), typed without Express. */
export type ExpressHandler = (
  request: ExpressRequestLike,
  response: ServerResponse,
  next: (error?: unknown) => void,
) => void;

/**
 * `endpoint` as an Express route handler. It answers every request itself (`next` is called only
 * with an error): a malformed `Host` gets `400`; a body over the endpoint's `maxBodyBytes` gets
 * `413` problem+json as soon as it passes it (at once when its `Content-Length` does; after a
 * body parser, the parser's own limit comes first); a body a parser made unreadable goes to
 * `next(error)` (Express's error handler); an error writing the answer ends the connection.
 * The URL the endpoint sees, and so its handoff `Location`, is `req.originalUrl`, which the same
 * route answers under a mounted router too.
 *
 * @example
 * const chat = steadfast.endpoint("chat", async (req, { step }) => Response.json(await step.run("a", () => 1)));
 * express().post("/chat", toExpressHandler(chat)).get("/chat", toExpressHandler(chat)).listen(3000);
 */
export function toExpressHandler(endpoint: WebHandler): ExpressHandler {
  return (incoming, outgoing, next) => {
    void serve(endpoint, incoming, outgoing, next).catch(() => {
      // The answer could not be written (the client went away mid-body): nothing to answer.
      outgoing.destroy();
    });
  };
}

async function serve(
  endpoint: WebHandler,
  incoming: ExpressRequestLike,
  outgoing: ServerResponse,
  next: (error?: unknown) => void,
): Promise<void> {
  let request: Request | Response;
  try {
    request = await toEndpointRequest(incoming, endpoint, {
      url: incoming.originalUrl,
      parsedBody: incoming.body,
    });
  } catch (error) {
    next(error);
    return;
  }
  await writeResponse(request instanceof Response ? request : await endpoint(request), outgoing);
}
