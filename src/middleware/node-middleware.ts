/**
 * A web middleware in front of a node:http request listener (issue 13):
 * `http.createServer(nodeMiddleware(mw, listener))`. The listener answers on its `res` as usual;
 * what it writes is captured (`captureResponse`), goes through the middleware's `next`, and what
 * the middleware returns is written to the client. The listener reads the request body from its
 * `req` as usual, whether or not the middleware read it first (the bytes are put back).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { PROBLEM_KINDS, PROBLEM_TYPE_BASE, problemJsonResponse } from "../core/problem-kinds.ts";
import { writeResponse } from "../exchange/node-exchange.ts";
import { serveAroundRoute } from "./node-route.ts";
import type { WebMiddleware } from "./web-middleware.ts";

/** A node:http request listener; it may return a promise (a rejection is its failure). */
export type NodeListener = (request: IncomingMessage, response: ServerResponse) => unknown;

/** Options of `nodeMiddleware`. */
export interface NodeMiddlewareOptions {
  /**
   * Receives what failed when a request could not be served: the middleware threw, or the
   * listener threw (or rejected) before it answered. The client gets `500` problem+json (or a
   * cut connection, if the answer had begun). Default: `console.error`.
   */
  onError?: (error: unknown) => void;
}

/**
 * `listener` behind `middleware`, as a node:http request listener. The middleware's own answers
 * (a replay, a `409`, a `429`) are written at once and the listener does not run. A listener
 * that throws before it answers gives the middleware a failure rather than a response (the
 * idempotency middleware frees the key, so a retry runs it again), and the client `500`.
 *
 * @example
 * const idempotency = await createIdempotency({ store: "sqlite:./idem.db", principal: () => "anonymous" });
 * http.createServer(nodeMiddleware(idempotency, (req, res) => {
 *   res.writeHead(201, { "content-type": "application/json" }).end('{"id":1}');
 * })).listen(3000, "127.0.0.1");
 */
export function nodeMiddleware(
  middleware: WebMiddleware,
  listener: NodeListener,
  options: NodeMiddlewareOptions = {},
): NodeListener {
  const onError = options.onError ?? ((error: unknown) => console.error(error));
  return (incoming, outgoing) =>
    serveAroundRoute(
      middleware,
      incoming,
      outgoing,
      {},
      {
        run: () => listener(incoming, outgoing),
        failed: (error) => {
          onError(error);
          if (outgoing.headersSent) outgoing.destroy();
          else writeResponse(internalError(), outgoing).catch(() => outgoing.destroy());
        },
      },
    );
}

/** The `500` answer to a request that could not be served. */
function internalError(): Response {
  const { status, title } = PROBLEM_KINDS.internal;
  return problemJsonResponse({
    type: PROBLEM_TYPE_BASE + "internal",
    title,
    status,
    detail: "The server could not answer this request; the error is in its log.",
    code: "internal",
  });
}
