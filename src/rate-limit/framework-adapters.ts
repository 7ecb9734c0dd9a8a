/**
 * Rate limiting on Hono, Express, Fastify and node:http (issue 13: "with the same adapters"):
 * names for the generic adapters of `steadfast/middleware`, which the idempotency middleware
 * shares (`src/idempotency/framework-adapters.ts`). See docs/rate-limit.md, "Framework adapters".
 */
import type { MiddlewareHandler } from "hono";
import { expressMiddleware, type ExpressMiddleware } from "../middleware/express-middleware.ts";
import {
  fastifyMiddleware,
  type FastifyMiddlewareOptions,
  type FastifyMiddlewarePlugin,
} from "../middleware/fastify-middleware.ts";
import { honoMiddleware } from "../middleware/hono-middleware.ts";
import {
  nodeMiddleware,
  type NodeListener,
  type NodeMiddlewareOptions,
} from "../middleware/node-middleware.ts";
import type { RateLimit } from "./create-rate-limit.ts";

/**
 * `rateLimit` as Hono middleware (`honoMiddleware`): a request over its quota is answered `429`
 * and the rest of the chain does not run; every answer carries the `RateLimit` fields.
 *
 * @example app.use("/orders/*", honoRateLimit(rateLimit));
 */
export function honoRateLimit(rateLimit: RateLimit): MiddlewareHandler {
  return honoMiddleware(rateLimit);
}

/**
 * `rateLimit` as Express middleware (`expressMiddleware`): mount it before the routes it covers.
 *
 * @example expressApp.use("/orders", expressRateLimit(rateLimit));
 */
export function expressRateLimit(rateLimit: RateLimit): ExpressMiddleware {
  return expressMiddleware(rateLimit);
}

/**
 * `rateLimit` as a Fastify plugin (`fastifyMiddleware`) covering the routes of the scope it is
 * registered in. It runs in a `preHandler` hook by default, after Fastify has read and parsed the
 * body; `{ hook: "onRequest" }` refuses a request over its quota before its body is read.
 *
 * @example await fastify.register(fastifyRateLimit(rateLimit, { hook: "onRequest" }));
 */
export function fastifyRateLimit(
  rateLimit: RateLimit,
  options: FastifyMiddlewareOptions = {},
): FastifyMiddlewarePlugin {
  return fastifyMiddleware(rateLimit, options);
}

/**
 * `listener` behind `rateLimit`, as a node:http request listener (`nodeMiddleware`).
 *
 * @example http.createServer(nodeRateLimit(rateLimit, (req, res) => res.end("ok")));
 */
export function nodeRateLimit(
  rateLimit: RateLimit,
  listener: NodeListener,
  options: NodeMiddlewareOptions = {},
): NodeListener {
  return nodeMiddleware(rateLimit, listener, options);
}
