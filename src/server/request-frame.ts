// The outermost middleware of the API: correlation id, duration metrics, request log, and
// Connection: close while shutting down.
import { randomUUID } from "node:crypto";
import type { Context, MiddlewareHandler } from "hono";
import type { Logger } from "pino";
import { requestHeader } from "./node-request.ts";
import { redactedPath } from "./problem.ts";
import type { ServerEnv } from "./server-env.ts";

/** Header carrying the correlation id, in both directions. */
const REQUEST_ID_HEADER = "X-Request-Id";
/** The same, as `requestHeader` looks it up (lower case). */
const REQUEST_ID_FIELD = REQUEST_ID_HEADER.toLowerCase();

// A proxy's id is honoured when it is short and plain, so it cannot inject into logs or headers.
const SANE_REQUEST_ID = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

/** `value` when it is usable as a correlation id (1 to 128 visible, log-safe characters). */
function saneRequestId(value: string | undefined): string | undefined {
  return value !== undefined && SANE_REQUEST_ID.test(value) ? value : undefined;
}

/** Options of `frameRequests`. */
export interface RequestFrameOptions {
  /** Makes an id for a request without a usable `X-Request-Id` (default `crypto.randomUUID`). */
  newId?: () => string;
  /** Records the request's duration once it is answered (metrics). */
  observe?: (c: Context<ServerEnv>, durationMs: number) => void;
  /** Logs every request at debug level. */
  logger?: Logger;
  /** Aborted on shutdown: answers then carry `Connection: close`. */
  signal?: AbortSignal;
}

/**
 * The outermost middleware, one layer for what every request needs:
 * - a correlation id: the incoming `X-Request-Id` when it is sane, else a new one; set on the
 *   context as `requestId` and echoed as `X-Request-Id` on every response, errors included;
 * - its duration observed (`observe`) and, at debug level, a log line;
 * - while shutting down, `Connection: close`, so clients do not reuse the connection
 *   (RFC 9112 section 9.6).
 */
export function frameRequests(options: RequestFrameOptions = {}): MiddlewareHandler<ServerEnv> {
  const { observe, logger, signal } = options;
  const newId = options.newId ?? randomUUID;
  return async (c, next) => {
    const started = performance.now();
    const id = saneRequestId(requestHeader(c, REQUEST_ID_FIELD)) ?? newId();
    c.set("requestId", id);
    try {
      await next();
    } finally {
      const durationMs = performance.now() - started;
      observe?.(c, durationMs);
      if (logger?.isLevelEnabled("debug") === true) {
        logger.debug(
          {
            requestId: id,
            method: c.req.method,
            // Quoted as problems quote it: a destination URL in the path is redacted.
            path: redactedPath(c.req.path),
            status: c.res.status,
            durationMs,
          },
          "request",
        );
      }
    }
    const { headers } = c.res;
    headers.set(REQUEST_ID_HEADER, id);
    if (signal?.aborted === true) headers.set("Connection", "close");
  };
}
