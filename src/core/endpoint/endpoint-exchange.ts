/**
 * Durable endpoints (issue 12): the request an endpoint run stores as its input, the response it
 * stores as its output, and the rules about them that do no I/O: which request headers are never
 * stored, which response headers are kept, the run id an `Idempotency-Key` maps to, and the
 * handoff location (`?steadfast_run=<runId>`) the same endpoint answers.
 */
import { isSecretHeader } from "../redact.ts";

/** A request as an endpoint run stores it (its input): secret headers left out. */
export interface EndpointRequest {
  /** Upper case, as the `Request` gave it (`POST`). */
  method: string;
  /** The absolute URL the endpoint was called on. */
  url: string;
  /** Header fields, lower-case names, in the order received, secret ones left out. */
  headers: [string, string][];
  /** The body's bytes; absent when it had none. */
  body?: Uint8Array;
}

/** A response as an endpoint run stores it (its output): kept headers only. */
export interface EndpointResponse {
  status: number;
  /** Header fields the stored response keeps (`isKeptResponseHeader`), lower-case names. */
  headers: [string, string][];
  body: Uint8Array;
}

/** The query parameter of the handoff location: the run whose response a `GET` asks for. */
export const RUN_PARAMETER = "steadfast_run";

/**
 * Request headers never stored with a run: the one rule of what is a credential
 * (`isSecretHeader`: `Authorization`, `Cookie`, `Proxy-Authorization`, `X-Api-Key`, names with
 * `token`, `secret`, `session`...). The invocation the request itself drives sees them; a later
 * one (after a handoff or a crash) does not.
 */
export function isUnstoredRequestHeader(name: string): boolean {
  return isSecretHeader(name);
}

/**
 * Response headers a stored response keeps: what describes the body and how to cache it, and a
 * redirect's `Location`. `Set-Cookie` is never stored (a credential, replayed to whoever holds
 * the run's location), nor `Content-Length` and `Content-Encoding` (the stored body is the
 * decoded bytes, framed again when sent) or hop-by-hop fields.
 */
const KEPT_RESPONSE_HEADERS: ReadonlySet<string> = new Set([
  "content-type",
  "content-language",
  "content-disposition",
  "content-location",
  "cache-control",
  "etag",
  "last-modified",
  "expires",
  "link",
  "location",
  "vary",
  "retry-after",
]);

/** True when a stored response keeps a header of this name (see `KEPT_RESPONSE_HEADERS`). */
export function isKeptResponseHeader(name: string): boolean {
  return KEPT_RESPONSE_HEADERS.has(name.toLowerCase());
}

/**
 * The run id of a request carrying `Idempotency-Key: key` to endpoint `endpoint`:
 * `<endpoint>:<key>`, so one key names one run per endpoint.
 *
 * @example endpointRunId("chat", "req-42") // "chat:req-42"
 */
export function endpointRunId(endpoint: string, key: string): string {
  return `${endpoint}:${key}`;
}

/**
 * The handoff location of run `runId` of the endpoint called at `url`: the same URL with
 * `steadfast_run=<runId>` (replacing one it had), so the same wrapped handler answers it and no
 * route of its own is needed.
 *
 * @example handoffLocation("http://127.0.0.1/chat?x=1", "run_01J") // "http://127.0.0.1/chat?x=1&steadfast_run=run_01J"
 */
export function handoffLocation(url: string, runId: string): string {
  const location = new URL(url);
  location.searchParams.set(RUN_PARAMETER, runId);
  return location.toString();
}

/** The run a request asks the response of: a `GET` (or `HEAD`) with `steadfast_run`, else none. */
export function requestedRun(method: string, url: URL): string | undefined {
  if (method !== "GET" && method !== "HEAD") return undefined;
  return url.searchParams.get(RUN_PARAMETER) ?? undefined;
}

/**
 * `Retry-After` of a `202` for a run due at `runAt` (epoch ms; unknown: soon), in whole seconds
 * (RFC 9110 section 10.2.3): at least 1, at most 3,600 (the location holds the request until
 * the run ends anyway, so coming back early costs one request).
 */
export function retryAfterSeconds(runAt: number | undefined, now: number): number {
  if (runAt === undefined) return 1;
  return Math.min(3_600, Math.max(1, Math.ceil((runAt - now) / 1_000)));
}

/** True when `value` has the shape of an `EndpointRequest` (a stored input, read back). */
export function isEndpointRequest(value: unknown): value is EndpointRequest {
  if (typeof value !== "object" || value === null) return false;
  const request = value as Partial<EndpointRequest>;
  return (
    typeof request.method === "string" &&
    typeof request.url === "string" &&
    Array.isArray(request.headers) &&
    (request.body === undefined || request.body instanceof Uint8Array)
  );
}

/** True when `value` has the shape of an `EndpointResponse` (a stored output, read back). */
export function isEndpointResponse(value: unknown): value is EndpointResponse {
  if (typeof value !== "object" || value === null) return false;
  const response = value as Partial<EndpointResponse>;
  return (
    typeof response.status === "number" &&
    Array.isArray(response.headers) &&
    response.body instanceof Uint8Array
  );
}
