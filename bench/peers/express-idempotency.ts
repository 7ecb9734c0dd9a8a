// The peer of issue 13's benchmark: `express-idempotency` (Ville de Montréal), the most used
// idempotency middleware for Express on npm, in front of the benchmark's orders endpoint on
// Express 5 (bench/lib/order-endpoint.ts), as its README mounts it: after the body parser (it
// compares `req.body` to tell a reused key), the route checking `isHit(req)` because the
// middleware calls `next()` after answering a replay. Two stores: its default in-memory adapter,
// and Redis through `express-idempotency-redis-adapter` (it has no SQLite or PostgreSQL adapter).
// Neither package is a dependency of Steadfast: a contender whose package is not installed is
// skipped with a note.
import type { Request, RequestHandler } from "express";
import { createRequire } from "node:module";
import { orderApp, type Contender, type Endpoint, type Skipped } from "../lib/order-endpoint.ts";
import { deleteRedisKeys, REDIS_URL } from "../lib/redis.ts";

/** What the benchmark uses of `express-idempotency` (1.0.6; typed here, as it is optional). */
interface ExpressIdempotencyModule {
  /** The middleware; each call replaces the module's one shared service. */
  idempotency(options?: { dataAdapter?: object }): RequestHandler;
  getSharedIdempotencyService(): { isHit(request: Request): boolean };
}

/** `express-idempotency-redis-adapter`'s adapter (node-redis inside; keys are the raw keys). */
interface RedisAdapter {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
}
type RedisAdapterClass = new (options: {
  connectionConfig: { url: string };
  ttl?: number;
}) => RedisAdapter;

const requireOptional = createRequire(import.meta.url);

/** `name`'s module, or why it cannot be loaded here (not installed). */
function loadOptional(name: string): unknown {
  try {
    return requireOptional(name);
  } catch (error) {
    const { code, message } = error as { code?: string; message?: string };
    if (code === "MODULE_NOT_FOUND" && message?.includes(`'${name}'`) === true) {
      return { skipped: `${name} is not installed (a devDependency to add to run it)` };
    }
    throw error;
  }
}

function isSkipped(value: unknown): value is Skipped {
  return typeof value === "object" && value !== null && "skipped" in value;
}

/** The orders endpoint behind `express-idempotency` with `dataAdapter` (its default if none). */
function behindExpressIdempotency(
  library: ExpressIdempotencyModule,
  dataAdapter?: object,
): Endpoint {
  const middleware = library.idempotency(dataAdapter === undefined ? {} : { dataAdapter });
  const service = library.getSharedIdempotencyService();
  return orderApp({ before: [middleware], isHit: (request) => service.isHit(request) });
}

/** The orders endpoint on Express 5 with nothing in front: the baseline of the Express peers. */
export const expressBare: Contender = {
  name: "express-bare",
  store: "none",
  settings:
    "Express 5: app.post('/orders', express.json(), handler); res.status(201).location().json()",
  open: () => Promise.resolve({ ...orderApp(), close: () => Promise.resolve() }),
};

/** `express-idempotency` with its default adapter: records in this process's memory. */
export const expressIdempotencyMemory: Contender = {
  name: "express-idempotency",
  store: "memory",
  settings:
    "express-idempotency 1.0.6 as its README mounts it (after express.json(), route checks isHit), default options: its in-memory adapter, an array searched linearly by key on each request, so its cost per request grows with the keys stored (warm-up keys included); answers before it stores the response; nothing shared across processes, nothing survives a restart",
  open() {
    const library = loadOptional("express-idempotency");
    if (isSkipped(library)) return Promise.resolve(library);
    const session = behindExpressIdempotency(library as ExpressIdempotencyModule);
    return Promise.resolve({ ...session, close: () => Promise.resolve() });
  },
};

/** `express-idempotency` on Redis through `express-idempotency-redis-adapter`. */
export const expressIdempotencyRedis: Contender = {
  name: "express-idempotency-redis",
  store: "redis",
  settings: `express-idempotency 1.0.6 with express-idempotency-redis-adapter (node-redis client, one connection) on ${REDIS_URL}, default TTL; one GET to look the key up, then a SET (no compare: two concurrent first requests both run), the response SET after it is sent`,
  async open({ keyPrefix }) {
    const library = loadOptional("express-idempotency");
    if (isSkipped(library)) return library;
    const adapterModule = loadOptional("express-idempotency-redis-adapter");
    if (isSkipped(adapterModule)) return adapterModule;
    // Compiled from `export default class`: the class is `default` (the README requires it bare).
    const Adapter = ((adapterModule as { default?: RedisAdapterClass }).default ??
      adapterModule) as RedisAdapterClass;
    const adapter = new Adapter({ connectionConfig: { url: REDIS_URL } });
    await adapter.connect();
    const session = behindExpressIdempotency(library as ExpressIdempotencyModule, adapter);
    return {
      ...session,
      async close() {
        try {
          await adapter.disconnect();
        } finally {
          // The adapter keeps each record under its raw key, which starts with the run's prefix.
          await deleteRedisKeys(keyPrefix);
        }
      },
    };
  },
};
