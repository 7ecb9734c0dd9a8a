/**
 * A web middleware in front of a route that answers on node:http's `ServerResponse` (an Express
 * route, a node:http listener): the one sequence the Express and node:http adapters share.
 *
 * 1. The request becomes a `Request` whose body is read only if the middleware reads it, and is
 *    put back for the route (`putBodyBack`); after a body parser, it is the parsed body as bytes.
 * 2. The middleware runs up to `next`. If it answers itself (a replay, a `409`, a `429`), that
 *    answer is written and the route does not run.
 * 3. Otherwise the route runs with the response captured (`captureResponse`); its answer goes to
 *    the middleware's `next`, and what the middleware returns is written to the client.
 *
 * A client that went away while the middleware waited (on its store, say) is not served: the
 * route does not run and the middleware's `next` throws `request_aborted`, so nothing is stored
 * under an idempotency key and the client's retry runs the route. Running it would be wrong, not
 * only wasted: Express's body parsers skip a request whose socket has closed (`express.json()`
 * leaves `req.body` undefined even though the bytes were put back), and a node:http listener's
 * read of the body fails; the idempotency middleware would store the route's resulting `500`
 * and replay it to the retry.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { SteadfastError } from "../core/errors.ts";
import { toWebRequest, writeResponse, type WebRequestSource } from "../exchange/node-exchange.ts";
import { captureResponse } from "./response-capture.ts";
import { aroundRoute, type WebMiddleware } from "./web-middleware.ts";

/** The route behind the middleware, and what to do when it cannot be served. */
export interface NodeRoute {
  /** Runs the route (Express's `next()`, a node:http listener); a throw or rejection is its failure. */
  run(): unknown;
  /**
   * The middleware (or the conversion of the request) failed, before anything was written or
   * after the route's answer was captured but not written: Express passes it to `next(error)`.
   */
  failed(error: unknown): void;
}

/**
 * Serves `incoming` through `middleware` and then, if it calls `next`, `route`. Resolves when the
 * answer is written; an error writing it (the client went away) destroys the connection.
 */
export async function serveAroundRoute(
  middleware: WebMiddleware,
  incoming: IncomingMessage,
  outgoing: ServerResponse,
  source: Pick<WebRequestSource, "url" | "parsedBody">,
  route: NodeRoute,
): Promise<void> {
  try {
    await serve(middleware, incoming, outgoing, source, route);
  } catch {
    outgoing.destroy();
  }
}

async function serve(
  middleware: WebMiddleware,
  incoming: IncomingMessage,
  outgoing: ServerResponse,
  source: Pick<WebRequestSource, "url" | "parsedBody">,
  route: NodeRoute,
): Promise<void> {
  let request: Request | Response;
  let around: ReturnType<typeof aroundRoute>;
  let first;
  try {
    request = await toWebRequest(incoming, { ...source, putBodyBack: true });
    if (request instanceof Response) return await writeResponse(request, outgoing);
    around = aroundRoute(middleware, request);
    first = await around.firstHalf;
  } catch (error) {
    route.failed(error);
    return;
  }
  if (first.kind === "answered") {
    // Part of the body was read and the rest never will be: it must not be taken for the next
    // request on this connection.
    if (incoming.readableDidRead && !incoming.complete) outgoing.setHeader("connection", "close");
    return await writeResponse(first.response, outgoing);
  }
  if (clientGone(incoming)) {
    // The middleware's own rethrow (or an answer it makes of the failure) has no one to go to.
    await around.routeAnswered(Promise.reject(requestAborted())).catch(() => undefined);
    outgoing.destroy();
    return;
  }
  const capture = captureResponse(outgoing);
  try {
    const ran = route.run();
    if (ran instanceof Promise) ran.catch((error: unknown) => capture.fail(error));
  } catch (error) {
    capture.fail(error);
  }
  let answer: Response;
  try {
    answer = await around.routeAnswered(capture.response);
  } catch (error) {
    capture.fail(error);
    capture.release();
    route.failed(error);
    return;
  }
  try {
    await writeResponse(answer, capture.sink);
  } finally {
    capture.release();
  }
}

/**
 * Whether the client has closed the connection: its socket is gone or can no longer be read, the
 * test Express's body parsers (`on-finished`) skip a request by. Not `incoming.destroyed`: a body
 * parser before the adapter that read the body to its end leaves the message destroyed.
 */
function clientGone(incoming: IncomingMessage): boolean {
  const socket = incoming.socket as IncomingMessage["socket"] | null;
  return socket === null || socket.destroyed || !socket.readable;
}

/** What the middleware's `next` throws for a client gone before the route ran. */
function requestAborted(): SteadfastError<"request_aborted"> {
  return new SteadfastError(
    "request_aborted",
    "The client closed the connection before the route ran, so it was not run; a retry runs it.",
  );
}
