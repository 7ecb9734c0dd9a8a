/**
 * Destinations are origins (RFC 6454): scheme, host and port, written as `URL.origin` writes them
 * (`https://api.example.com`, `http://127.0.0.1:8080`, the default port left out). Every call and
 * step to one origin shares that destination's protection.
 */
import { redactUrl } from "../../core/redact.ts";

// Per-process memo of URL prefix (up to the path) -> origin: parsing a URL costs about a
// microsecond, a Map lookup a few nanoseconds. Bounded, and simply dropped when full.
const origins = new Map<string, string>();
const MAX_MEMO = 10_000;

/**
 * The destination of a request URL: its origin. Throws a `TypeError` for a URL that does not
 * parse (accepted calls always have one that does).
 *
 * @example destinationOf("https://API.example.com:443/v1/orders?x=1") // "https://api.example.com"
 */
export function destinationOf(url: string): string {
  const scheme = url.indexOf("://");
  let end = scheme < 0 ? url.length : url.indexOf("/", scheme + 3);
  if (end < 0) end = url.length;
  const prefix = url.slice(0, end);
  let origin = origins.get(prefix);
  if (origin === undefined) {
    origin = new URL(url).origin;
    if (origins.size >= MAX_MEMO) origins.clear();
    // A prefix with `?`, `#` or user info is not memoised: it is not only scheme and authority.
    if (!/[?#@]/.test(prefix)) origins.set(prefix, origin);
  }
  return origin;
}

/**
 * `host:port` of an origin, with the port always written, for messages: `api.example.com:443`.
 *
 * @example hostPort("https://api.example.com") // "api.example.com:443"
 */
export function hostPort(origin: string): string {
  try {
    const url = new URL(origin);
    const port = url.port !== "" ? url.port : url.protocol === "https:" ? "443" : "80";
    return `${url.hostname}:${port}`;
  } catch {
    return origin;
  }
}

/** Why a destination as typed by a person could not be read. */
export type DestinationParse = { ok: true; destination: string } | { ok: false; message: string };

/**
 * Reads a destination as the API and the CLI accept it: an origin (`https://api.example.com`,
 * `http://127.0.0.1:8080`), or `host[:port]`, which means https (`api.example.com` is
 * `https://api.example.com`, port 443). A path other than `/`, a query, a fragment or user info
 * is refused, since a destination is only scheme, host and port.
 *
 * @example parseDestination("api.example.com:8443") // { ok: true, destination: "https://api.example.com:8443" }
 */
export function parseDestination(input: string): DestinationParse {
  const text = input.trim();
  const example = "https://api.example.com, http://127.0.0.1:8080 or api.example.com:443";
  if (text === "") return { ok: false, message: `is empty; expected an origin such as ${example}` };
  const hasScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text);
  let url: URL;
  try {
    url = new URL(hasScheme ? text : `https://${text}`);
  } catch {
    return {
      ok: false,
      message: `"${redactUrl(text)}" is not an origin; expected one such as ${example}`,
    };
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return {
      ok: false,
      message: `"${redactUrl(text)}" must use http or https; expected ${example}`,
    };
  }
  if (url.username !== "" || url.password !== "") {
    return {
      ok: false,
      message: `"${redactUrl(text)}" must not contain user info; give only the origin`,
    };
  }
  if ((url.pathname !== "/" && url.pathname !== "") || url.search !== "" || url.hash !== "") {
    return {
      ok: false,
      message: `"${redactUrl(text)}" has a path, query or fragment; a destination is only scheme, host and port, such as ${url.origin}`,
    };
  }
  return { ok: true, destination: url.origin };
}
