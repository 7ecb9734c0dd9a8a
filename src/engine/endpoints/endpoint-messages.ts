/**
 * Web `Request` and `Response` to the forms a durable endpoint's run stores (`EndpointRequest`,
 * its input; `EndpointResponse`, its output) and back. Reading a body is the only I/O here.
 */
import { createHash } from "node:crypto";
import { SteadfastError } from "../../core/errors.ts";
import {
  isKeptResponseHeader,
  isUnstoredRequestHeader,
  type EndpointRequest,
  type EndpointResponse,
} from "../../core/endpoint/endpoint-exchange.ts";
import { fingerprint } from "../fingerprint.ts";

/** A request read for storage: what is stored, and the secret headers that are not. */
export interface ReadRequest {
  stored: EndpointRequest;
  /** The headers `isUnstoredRequestHeader` keeps out of the store, for the inline invocation. */
  secrets: [string, string][];
}

/**
 * Reads `request` (its body to the end) into the form its run stores. Throws
 * `payload_too_large` when the body is over `maxBodyBytes`.
 */
export async function readRequest(request: Request, maxBodyBytes: number): Promise<ReadRequest> {
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (declared > maxBodyBytes) throw tooLarge(declared, maxBodyBytes);
  const bytes = new Uint8Array(await request.arrayBuffer());
  if (bytes.byteLength > maxBodyBytes) throw tooLarge(bytes.byteLength, maxBodyBytes);
  const headers: [string, string][] = [];
  const secrets: [string, string][] = [];
  for (const [name, value] of request.headers) {
    (isUnstoredRequestHeader(name) ? secrets : headers).push([name, value]);
  }
  const stored: EndpointRequest = { method: request.method, url: request.url, headers };
  if (bytes.byteLength > 0) stored.body = bytes;
  return { stored, secrets };
}

function tooLarge(bytes: number, maxBodyBytes: number): SteadfastError {
  return new SteadfastError(
    "payload_too_large",
    `The request body is ${bytes} bytes; this endpoint stores at most ${maxBodyBytes} (the endpoint's maxBodyBytes option).`,
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

/** Reads the handler's `response` (its body to the end) into the form its run stores. */
export async function readResponse(response: Response): Promise<EndpointResponse> {
  const body = new Uint8Array(await response.arrayBuffer());
  const headers: [string, string][] = [];
  for (const [name, value] of response.headers) {
    if (isKeptResponseHeader(name)) headers.push([name, value]);
  }
  return { status: response.status, headers, body };
}

/** A `Response` from a stored one. */
export function toResponse(stored: EndpointResponse, extraHeaders: HeadersInit = {}): Response {
  const headers = new Headers(stored.headers);
  for (const [name, value] of new Headers(extraHeaders)) headers.set(name, value);
  // 1xx cannot be constructed, and 204, 205 and 304 carry no body (RFC 9110 section 6.4.1).
  const bodiless = [204, 205, 304].includes(stored.status);
  return new Response(bodiless ? null : new Uint8Array(stored.body), {
    status: stored.status,
    headers,
  });
}

/**
 * What makes two requests to endpoint `endpoint` the same for an `Idempotency-Key`: the method,
 * the path and query, and the body. Not the origin (a retry may reach another instance, under
 * another host or port), nor the headers (they vary between retries: a trace id, a date).
 */
export function requestFingerprint(endpoint: string, request: EndpointRequest): string {
  const body = createHash("sha256")
    .update(request.body ?? new Uint8Array())
    .digest("hex");
  const url = new URL(request.url);
  return fingerprint({ endpoint, method: request.method, target: url.pathname + url.search, body });
}
