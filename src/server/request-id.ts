import { randomUUID } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import type { ServerEnv } from "./server-env.ts";

/** Header carrying the correlation id, in both directions. */
export const REQUEST_ID_HEADER = "X-Request-Id";

// A proxy's id is honoured when it is short and plain, so it cannot inject into logs or headers.
const SANE_REQUEST_ID = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

/** `value` when it is usable as a correlation id (1 to 128 visible, log-safe characters). */
export function saneRequestId(value: string | undefined): string | undefined {
  return value !== undefined && SANE_REQUEST_ID.test(value) ? value : undefined;
}

/**
 * Gives every request a correlation id: the incoming `X-Request-Id` when it is sane, else a new
 * UUID (`newId`, default `crypto.randomUUID`). It is set on the context as `requestId` and echoed as
 * `X-Request-Id` on every response, errors included.
 */
export function requestId(newId: () => string = randomUUID): MiddlewareHandler<ServerEnv> {
  return async (c, next) => {
    const id = saneRequestId(c.req.header(REQUEST_ID_HEADER)) ?? newId();
    c.set("requestId", id);
    await next();
    c.res.headers.set(REQUEST_ID_HEADER, id);
  };
}
