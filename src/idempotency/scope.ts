/**
 * The scope of an idempotency key (issue 13): principal, method, route and key. Two requests
 * share a record only when all four are equal, so a key never returns another principal's
 * response. The store sees only a SHA-256 of the four: a principal is often a credential (an
 * `Authorization` header), which must not be written to the database as it is.
 */
import { createHash } from "node:crypto";

/** What scopes a key. */
export interface ScopeInput {
  /** Who owns the key (the `principal` option's answer). */
  readonly principal: string;
  /** Upper case. */
  readonly method: string;
  readonly route: string;
  /** The key, unquoted. */
  readonly key: string;
}

/**
 * The store's id of a scope: the SHA-256 (lower-case hex, 64 characters) of its four parts, each
 * framed with its length so that no two scopes collide by concatenation.
 *
 * @example scopeId({ principal: "acme", method: "POST", route: "/orders", key: "k-1" }) // "3b0c..."
 */
export function scopeId(scope: ScopeInput): string {
  const hash = createHash("sha256");
  for (const part of [scope.principal, scope.method, scope.route, scope.key]) {
    hash.update(`${Buffer.byteLength(part, "utf8")}:${part}`, "utf8");
  }
  return hash.digest("hex");
}
