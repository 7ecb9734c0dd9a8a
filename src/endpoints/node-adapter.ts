/**
 * A durable endpoint (or any web-standard `(Request) => Promise<Response>` handler) as a
 * node:http request listener: the incoming message becomes a `Request` (its URL from the `Host`
 * header, its body read to the end, or refused past the endpoint's `maxBodyBytes`), the
 * `Response` is written back: in one write when its body is complete, streamed when it streams.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { writeResponse } from "../exchange/node-exchange.ts";
import { toEndpointRequest, type WebHandler } from "./endpoint-request.ts";

/** A node:http request listener. */
export type NodeHandler = (request: IncomingMessage, response: ServerResponse) => void;

/**
 * `endpoint` as a node:http request listener. A request the listener cannot turn into a
 * `Request` (a malformed `Host`) gets `400`; a body over the endpoint's `maxBodyBytes` gets
 * `413` problem+json as soon as it passes it (at once when its `Content-Length` does); an error
 * writing the answer ends the connection.
 *
 * @example
 * const chat = steadfast.endpoint("chat", async (req, { step }) => Response.json(await step.run("a", () => 1)));
 * http.createServer(toNodeHandler(chat)).listen(3000, "127.0.0.1");
 */
export function toNodeHandler(endpoint: WebHandler): NodeHandler {
  return (incoming, outgoing) => {
    void serve(endpoint, incoming, outgoing).catch(() => {
      // The answer could not be written (the client went away mid-body): nothing to answer.
      outgoing.destroy();
    });
  };
}

async function serve(
  endpoint: WebHandler,
  incoming: IncomingMessage,
  outgoing: ServerResponse,
): Promise<void> {
  const request = await toEndpointRequest(incoming, endpoint);
  const response = request instanceof Response ? request : await endpoint(request);
  await writeResponse(response, outgoing);
}
