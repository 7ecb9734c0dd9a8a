/**
 * The one conversion between node:http and the web `Request`/`Response` (issues 12 and 13),
 * shared by the durable endpoints' adapters (`src/endpoints`) and the middleware adapters
 * (`src/middleware`): the request's URL, headers and body (read from the stream, taken from what a
 * framework's body parser left, or streamed on demand and put back for the route), and the
 * response written back.
 */
import type { IncomingMessage } from "node:http";
import type { Readable } from "node:stream";
import { SteadfastError, isSteadfastError } from "../core/errors.ts";
import { isJsonMediaType } from "../core/http-fields.ts";
import { PROBLEM_KINDS, PROBLEM_TYPE_BASE, problemJsonResponse } from "../core/problem-kinds.ts";
import { bodyContent, readCapped } from "./body-bytes.ts";
import { restorableBody } from "./restorable-body.ts";

/** How an adapter tells `toWebRequest` what it knows beyond the node:http message. */
export interface WebRequestSource {
  /**
   * The request's path and query as the client sent it, when the framework rewrote
   * `incoming.url` (Express's `originalUrl` under a mounted router). Default: `incoming.url`.
   */
  url?: string | undefined;
  /**
   * What the framework's body parser made of the body (`req.body`, `request.body`): used only
   * when the stream has already been read, since the stream's bytes are the request as sent.
   */
  parsedBody?: unknown;
  /**
   * The stream to read the body from instead of `incoming`, unread (the payload a Fastify
   * content-type parser passed on, `keepRawBodies`).
   */
  body?: Readable | undefined;
  /**
   * Largest body taken, bytes: a body over it is refused (`tooLarge`) as soon as it passes it.
   * Default: no limit. Not used with `putBodyBack` (the reader of the body sets its own).
   */
  maxBodyBytes?: number | undefined;
  /**
   * The answer to a body over `maxBodyBytes`. Default: `413` problem+json `payload_too_large`.
   * Either way it closes the connection (the unread rest of the body would otherwise be read as
   * the next request).
   */
  tooLarge?: ((maxBodyBytes: number) => Response) | undefined;
  /**
   * Read nothing now: the `Request`'s body streams `incoming` as it is read, and what was read is
   * put back into `incoming` when the reading stops (`restorableBody`), so that a route run after
   * a middleware (Express, node:http) still reads the body as sent. Default `false`: the body is
   * read to the end first.
   */
  putBodyBack?: boolean | undefined;
}

/**
 * The `Request` of a node:http message, its body read to the end (or, with `putBodyBack`,
 * streamed as it is read); or the answer refusing it: `400` when the message makes no URL (a
 * malformed `Host`) or its body could not be read (the client went away), `413` (`tooLarge`)
 * when the body is over `source.maxBodyBytes`, at once when its `Content-Length` says so, else
 * as soon as the bytes read pass it (the rest is not read: the answer closes the connection).
 * When a body parser has already read the stream, the body is `source.parsedBody` as bytes
 * (`parsedBodyBytes`), and `Content-Length` and `Content-Encoding` are dropped: they described
 * the bytes on the wire, not these. Throws `ParsedBodyError` for a parsed body that cannot be
 * turned back into bytes.
 */
export async function toWebRequest(
  incoming: IncomingMessage,
  source: WebRequestSource = {},
): Promise<Request | Response> {
  const secure = "encrypted" in incoming.socket && incoming.socket.encrypted === true;
  const host = incoming.headers.host ?? "localhost";
  const url = URL.parse(
    source.url ?? incoming.url ?? "/",
    `${secure ? "https" : "http"}://${host}`,
  );
  if (url === null) return malformed();
  const headers = new Headers();
  const raw = incoming.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) headers.append(raw[i]!, raw[i + 1]!);
  const method = incoming.method ?? "GET";
  const init: RequestInit = { method, headers };
  if (method === "GET" || method === "HEAD") return new Request(url, init);
  if (source.putBodyBack === true && source.body === undefined && !incoming.readableDidRead) {
    // A stream body needs `duplex: "half"` (fetch's rule for request streams), which the DOM
    // typings of `RequestInit` do not list yet.
    const streamed = { ...init, body: restorableBody(incoming), duplex: "half" };
    return new Request(url, streamed);
  }
  const max = source.maxBodyBytes ?? Number.POSITIVE_INFINITY;
  try {
    init.body = await readBody(incoming, source, headers, max);
  } catch (error) {
    if (error instanceof ParsedBodyError) throw error;
    if (isSteadfastError(error) && error.code === "payload_too_large") {
      return refusal((source.tooLarge ?? requestTooLarge)(max));
    }
    return malformed();
  }
  return new Request(url, init);
}

/** The body of a request (see `toWebRequest`); throws `payload_too_large` over `max` bytes. */
async function readBody(
  incoming: IncomingMessage,
  source: WebRequestSource,
  headers: Headers,
  max: number,
): Promise<Uint8Array<ArrayBuffer> | null> {
  const tooLarge = () => new SteadfastError("payload_too_large", `over ${max} bytes`);
  if (Number(incoming.headers["content-length"] ?? "0") > max) throw tooLarge();
  const stream = source.body ?? (incoming.readableDidRead ? undefined : incoming);
  if (stream === undefined) {
    const body = parsedBodyBytes(source.parsedBody, headers.get("content-type"));
    headers.delete("content-length");
    headers.delete("content-encoding");
    if (body !== undefined && body.byteLength > max) throw tooLarge();
    return body ?? null;
  }
  // Not destroyed when reading stops early: the 413 is still to be written on its connection.
  const bytes = await readCapped(
    stream.iterator({ destroyOnReturn: false }) as AsyncIterable<Uint8Array>,
    max,
    tooLarge,
  );
  return bytes.byteLength === 0 ? null : bytes;
}

/** The default answer to a body over `maxBodyBytes` bytes: `413` problem+json. */
function requestTooLarge(maxBodyBytes: number): Response {
  const { status, title } = PROBLEM_KINDS.payload_too_large;
  return problemJsonResponse({
    type: PROBLEM_TYPE_BASE + "payload_too_large",
    title,
    status,
    detail: `The request body is over ${maxBodyBytes} bytes, the most this server takes: send a smaller body.`,
    code: "payload_too_large",
  });
}

/**
 * The answer to a request refused before its body was read to the end, closing the connection
 * (the unread rest of the body would otherwise be read as the next request).
 */
function refusal(response: Response): Response {
  const closing = new Response(response.body, response);
  closing.headers.set("connection", "close");
  return closing;
}

/** The answer to a request whose message makes no URL or whose body could not be read: `400`. */
function malformed(): Response {
  return new Response("Malformed request\n", {
    status: 400,
    headers: { "content-type": "text/plain" },
  });
}

/**
 * The bytes of a body a framework's parser has already read: a `Buffer` or `Uint8Array` as is
 * (`express.raw()`, Fastify's buffer parser), a string as UTF-8 (`express.text()`), nothing for
 * `undefined` or `null`, and any other value as JSON when the request's `Content-Type` is JSON
 * (`express.json()`, Fastify's default parser: equal JSON gives equal bytes, so an
 * `Idempotency-Key` retry still matches). Anything else (a form parsed by `express.urlencoded()`)
 * cannot be turned back into the request as sent: a `ParsedBodyError` naming the fix.
 */
export function parsedBodyBytes(
  body: unknown,
  contentType: string | null,
): Uint8Array<ArrayBuffer> | undefined {
  if (body === undefined || body === null) return undefined;
  // A copy: a `Buffer` is typed on `ArrayBufferLike`, which `BodyInit` does not take.
  if (body instanceof Uint8Array) return new Uint8Array(body);
  if (typeof body === "string") return new TextEncoder().encode(body);
  if (contentType !== null && isJsonMediaType(contentType)) {
    return new TextEncoder().encode(JSON.stringify(body));
  }
  throw new ParsedBodyError(
    `A body parser read this ${contentType ?? "untyped"} request before Steadfast's adapter and left a ${typeof body}, which cannot be turned back into the body as sent: mount the durable endpoint or middleware before the parser, or give it the raw bytes (express.raw({ type: "*/*" }), keepRawBodies(fastify)).`,
  );
}

/**
 * A body a framework's parser read and left as a value that cannot be turned back into the
 * request's bytes: a mistake in how the endpoint is mounted, not in the request.
 */
export class ParsedBodyError extends Error {
  override readonly name = "ParsedBodyError";
}

/**
 * The status and headers of `response` as node:http takes them: `Set-Cookie` each its own field.
 */
export function nodeHeaders(response: Response): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of response.headers) {
    if (name !== "set-cookie") headers[name] = value;
  }
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) headers["set-cookie"] = cookies;
  return headers;
}

/**
 * What `writeResponse` uses of a node:http `ServerResponse`: a `ServerResponse` itself, or the
 * writer a middleware adapter keeps while it intercepts what the route writes to it.
 */
export interface NodeResponseSink {
  writeHead(statusCode: number, headers: Record<string, string | string[]>): unknown;
  write(chunk: Uint8Array): boolean;
  end(chunk?: Uint8Array): unknown;
  destroy(): unknown;
  readonly destroyed: boolean;
  on(event: "drain" | "close", listener: () => void): unknown;
  off(event: "drain" | "close", listener: () => void): unknown;
}

/**
 * Writes `response` to node:http: status, headers (`Set-Cookie` each its own, merged with what
 * middleware already set with `setHeader`), and its body: one write with its `Content-Length`
 * when it is complete (`bodyContent`: every answer a durable endpoint makes from stored bytes,
 * `Response.json`, a string), else streamed chunk by chunk as it is produced, waiting for the
 * connection to drain (backpressure). When the client goes away mid-stream the body is cancelled
 * (a durable endpoint's run keeps reading its own copy) and this resolves; when the body's
 * stream fails mid-way the connection is destroyed, so the client sees a cut answer rather than
 * a complete one.
 */
export async function writeResponse(response: Response, outgoing: NodeResponseSink): Promise<void> {
  const headers = nodeHeaders(response);
  const content = await bodyContent(response);
  if (content.type === "bytes") {
    headers["content-length"] = String(content.bytes.byteLength);
    outgoing.writeHead(response.status, headers);
    outgoing.end(content.bytes);
    return;
  }
  outgoing.writeHead(response.status, headers);
  if (content.type === "none") outgoing.end();
  else await writeStream(content.stream, outgoing);
}

async function writeStream(stream: ReadableStream<Uint8Array>, outgoing: NodeResponseSink) {
  const reader = stream.getReader();
  // The connection closed before the body's end (the client went away): stop the body now,
  // rather than when its next chunk comes (an LLM may take seconds to make it).
  const stop = (): void => {
    reader.cancel().catch(() => undefined);
  };
  outgoing.on("close", stop);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (outgoing.destroyed) return;
      if (!outgoing.write(value)) await drained(outgoing);
    }
    if (!outgoing.destroyed) outgoing.end();
  } catch {
    outgoing.destroy();
  } finally {
    outgoing.off("close", stop);
  }
}

/** Resolves when `outgoing` can take more (`drain`) or will take nothing more (`close`). */
function drained(outgoing: NodeResponseSink): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      outgoing.off("drain", done);
      outgoing.off("close", done);
      resolve();
    };
    outgoing.on("drain", done);
    outgoing.on("close", done);
  });
}
