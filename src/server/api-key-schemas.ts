/**
 * Zod schemas of the `/v1/keys` routes (issue 10, item 4): the request body and query they
 * validate, and the answers they give. They feed `openapi.json`, and the tests check real
 * answers against them.
 */
import { z } from "zod";
import { ApiKeySources } from "../core/api-key.ts";
import { isTenantName } from "../core/ids.ts";

const isoTime = z.iso.datetime().describe("ISO 8601 time, UTC.");
const TENANT_MESSAGE =
  "must be a tenant name: 1 to 64 letters, digits, '_', '.' or '-', starting with a letter or digit";
const NAME_MESSAGE = "must be 1 to 100 characters, without control characters";

const tenantName = z
  .string({ error: TENANT_MESSAGE })
  .refine(isTenantName, { error: TENANT_MESSAGE });

/** An API key as `GET /v1/keys` shows it: never the key, nor its hash. */
export const ApiKeyViewSchema = z
  .strictObject({
    id: z
      .string()
      .regex(/^key_[0-9A-HJKMNP-TV-Z]{26}$/)
      .describe("What POST /v1/keys/{id}/revoke takes."),
    tenant: z.string().describe("The tenant whose calls the key reaches."),
    prefix: z
      .string()
      .nullable()
      .describe(
        "The key's first characters (at most 8, never more than a quarter of it), to recognise it; null for keys stored before keys had prefixes.",
      ),
    name: z.string().optional().describe("A label for people."),
    source: z
      .enum(ApiKeySources)
      .describe(
        "env: managed by STEADFAST_API_KEYS (a start revokes those it no longer lists); generated: created at first start; api, cli: created through POST /v1/keys.",
      ),
    createdAt: isoTime,
    lastUsedAt: isoTime
      .optional()
      .describe("A recent use, recorded at most about once a minute per process."),
    revokedAt: isoTime.optional().describe("Present once revoked; a revoked key is refused."),
    revokedBy: z
      .enum(["env", "operator"])
      .optional()
      .describe(
        "Present with revokedAt. env: a start whose STEADFAST_API_KEYS no longer listed the key (a start that lists it again restores it); operator: POST /v1/keys/{id}/revoke, final.",
      ),
  })
  .describe("An API key.");

/** The answer of `GET /v1/keys`. */
export const ApiKeyListSchema = z
  .strictObject({ keys: z.array(ApiKeyViewSchema) })
  .describe("API keys, oldest first.");

/** The answer of `POST /v1/keys`: the key itself, this once. */
export const CreatedApiKeySchema = ApiKeyViewSchema.extend({
  key: z
    .string()
    .regex(/^sf_[A-Za-z0-9_-]{43}$/)
    .describe("The API key itself. Shown only in this answer: store it now."),
}).describe("A new API key.");

/** The body of `POST /v1/keys`. */
export const CreateApiKeyInputSchema = z
  .strictObject({
    tenant: tenantName.describe(
      "The tenant the key is for; a new tenant is created with its first key.",
    ),
    name: z
      .string({ error: NAME_MESSAGE })
      .min(1, { error: NAME_MESSAGE })
      .max(100, { error: NAME_MESSAGE })
      // eslint-disable-next-line no-control-regex -- control characters are what is refused
      .regex(/^[^\u0000-\u001f\u007f]*$/, { error: NAME_MESSAGE })
      .optional()
      .describe("A label for people, such as the service that uses the key."),
    source: z
      .enum(["api", "cli"], { error: "must be api or cli" })
      .optional()
      .describe("Who creates it, for the record: api (default) or cli (steadfast keys create)."),
  })
  .describe("A key to create.");

/** The query of `GET /v1/keys`. */
export const ListApiKeysQuerySchema = z.strictObject({
  tenant: tenantName.optional().describe("Only this tenant's keys."),
  includeRevoked: z
    .enum(["true", "false"], { error: "must be true or false" })
    .optional()
    .describe("true lists revoked keys too. Default false."),
});
