import type { MiddlewareHandler } from "hono";
import { API_KEY_PATTERN } from "../core/api-key.ts";
import type { ApiKeysService } from "../engine/api-keys-service.ts";
import { requestHeader } from "./node-request.ts";
import { problemResponse } from "./problem.ts";
import type { ServerEnv } from "./server-env.ts";

// RFC 6750 section 2.1: `Bearer` then a token68 (`API_KEY_PATTERN`, the one rule for keys); the
// scheme is case-insensitive (RFC 9110 section 11.1).
const BEARER = /^Bearer +(\S+) *$/i;

/**
 * Authenticates `Authorization: Bearer <key>` through `keys.authenticate` and sets the key's
 * tenant on the context as `tenantId`. A missing or malformed header, or an unknown or revoked
 * key, is a `401 unauthorized` problem with `WWW-Authenticate: Bearer`.
 */
export function requireApiKey(
  keys: Pick<ApiKeysService, "authenticate">,
): MiddlewareHandler<ServerEnv> {
  return async (c, next) => {
    const header = requestHeader(c, "authorization");
    if (header === undefined || header.trim() === "") {
      return problemResponse(c, "unauthorized", {
        detail: "Missing API key: send it as `Authorization: Bearer <key>`",
      });
    }
    const key = BEARER.exec(header)?.[1];
    if (key === undefined || !API_KEY_PATTERN.test(key)) {
      return problemResponse(c, "unauthorized", {
        detail: "Malformed Authorization header: expected `Authorization: Bearer <key>`",
        headers: { "www-authenticate": 'Bearer realm="steadfast", error="invalid_request"' },
      });
    }
    const tenantId = await keys.authenticate(key);
    if (tenantId === undefined) {
      return problemResponse(c, "unauthorized", {
        detail:
          "Unknown or revoked API key: check the key (a server that generated one prints where its key file is when it starts; `steadfast keys list` shows the active keys' prefixes)",
        headers: { "www-authenticate": 'Bearer realm="steadfast", error="invalid_token"' },
      });
    }
    c.set("tenantId", tenantId);
    await next();
  };
}
