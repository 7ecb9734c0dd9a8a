/**
 * The one conversion between node:http and the web `Request`/`Response` that a durable endpoint
 * speaks, shared by the node:http, Express and Fastify adapters: the request's URL, headers and
 * body (read from the stream, or taken from what a framework's body parser left), and the
 * response written back.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { Readable } from "node:stream";
import type { ReadableStream as NodeReadableStream } from "node:stream/web";
import { pipeline } from "node:stream/promises";
import { isJsonMediaType } from "../core/http-fields.ts";

/** How a framework adapter tells `toWebRequest` what it knows beyond the node:http message. */
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
}

/**
 * The `Request` of a node:http message, its body read to the end (it is stored anyway); `null`
 * when the message makes no URL (a malformed `Host`), which the adapters answer with `400`.
 * When a body parser has already read the stream, the body is `source.parsedBody` as bytes
 * (`parsedBodyBytes`), and `Content-Length` and `Content-Encoding` are dropped: they described
 * the bytes on the wire, not these.
 */
export async function toWebRequest(
  incoming: IncomingMessage,
  source: WebRequestSource = {},
): Promise<Request | null> {
  const secure = "encrypted" in incoming.socket && incoming.socket.encrypted === true;
  const host = incoming.headers.host ?? "localhost";
  const url = URL.parse(
    source.url ?? incoming.url ?? "/",
    `${secure ? "https" : "http"}://${host}`,
  );
  if (url === null) return null;
  const headers = new Headers();
  const raw = incoming.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) headers.append(raw[i]!, raw[i + 1]!);
  const method = incoming.method ?? "GET";
  const init: RequestInit = { method, headers };
  if (method !== "GET" && method !== "HEAD") {
    if (incoming.readableDidRead) {
      const body = parsedBodyBytes(source.parsedBody, headers.get("content-type"));
      headers.delete("content-length");
      headers.delete("content-encoding");
      if (body !== undefined) init.body = body;
    } else {
      const chunks: Buffer[] = [];
      for await (const chunk of incoming) chunks.push(chunk as Buffer);
      if (chunks.length > 0) init.body = Buffer.concat(chunks);
    }
  }
  return new Request(url, init);
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
    `A body parser read this ${contentType ?? "untyped"} request before the durable endpoint and left a ${typeof body}, which cannot be turned back into the body as sent: mount the endpoint before the parser, or give it the raw bytes (express.raw({ type: "*/*" }), keepRawBodies(fastify)).`,
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
 * Writes `response` to node:http: status, headers (`Set-Cookie` each its own, merged with what
 * middleware already set with `setHeader`), body streamed.
 */
export async function writeResponse(response: Response, outgoing: ServerResponse): Promise<void> {
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of response.headers) {
    if (name !== "set-cookie") headers[name] = value;
  }
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) headers["set-cookie"] = cookies;
  outgoing.writeHead(response.status, headers);
  if (response.body === null) {
    outgoing.end();
    return;
  }
  await pipeline(Readable.fromWeb(response.body as NodeReadableStream<Uint8Array>), outgoing);
}

/** Answers a request whose message makes no URL: `400`, as text. */
export function writeMalformed(outgoing: ServerResponse): void {
  outgoing.writeHead(400, { "content-type": "text/plain" }).end("Malformed request\n");
}
