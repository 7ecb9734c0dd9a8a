/**
 * The response an idempotency record keeps, and its replay (issue 13). Only an allow-list of
 * headers is kept: what describes the body or the created resource. `Set-Cookie` is never kept
 * (a session handed to whoever retries with the key), nor `Date` (a replay is sent now), nor the
 * framing headers node:http computes again.
 */

/** A response as a record keeps it. */
export interface StoredResponse {
  readonly status: number;
  /** Kept header fields, lower-case names, in the order the handler set them. */
  readonly headers: readonly (readonly [string, string])[];
  readonly body: Uint8Array;
}

/** The header that marks a replayed response (the draft's and Stripe's practice). */
export const REPLAYED_HEADER = "idempotent-replayed";

/**
 * Response headers kept by default: `Location`, `ETag`, `Content-Location`, `Link`,
 * `Content-Type`, and `Content-Encoding` (the stored bytes are the body as the handler encoded
 * it: without it a compressed body would be replayed as if it were not).
 */
export const DEFAULT_REPLAYED_HEADERS: readonly string[] = [
  "location",
  "etag",
  "content-location",
  "link",
  "content-type",
  "content-encoding",
];

/**
 * Headers that are never kept, whatever the allow-list says, with the reason (the options refuse
 * them by name).
 */
export const NEVER_REPLAYED_HEADERS: ReadonlyMap<string, string> = new Map([
  ["set-cookie", "is a credential of the first caller's session"],
  ["set-cookie2", "is a credential of the first caller's session"],
  ["date", "is the time of the first response; node:http sets it on each one"],
  ["content-length", "is computed from the stored body"],
  ["transfer-encoding", "is chosen by the server for each response"],
  ["connection", "is a hop-by-hop header"],
  ["keep-alive", "is a hop-by-hop header"],
  ["trailer", "is a hop-by-hop header"],
  ["upgrade", "is a hop-by-hop header"],
  [REPLAYED_HEADER, "is added to every replay"],
]);

// RFC 9110 section 6.4.1 (and 15.3.5, 15.4.5): no content with these statuses.
const BODILESS_STATUSES: ReadonlySet<number> = new Set([101, 204, 205, 304]);

/** The kept form of `response`, whose body was read as `body`, keeping the headers of `kept`. */
export function toStoredResponse(
  response: Response,
  body: Uint8Array,
  kept: ReadonlySet<string>,
): StoredResponse {
  const headers: [string, string][] = [];
  for (const [name, value] of response.headers) {
    if (kept.has(name) && !NEVER_REPLAYED_HEADERS.has(name)) headers.push([name, value]);
  }
  return { status: response.status, headers, body };
}

/** A response with `status`, `headers` and `body`, leaving out the body where HTTP has none. */
export function responseOf(status: number, headers: HeadersInit, body: Uint8Array): Response {
  return new Response(BODILESS_STATUSES.has(status) ? null : new Uint8Array(body), {
    status,
    headers,
  });
}

/** The replay of `stored`: its status, kept headers and body, with `Idempotent-Replayed: true`. */
export function replayResponse(stored: StoredResponse): Response {
  const headers = new Headers(stored.headers as [string, string][]);
  headers.set(REPLAYED_HEADER, "true");
  return responseOf(stored.status, headers, stored.body);
}
