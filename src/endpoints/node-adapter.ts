/**
 * A durable endpoint (or any web-standard `(Request) => Promise<Response>` handler) as a
 * node:http request listener: the incoming message becomes a `Request` (its URL from the `Host`
 * header, its body read to the end), the `Response` is written back, its body streamed.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { Readable } from "node:stream";
import type { ReadableStream as NodeReadableStream } from "node:stream/web";
import { pipeline } from "node:stream/promises";
import type { DurableEndpoint } from "../engine/endpoints/durable-endpoint.ts";

/** A node:http request listener. */
export type NodeHandler = (request: IncomingMessage, response: ServerResponse) => void;

/**
 * `endpoint` as a node:http request listener. A request the listener cannot turn into a
 * `Request` (a malformed `Host`) gets `400`; an error writing the answer ends the connection.
 *
 * @example
 * const chat = steadfast.endpoint("chat", async (req, { step }) => Response.json(await step.run("a", () => 1)));
 * http.createServer(toNodeHandler(chat)).listen(3000, "127.0.0.1");
 */
export function toNodeHandler(endpoint: DurableEndpoint): NodeHandler {
  return (incoming, outgoing) => {
    void serve(endpoint, incoming, outgoing).catch(() => {
      // The answer could not be written (the client went away mid-body): nothing to answer.
      outgoing.destroy();
    });
  };
}

async function serve(
  endpoint: DurableEndpoint,
  incoming: IncomingMessage,
  outgoing: ServerResponse,
): Promise<void> {
  let request: Request;
  try {
    request = await toWebRequest(incoming);
  } catch {
    outgoing.writeHead(400, { "content-type": "text/plain" }).end("Malformed request\n");
    return;
  }
  const response = await endpoint(request);
  await writeResponse(response, outgoing);
}

/** The `Request` of a node:http message: its body read to the end (it is stored anyway). */
async function toWebRequest(incoming: IncomingMessage): Promise<Request> {
  const secure = "encrypted" in incoming.socket && incoming.socket.encrypted === true;
  const host = incoming.headers.host ?? "localhost";
  const url = new URL(incoming.url ?? "/", `${secure ? "https" : "http"}://${host}`);
  const headers = new Headers();
  const raw = incoming.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) headers.append(raw[i]!, raw[i + 1]!);
  const method = incoming.method ?? "GET";
  const init: RequestInit = { method, headers };
  if (method !== "GET" && method !== "HEAD") {
    const chunks: Buffer[] = [];
    for await (const chunk of incoming) chunks.push(chunk as Buffer);
    if (chunks.length > 0) init.body = Buffer.concat(chunks);
  }
  return new Request(url, init);
}

/** Writes `response` to node:http: status, headers (`Set-Cookie` each its own), body streamed. */
async function writeResponse(response: Response, outgoing: ServerResponse): Promise<void> {
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
