/**
 * Web `Request` and `Response` to the forms a durable endpoint's run stores (`EndpointRequest`,
 * its input; `EndpointResponse`, its output) and back. Reading a body is the only I/O here.
 */
import { SteadfastError, TerminalError } from "../../core/errors.ts";
import {
  isKeptResponseHeader,
  isUnstoredRequestHeader,
  type EndpointRequest,
  type EndpointResponse,
} from "../../core/endpoint/endpoint-exchange.ts";
import { requestFingerprint } from "../../exchange/request-fingerprint.ts";
import { bodyContent, bytesResponse, readCapped } from "../../exchange/body-bytes.ts";

/** A request read for storage: what is stored, and the secret headers that are not. */
export interface ReadRequest {
  stored: EndpointRequest;
  /** The headers `isUnstoredRequestHeader` keeps out of the store, for the inline invocation. */
  secrets: [string, string][];
}

/**
 * Reads `request` (its body to the end) into the form its run stores. Throws
 * `payload_too_large` (`requestTooLarge`) when the body is over `maxBodyBytes`: at once when its
 * `Content-Length` says so, else as soon as the bytes read pass it.
 */
export async function readRequest(request: Request, maxBodyBytes: number): Promise<ReadRequest> {
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (declared > maxBodyBytes) throw requestTooLarge(maxBodyBytes);
  const bytes =
    request.body === null
      ? new Uint8Array()
      : await readCapped(request.body, maxBodyBytes, () => requestTooLarge(maxBodyBytes));
  const headers: [string, string][] = [];
  const secrets: [string, string][] = [];
  for (const [name, value] of request.headers) {
    (isUnstoredRequestHeader(name) ? secrets : headers).push([name, value]);
  }
  const stored: EndpointRequest = { method: request.method, url: request.url, headers };
  if (bytes.byteLength > 0) stored.body = bytes;
  return { stored, secrets };
}

/**
 * The error of a request body over an endpoint's `maxBodyBytes` (`413 payload_too_large`): the
 * one message, for the endpoint and for the adapters that stop reading early.
 */
export function requestTooLarge(maxBodyBytes: number): SteadfastError {
  return new SteadfastError(
    "payload_too_large",
    `The request body is over ${maxBodyBytes} bytes, the most this endpoint stores (its maxBodyBytes option): send a smaller body, or raise maxBodyBytes.`,
  );
}

/**
 * A fresh `Request` rebuilt from the stored one (each invocation gets its own, so its body can be
 * read on every replay), with `secrets` (the headers that were not stored) added when given.
 */
export function toRequest(
  stored: EndpointRequest,
  secrets: readonly [string, string][] = [],
): Request {
  const headers = new Headers(stored.headers);
  for (const [name, value] of secrets) headers.append(name, value);
  const init: RequestInit = { method: stored.method, headers };
  if (stored.body !== undefined && stored.method !== "GET" && stored.method !== "HEAD") {
    init.body = new Uint8Array(stored.body);
  }
  return new Request(stored.url, init);
}

/** The code of `ResponseTooLargeError`, as a failed run's recorded error carries it. */
export const RESPONSE_TOO_LARGE = "response_too_large";

/**
 * A handler's response body was over its endpoint's `maxResponseBytes`: it is not stored and the
 * run fails with this (a client reading the happy path's stream still gets the whole body).
 */
export class ResponseTooLargeError extends TerminalError<typeof RESPONSE_TOO_LARGE> {
  constructor(maxResponseBytes: number) {
    super(
      RESPONSE_TOO_LARGE,
      `The handler's response body is over ${maxResponseBytes} bytes, the most this endpoint stores (its maxResponseBytes option): return a smaller body, or raise maxResponseBytes.`,
    );
    this.name = "ResponseTooLargeError";
  }
}

/**
 * Reads the handler's `response` into the form its run stores (status, kept headers, the whole
 * body). When `handOver` is given (the request that started the run waits for it inline), that
 * request is handed its answer as soon as there is one: a body already complete
 * (`Response.json`, a string) as bytes; a real stream (a token-streaming LLM answer) at once,
 * teed, so the client reads each chunk as it is made while the run reads its own copy. The
 * answer has the stored status and kept headers, as every later answer of the run has.
 *
 * The run's copy is read to the end even when the client goes away (it still stores the whole
 * response). Past `maxResponseBytes` the copy stops and this throws `ResponseTooLargeError` (the
 * run fails); a client handed the stream reads it on to its end (the copy's branch of the tee is
 * cancelled, the client's alone pulls the handler's stream from then on).
 */
export async function readResponse(
  response: Response,
  maxResponseBytes: number,
  handOver?: (answer: Response) => void,
): Promise<EndpointResponse> {
  const headers: [string, string][] = [];
  for (const [name, value] of response.headers) {
    if (isKeptResponseHeader(name)) headers.push([name, value]);
  }
  const { status } = response;
  const tooLarge = (): Error => new ResponseTooLargeError(maxResponseBytes);
  const content = await bodyContent(response);
  if (content.type === "stream" && handOver !== undefined) {
    const [toClient, toStore] = content.stream.tee();
    handOver(new Response(toClient, { status, headers }));
    return { status, headers, body: await readCapped(toStore, maxResponseBytes, tooLarge) };
  }
  const body =
    content.type === "none"
      ? new Uint8Array()
      : content.type === "bytes"
        ? content.bytes
        : await readCapped(content.stream, maxResponseBytes, tooLarge);
  const stored: EndpointResponse = { status, headers, body };
  handOver?.(toResponse(stored));
  if (body.byteLength > maxResponseBytes) throw tooLarge();
  return stored;
}

/** A `Response` from a stored one (its bytes known to `bodyContent`: sent in one write). */
export function toResponse(stored: EndpointResponse, extraHeaders: HeadersInit = {}): Response {
  const headers = new Headers(stored.headers);
  for (const [name, value] of new Headers(extraHeaders)) headers.set(name, value);
  // 1xx cannot be constructed, and 204, 205 and 304 carry no body (RFC 9110 section 6.4.1).
  const bodiless = [204, 205, 304].includes(stored.status);
  return bytesResponse(bodiless ? null : new Uint8Array(stored.body), {
    status: stored.status,
    headers,
  });
}

/**
 * What makes two requests to endpoint `endpoint` the same for an `Idempotency-Key`: the method,
 * the path and query, and the body (a JSON body by its canonical form), as the idempotency
 * middleware compares them (`exchange/request-fingerprint.ts`), the endpoint's name as the route. Not
 * the origin (a retry may reach another instance, under another host or port), nor the other
 * headers (they vary between retries: a trace id, a date). Stored as `<algorithm>:<digest>`.
 */
export function endpointRequestFingerprint(endpoint: string, request: EndpointRequest): string {
  const url = new URL(request.url);
  const contentType =
    request.headers.find(([name]) => name.toLowerCase() === "content-type")?.[1] ?? null;
  const { algorithm, digest } = requestFingerprint({
    method: request.method,
    route: endpoint,
    target: url.pathname + url.search,
    contentType,
    body: request.body ?? new Uint8Array(),
  });
  return `${algorithm}:${digest}`;
}
