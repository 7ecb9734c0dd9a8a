/**
 * What the durable endpoints' adapters serve (`WebHandler`), and the conversion of a node:http
 * message into its `Request` with the endpoint's body limit and `413` answer. The conversion
 * itself is the shared one (`exchange/node-exchange.ts`).
 */
import type { IncomingMessage } from "node:http";
import { requestTooLarge } from "../engine/endpoints/endpoint-messages.ts";
import { problemForError } from "../engine/endpoints/endpoint-problems.ts";
import { toWebRequest, type WebRequestSource } from "../exchange/node-exchange.ts";

/**
 * What the adapters serve: a durable endpoint, or any web-standard
 * `(Request) => Promise<Response>` handler.
 */
export interface WebHandler {
  (request: Request): Promise<Response>;
  /**
   * Largest request body the handler takes, bytes (a durable endpoint's `maxBodyBytes`): the
   * adapters stop reading a body as soon as it passes it, and answer `413`. Default: no limit.
   */
  readonly maxBodyBytes?: number;
}

/**
 * `toWebRequest` for `endpoint`: its body read up to the endpoint's `maxBodyBytes`, a larger one
 * answered with the endpoint's `413 payload_too_large` problem.
 */
export function toEndpointRequest(
  incoming: IncomingMessage,
  endpoint: WebHandler,
  source: Pick<WebRequestSource, "url" | "parsedBody" | "body"> = {},
): Promise<Request | Response> {
  return toWebRequest(incoming, {
    ...source,
    maxBodyBytes: endpoint.maxBodyBytes,
    tooLarge: (max) => problemForError(requestTooLarge(max)),
  });
}
