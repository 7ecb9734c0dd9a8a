import type { MiddlewareHandler } from "hono";
import { TerminalError } from "../core/errors.ts";
import type { ServerEnv } from "./server-env.ts";

/**
 * The operator tenants when none are given (`createApp`, `startServer`, `steadfast serve`):
 * `default`, the tenant of the key a fresh install generates. Never "every tenant": the
 * operator-only routes make keys for any tenant and change destinations every tenant shares, so
 * an app built without `operatorTenants` refuses them to other tenants (issue 10).
 */
export const DEFAULT_OPERATOR_TENANTS: readonly string[] = Object.freeze(["default"]);

/**
 * Middleware that lets only keys of `operatorTenants` through; others get `403 forbidden`.
 * `why` says what makes the routes operator business (`Destinations are shared by every
 * tenant's calls`). The answer names no tenant (issue 10, item 6): a tenant learns that it is
 * not an operator, not who is.
 */
export function onlyOperators(
  operatorTenants: readonly string[],
  why: string,
): MiddlewareHandler<ServerEnv> {
  const operators = new Set(operatorTenants);
  return async (c, next) => {
    if (!operators.has(c.get("tenantId"))) {
      throw new TerminalError(
        "forbidden",
        `${why}, so only keys of the server's operator tenants (STEADFAST_OPERATOR_TENANTS) may use these routes, and this key's tenant is not one of them`,
      );
    }
    await next();
  };
}
