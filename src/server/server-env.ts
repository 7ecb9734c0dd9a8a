import type { TenantId } from "../core/ids.ts";

/** Per-request values the server's middleware sets on the Hono context. */
export interface ServerEnv {
  Variables: {
    /** Correlation id of this request, echoed as `X-Request-Id` and in problem details. */
    requestId: string;
    /** The tenant the request's API key belongs to (set by `requireApiKey`, `/v1` routes only). */
    tenantId: TenantId;
    /** Set by the not-found handler so metrics label the request `unmatched`. */
    unmatched: boolean;
  };
}
