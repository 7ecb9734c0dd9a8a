import type { Hono } from "hono";
import { toApiKeyView } from "../core/api-key.ts";
import { tenantId } from "../core/ids.ts";
import type { ApiKeysService } from "../engine/api-keys-service.ts";
import { CreateApiKeyInputSchema, ListApiKeysQuerySchema } from "./api-key-schemas.ts";
import { onlyOperators } from "./operator-only.ts";
import { readJsonBody } from "./read-json-body.ts";
import type { ServerEnv } from "./server-env.ts";
import { validInput } from "./valid-input.ts";

/**
 * The API key routes (issue 10, item 4), for operators: a key reaches every call of its tenant,
 * and these routes make keys for any tenant, so only keys of `operatorTenants` may use them
 * (others get `403 forbidden`).
 *
 * - `GET /v1/keys?tenant=&includeRevoked=`: `200 { keys }`, oldest first, active only by default;
 * - `POST /v1/keys`, body `{ tenant, name?, source? }`: `201` the key with the key itself (shown
 *   only this once), `Location: /v1/keys/<id>`;
 * - `GET /v1/keys/:id`: `200` the key, revoked or not; `404` when unknown;
 * - `POST /v1/keys/:id/revoke`: `200` the revoked key (again: unchanged); refused within the
 *   auth cache's lifetime by every process; `409 invalid_state` for the last active operator key.
 *
 * Rotation is create, deploy the new key, then revoke the old one.
 */
export function registerKeysRoutes(
  app: Hono<ServerEnv>,
  keys: ApiKeysService,
  maxBodyBytes: number,
  operatorTenants: readonly string[],
): void {
  const operators = onlyOperators(operatorTenants, "API keys reach every tenant's calls");
  app.use("/v1/keys", operators);
  app.use("/v1/keys/*", operators);

  app.get("/v1/keys", async (c) => {
    const query = validInput(ListApiKeysQuerySchema, c.req.query(), "query");
    const list = await keys.list({
      ...(query.tenant === undefined ? {} : { tenantId: tenantId(query.tenant) }),
      includeRevoked: query.includeRevoked === "true",
    });
    return c.json({ keys: list.map(toApiKeyView) });
  });

  app.post("/v1/keys", async (c) => {
    const body = await readJsonBody(c.req.raw, maxBodyBytes);
    const input = validInput(CreateApiKeyInputSchema, body, "key");
    const { key, record } = await keys.create({
      tenantId: tenantId(input.tenant),
      ...(input.name === undefined ? {} : { name: input.name }),
      source: input.source ?? "api",
    });
    c.header("Location", `/v1/keys/${record.id}`);
    // The one answer that carries the key: no cache may keep it.
    c.header("Cache-Control", "no-store");
    return c.json({ ...toApiKeyView(record), key }, 201);
  });

  app.get("/v1/keys/:id", async (c) => c.json(toApiKeyView(await keys.get(c.req.param("id")))));

  app.post("/v1/keys/:id/revoke", async (c) =>
    c.json(toApiKeyView(await keys.revoke(c.req.param("id"), operatorTenants))),
  );
}
