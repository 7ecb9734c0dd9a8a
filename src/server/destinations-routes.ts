import type { Hono } from "hono";
import { TerminalError } from "../core/errors.ts";
import { fieldIssues } from "../core/fetch-input.ts";
import type { DestinationsService } from "../engine/destinations/destinations-service.ts";
import { onlyOperators } from "./operator-only.ts";
import { readJsonBody } from "./read-json-body.ts";
import { DestinationLimitsInputSchema } from "./schemas.ts";
import type { ServerEnv } from "./server-env.ts";

/**
 * The destination routes (issue 3): the operator's view of every destination's protection.
 * Destinations are shared by every tenant's calls, so only keys of `operatorTenants` may use
 * them (others get `403 forbidden`).
 * `:destination` is an origin, URL-encoded (`https%3A%2F%2Fapi.example.com`), or `host[:port]`,
 * which means https (`api.example.com` is `https://api.example.com`).
 *
 * - `GET /v1/destinations`: `200 { destinations }`, ordered by origin;
 * - `GET /v1/destinations/:destination`: `200` the destination, `404` when unknown, `422` when
 *   `:destination` is not an origin;
 * - `PUT /v1/destinations/:destination`: body `{ rateLimitPerSecond?, maxConcurrency? }` (a
 *   number sets, `null` removes, absent keeps): `200` the destination with its new limits, saved;
 *   `422` naming each invalid field;
 * - `POST /v1/destinations/:destination/reset`: closes the breaker and ends a pause; `200`,
 *   `404` when unknown.
 */
export function registerDestinationsRoutes(
  app: Hono<ServerEnv>,
  destinations: DestinationsService,
  maxBodyBytes: number,
  operatorTenants: readonly string[],
): void {
  const operators = onlyOperators(
    operatorTenants,
    "Destinations are shared by every tenant's calls",
  );
  app.use("/v1/destinations", operators);
  app.use("/v1/destinations/*", operators);
  app.get("/v1/destinations", async (c) => c.json({ destinations: await destinations.list() }));

  app.get("/v1/destinations/:destination", async (c) =>
    c.json(await destinations.get(c.req.param("destination"))),
  );

  app.put("/v1/destinations/:destination", async (c) => {
    const body = await readJsonBody(c.req.raw, maxBodyBytes);
    const parsed = DestinationLimitsInputSchema.safeParse(body);
    if (!parsed.success) {
      const issues = fieldIssues(parsed.error);
      throw new TerminalError(
        "invalid_request",
        `Invalid limits: ${issues.map((i) => `${i.field}: ${i.message}`).join("; ")}`,
        { issues },
      );
    }
    const patch: { rateLimitPerSecond?: number | null; maxConcurrency?: number | null } = {};
    if (parsed.data.rateLimitPerSecond !== undefined)
      patch.rateLimitPerSecond = parsed.data.rateLimitPerSecond;
    if (parsed.data.maxConcurrency !== undefined) patch.maxConcurrency = parsed.data.maxConcurrency;
    return c.json(await destinations.setLimits(c.req.param("destination"), patch));
  });

  app.post("/v1/destinations/:destination/reset", async (c) =>
    c.json(await destinations.reset(c.req.param("destination"))),
  );
}
