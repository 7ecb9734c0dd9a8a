/**
 * A durable endpoint (or any web-standard `(Request) => Promise<Response>` handler) as a
 * node:http request listener: the incoming message becomes a `Request` (its URL from the `Host`
 * header, its body read to the end), the `Response` is written back, its body streamed.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { DurableEndpoint } from "../engine/endpoints/durable-endpoint.ts";
import { toWebRequest, writeMalformed, writeResponse } from "./node-exchange.ts";

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
  let request: Request | null;
  try {
    request = await toWebRequest(incoming);
  } catch {
    request = null;
  }
  if (request === null) {
    writeMalformed(outgoing);
    return;
  }
  const response = await endpoint(request);
  await writeResponse(response, outgoing);
}
