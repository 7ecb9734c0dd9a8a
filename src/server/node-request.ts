import { IncomingMessage } from "node:http";
import type { Context } from "hono";

/** The node:http request under @hono/node-server (`c.env.incoming`), if this is where we run. */
export function nodeIncoming(env: unknown): IncomingMessage | undefined {
  const incoming = (env as { incoming?: unknown } | undefined)?.incoming;
  return incoming instanceof IncomingMessage ? incoming : undefined;
}

/**
 * A request header's value, as the web `Headers` would give it: the name matched without regard
 * to case, repeated fields joined with `, `. On node:http it is read from the raw header list, so
 * the request's web `Headers` (built on first use, a field at a time with validation) is never
 * made on the hot path; elsewhere (`app.request` in tests, other runtimes) it is `c.req.header`.
 * `name` must be lower case.
 */
export function requestHeader(c: Context, name: string): string | undefined {
  const incoming = nodeIncoming(c.env);
  return incoming === undefined ? c.req.header(name) : rawHeader(incoming, name);
}

/** `requestHeader` for a node:http request. `name` must be lower case. */
export function rawHeader(incoming: IncomingMessage, name: string): string | undefined {
  const raw = incoming.rawHeaders;
  let value: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const field = raw[i]!;
    if (field.length !== name.length || field.toLowerCase() !== name) continue;
    const next = raw[i + 1]!.trim();
    value = value === undefined ? next : `${value}, ${next}`;
  }
  return value;
}

/** Error codes of a stream cut by the peer. */
const DISCONNECT_CODES: ReadonlySet<unknown> = new Set([
  "ECONNRESET",
  "EPIPE",
  "ERR_STREAM_PREMATURE_CLOSE",
]);

/**
 * True when `error` is the client's connection going away before the request was answered (it
 * aborted a `Prefer: wait`, or closed while sending the body): an error of a cut stream, and the
 * request's connection is indeed gone (its socket destroyed; off node:http, its signal aborted).
 * Not a fault of ours: nothing can be answered, and nothing is lost.
 */
export function clientWentAway(c: Context, error: unknown): boolean {
  const code = (error as { code?: unknown } | null | undefined)?.code;
  const cut = DISCONNECT_CODES.has(code) || (error instanceof Error && error.name === "AbortError");
  if (!cut) return false;
  const incoming = nodeIncoming(c.env);
  return incoming === undefined ? c.req.raw.signal.aborted : incoming.socket.destroyed;
}
