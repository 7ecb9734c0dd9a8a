/**
 * The idempotency middleware on Hono, Express, Fastify and node:http (issue 13): the names the
 * issue gives them, for the generic adapters of `steadfast/middleware` (which rate limiting
 * shares). See docs/idempotency.md, "Framework adapters".
 */
import type { MiddlewareHandler } from "hono";
import { expressMiddleware, type ExpressMiddleware } from "../middleware/express-middleware.ts";
import {
  fastifyMiddleware,
  type FastifyMiddlewarePlugin,
} from "../middleware/fastify-middleware.ts";
import { honoMiddleware } from "../middleware/hono-middleware.ts";
import {
  nodeMiddleware,
  type NodeListener,
  type NodeMiddlewareOptions,
} from "../middleware/node-middleware.ts";
import type { Idempotency } from "./create-idempotency.ts";

/**
 * `idempotency` as Hono middleware (`honoMiddleware`).
 *
 * @example app.use("/orders/*", honoIdempotency(idempotency));
 */
export function honoIdempotency(idempotency: Idempotency): MiddlewareHandler {
  return honoMiddleware(idempotency);
}

/**
 * `idempotency` as Express middleware (`expressMiddleware`): mount it before the routes it
 * covers.
 *
 * @example expressApp.use("/orders", expressIdempotency(idempotency));
 */
export function expressIdempotency(idempotency: Idempotency): ExpressMiddleware {
  return expressMiddleware(idempotency);
}

/**
 * `idempotency` as a Fastify plugin (`fastifyMiddleware`) covering the routes of the scope it is
 * registered in.
 *
 * @example await fastify.register(fastifyIdempotency(idempotency));
 */
export function fastifyIdempotency(idempotency: Idempotency): FastifyMiddlewarePlugin {
  return fastifyMiddleware(idempotency);
}

/**
 * `listener` behind `idempotency`, as a node:http request listener (`nodeMiddleware`).
 *
 * @example http.createServer(nodeIdempotency(idempotency, (req, res) => res.end("ok")));
 */
export function nodeIdempotency(
  idempotency: Idempotency,
  listener: NodeListener,
  options: NodeMiddlewareOptions = {},
): NodeListener {
  return nodeMiddleware(idempotency, listener, options);
}
