/**
 * A web middleware as Hono middleware (issue 13): `app.use("/orders/*", honoMiddleware(mw))`.
 * Hono speaks `Request` and `Response` already: the middleware gets `c.req.raw`, its `next` runs
 * the rest of Hono's chain with the `Request` it passes on (the idempotency middleware passes a
 * copy whose body it has read) and returns `c.res`, and what the middleware returns becomes
 * `c.res`.
 */
import type { MiddlewareHandler } from "hono";
import type { WebMiddleware } from "./web-middleware.ts";

/**
 * `middleware` as Hono middleware. A handler that throws after it is not an answer: Hono's error
 * handler (`app.onError`) answers it, and the middleware's `next` throws the error (the
 * idempotency middleware then frees the key, so a retry runs the handler again).
 *
 * @example
 * const idempotency = await createIdempotency({ store: "sqlite:./idem.db", principal: () => "anonymous" });
 * const app = new Hono();
 * app.use("/orders/*", honoMiddleware(idempotency));
 * app.post("/orders", async (c) => c.json({ id: 1 }, 201));
 */
export function honoMiddleware(middleware: WebMiddleware): MiddlewareHandler {
  return async (c, next) => {
    // A body already read through `c.req` (`await c.req.json()` in a middleware before) is
    // gone from `c.req.raw`: Hono keeps it, and gives it back as bytes.
    const request = c.req.raw.bodyUsed
      ? new Request(c.req.raw, { body: await c.req.arrayBuffer() })
      : c.req.raw;
    const response = await middleware.handle(request, async (passed) => {
      c.req.raw = passed;
      await next();
      // Hono answered a throwing handler with its error handler: that is a failure, not an answer.
      if (c.error !== undefined) throw c.error;
      return c.res;
    });
    // Unset first: Hono merges the headers of a response replaced after `next` into the new one.
    c.res = undefined;
    c.res = response;
  };
}
