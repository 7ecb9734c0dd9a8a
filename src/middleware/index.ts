/**
 * `steadfast/middleware`: framework adapters for any web-standard middleware
 * (`{ handle(request, next) }`, as `createIdempotency` and `createRateLimit` make): Hono,
 * Express, Fastify and node:http (issue 13). See docs/idempotency.md, "Framework adapters".
 */
export {
  aroundRoute,
  type AroundRoute,
  type FirstHalf,
  type WebMiddleware,
  type WebNext,
} from "./web-middleware.ts";
export { honoMiddleware } from "./hono-middleware.ts";
export {
  expressMiddleware,
  type ExpressMiddleware,
  type ExpressRequestLike,
} from "./express-middleware.ts";
export {
  fastifyMiddleware,
  type FastifyHooksLike,
  type FastifyMiddlewareOptions,
  type FastifyMiddlewarePlugin,
  type FastifyReplyLike,
  type FastifyRequestLike,
} from "./fastify-middleware.ts";
export {
  nodeMiddleware,
  type NodeListener,
  type NodeMiddlewareOptions,
} from "./node-middleware.ts";
export { captureResponse, type ResponseCapture } from "./response-capture.ts";
