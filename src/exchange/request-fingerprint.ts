/**
 * The fingerprint of a request (issues 12 and 13): what tells a retry from another request sent
 * with the same key (the idempotency middleware's records, a durable endpoint's runs) (draft-ietf-httpapi-idempotency-key-header-06 section 2.2: the server may compare the
 * payload). SHA-256 over the method, the route, the target (path and query) and the body: a JSON
 * body as its RFC 8785 canonical form (key order, whitespace and number spelling do not matter),
 * any other body as its raw bytes. The algorithm's id is stored with the digest, so a later
 * version can change the algorithm without mistaking old records for other requests' silently.
 */
import { createHash, type Hash } from "node:crypto";
import canonicalize from "canonicalize";
import { isJsonMediaType } from "../core/http-fields.ts";

/** Ids of the fingerprint algorithms: JSON bodies canonicalised, other bodies as bytes. */
export const FINGERPRINT_ALGORITHMS = {
  /** SHA-256 over method, route, target and the RFC 8785 (JCS) form of a JSON body. */
  json: "sha256-jcs-v1",
  /** SHA-256 over method, route, target and the body's bytes. */
  raw: "sha256-raw-v1",
} as const;

/** A request's fingerprint: the algorithm's id and the digest (lower-case hex). */
export interface Fingerprint {
  readonly algorithm: string;
  readonly digest: string;
}

/** What a fingerprint covers. */
export interface FingerprintInput {
  /** Upper case (`POST`). */
  readonly method: string;
  /** The route the middleware scopes keys by (`/orders`, or a framework's `/orders/:id`). */
  readonly route: string;
  /** Path and query as requested (`/orders?dry_run=1`). */
  readonly target: string;
  /** The request's `Content-Type`, or `null`. */
  readonly contentType: string | null;
  readonly body: Uint8Array;
}

/**
 * The fingerprint of a request. A body whose `Content-Type` is JSON (`application/json`,
 * `+json`) and parses is canonicalised (RFC 8785: numbers as IEEE doubles, as JSON.parse reads
 * them; a repeated member's last value); any other body, malformed JSON included, is hashed as
 * its bytes.
 *
 * @example
 * requestFingerprint({ method: "POST", route: "/orders", target: "/orders", contentType: "application/json", body })
 * // { algorithm: "sha256-jcs-v1", digest: "9f86d0..." }
 */
export function requestFingerprint(input: FingerprintInput): Fingerprint {
  const canonical = canonicalJson(input.contentType, input.body);
  const hash = createHash("sha256");
  for (const field of [input.method, input.route, input.target]) frame(hash, field);
  if (canonical !== undefined) {
    hash.update(canonical, "utf8");
    return { algorithm: FINGERPRINT_ALGORITHMS.json, digest: hash.digest("hex") };
  }
  hash.update(input.body);
  return { algorithm: FINGERPRINT_ALGORITHMS.raw, digest: hash.digest("hex") };
}

function canonicalJson(contentType: string | null, body: Uint8Array): string | undefined {
  if (contentType === null || !isJsonMediaType(contentType)) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(body));
  } catch {
    return undefined;
  }
  return canonicalize(value);
}

// Each field as `<byte length>:<bytes>`, so that no two field lists hash the same input.
function frame(hash: Hash, field: string): void {
  hash.update(`${Buffer.byteLength(field, "utf8")}:${field}`, "utf8");
}
