/**
 * A web middleware as Express middleware (issue 13): `app.use("/orders", expressMiddleware(mw))`.
 * Express is not a dependency: the handler takes the node:http message and response Express
 * extends, and Express's `RequestHandler` accepts it.
 *
 * The middleware runs before the route, and Express's route answers by writing to `res`; so the
 * adapter calls Express's `next()` with `res` captured (`captureResponse`), hands the route's
 * status, headers and body to the middleware as its `next`'s `Response`, and writes what the
 * middleware returns. The request body: without a body parser before the adapter, the middleware
 * reads the stream and the bytes are put back for the route's own parser (`express.json()` after
 * the adapter, or on the route, works as usual); after one, it sees `req.body` as bytes (JSON
 * serialised again, a string as UTF-8, a `Buffer` as is).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { serveAroundRoute } from "./node-route.ts";
import type { WebMiddleware } from "./web-middleware.ts";

/** What the adapter reads of Express's request: the node:http message, its full URL and parsed body. */
export interface ExpressRequestLike extends IncomingMessage {
  /** The URL before a mounting router cut its prefix off (Express sets it). */
  originalUrl?: string;
  /** What a body parser left, if one ran. */
  body?: unknown;
}

/** Express middleware (`RequestHandler`), typed without Express. */
export type ExpressMiddleware = (
  request: ExpressRequestLike,
  response: ServerResponse,
  next: (error?: unknown) => void,
) => void;

/**
 * `middleware` as Express middleware. The middleware's own answers (a replay, a `409`, a `429`)
 * are written at once and the route does not run; otherwise the route runs and its answer goes
 * through the middleware to the client. An error of the middleware, or a parsed body that cannot
 * be turned back into bytes (`express.urlencoded()` before it), goes to `next(error)`. A route
 * that fails is answered by Express's error handler, and that answer is what the middleware sees
 * (the idempotency middleware stores it like any other, per its `storedOutcomes`).
 *
 * @example
 * const idempotency = await createIdempotency({ store: "sqlite:./idem.db", principal: () => "anonymous" });
 * const app = express();
 * app.use("/orders", expressMiddleware(idempotency));
 * app.post("/orders", express.json(), (req, res) => res.status(201).json({ id: 1 }));
 */
export function expressMiddleware(middleware: WebMiddleware): ExpressMiddleware {
  return (incoming, outgoing, next) => {
    void serveAroundRoute(
      middleware,
      incoming,
      outgoing,
      { url: incoming.originalUrl, parsedBody: incoming.body },
      { run: () => next(), failed: (error) => next(error) },
    );
  };
}
