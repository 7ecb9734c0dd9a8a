/**
 * The OpenAPI 3.1 document served at `GET /openapi.json`, built from the same zod schemas that
 * validate requests (`FetchInputSchema`, `ListCallsQuerySchema`) and describe responses
 * (`schemas.ts`). OpenAPI 3.1 uses JSON Schema 2020-12, which is what `z.toJSONSchema` emits.
 */
import { z } from "zod";
import { EventInputSchema } from "../core/event-input.ts";
import { FetchInputSchema } from "../core/fetch-input.ts";
import {
  ApiKeyListSchema,
  ApiKeyViewSchema,
  CreateApiKeyInputSchema,
  CreatedApiKeySchema,
  ListApiKeysQuerySchema,
} from "./api-key-schemas.ts";
import { PROBLEM_CONTENT_TYPE, PROBLEM_KINDS } from "./problem.ts";
import { MAX_PREFER_WAIT_SECONDS } from "./request-headers.ts";
import {
  ListRunsQuerySchema,
  RunAcceptedSchema,
  RunPageSchema,
  RunResultProblemSchema,
  RunResultQuerySchema,
  RunSummaryViewSchema,
  RunViewSchema,
  SentEventSchema,
} from "./run-schemas.ts";
import {
  AttemptListSchema,
  CallbackPayloadSchema,
  CallbackViewSchema,
  SigningSecretSchema,
  AttemptViewSchema,
  CallPageSchema,
  CallViewSchema,
  DestinationLimitsInputSchema,
  DestinationListSchema,
  DestinationViewSchema,
  HealthSchema,
  ListCallsQuerySchema,
  ProblemSchema,
  ResponseViewSchema,
} from "./schemas.ts";

/** Options of `buildOpenApiDocument`. */
export interface OpenApiOptions {
  /** `info.version`. Default `0.1.0`. */
  version?: string;
  /** Request body limit stated in the document, bytes. */
  maxBodyBytes?: number;
}

type JsonObject = Record<string, unknown>;

const ref = (name: string): JsonObject => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: JsonObject): JsonObject => ({ "application/json": { schema } });

function withoutMeta(schema: JsonObject): JsonObject {
  const { $schema: _schema, $id: _id, ...rest } = schema;
  return rest;
}

/** The `components.schemas` of the document, with `$ref`s between them. */
function componentSchemas(): Record<string, JsonObject> {
  const registry = z.registry<{ id: string }>();
  registry.add(FetchInputSchema, { id: "FetchInput" });
  registry.add(CallViewSchema, { id: "CallView" });
  registry.add(CallbackViewSchema, { id: "CallbackView" });
  registry.add(CallbackPayloadSchema, { id: "CallbackPayload" });
  registry.add(ResponseViewSchema, { id: "ResponseView" });
  registry.add(AttemptViewSchema, { id: "AttemptView" });
  registry.add(CallPageSchema, { id: "CallPage" });
  registry.add(AttemptListSchema, { id: "AttemptList" });
  registry.add(SigningSecretSchema, { id: "SigningSecret" });
  registry.add(ProblemSchema, { id: "Problem" });
  registry.add(HealthSchema, { id: "Health" });
  registry.add(DestinationViewSchema, { id: "DestinationView" });
  registry.add(DestinationListSchema, { id: "DestinationList" });
  registry.add(DestinationLimitsInputSchema, { id: "DestinationLimitsInput" });
  registry.add(ApiKeyViewSchema, { id: "ApiKeyView" });
  registry.add(ApiKeyListSchema, { id: "ApiKeyList" });
  registry.add(CreatedApiKeySchema, { id: "CreatedApiKey" });
  registry.add(CreateApiKeyInputSchema, { id: "CreateApiKeyInput" });
  registry.add(RunViewSchema, { id: "RunView" });
  registry.add(RunSummaryViewSchema, { id: "RunSummaryView" });
  registry.add(RunPageSchema, { id: "RunPage" });
  registry.add(RunAcceptedSchema, { id: "RunAccepted" });
  registry.add(RunResultProblemSchema, { id: "RunResultProblem" });
  registry.add(EventInputSchema, { id: "EventInput" });
  registry.add(SentEventSchema, { id: "SentEvent" });
  const { schemas } = z.toJSONSchema(registry, {
    uri: (id) => `#/components/schemas/${id}`,
    io: "input",
  });
  return Object.fromEntries(
    Object.entries(schemas).map(([id, schema]) => [id, withoutMeta(schema as JsonObject)]),
  );
}

/** A problem response for each of `codes`, grouped by status. */
function problems(...codes: (keyof typeof PROBLEM_KINDS)[]): Record<string, JsonObject> {
  const byStatus = new Map<number, string[]>();
  for (const code of [...codes, "internal" as const]) {
    const { status } = PROBLEM_KINDS[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const out: Record<string, JsonObject> = {};
  for (const [status, list] of byStatus) {
    out[String(status)] = {
      description: `Problem details; code ${list.join(" or ")}.`,
      content: { [PROBLEM_CONTENT_TYPE]: { schema: ref("Problem") } },
    };
  }
  return out;
}

const pathParam = (name: string, description: string): JsonObject => ({
  name,
  in: "path",
  required: true,
  schema: { type: "string" },
  description,
});
const idParam = pathParam("id", "Call id (call_...).");
const destinationParam = pathParam(
  "destination",
  "An origin, URL-encoded (https%3A%2F%2Fapi.example.com, http%3A%2F%2F127.0.0.1%3A8080), or host[:port], which means https (api.example.com is https://api.example.com).",
);
const runIdParam = pathParam(
  "id",
  "The run's id, as it was started with (its idempotency key), percent-encoded.",
);
const keyIdParam = pathParam(
  "id",
  "API key id (key_...), as GET /v1/keys shows it; not the key itself.",
);
/** A `200`-style answer carrying the component schema `name`. */
const viewResponse = (name: string, description: string): JsonObject => ({
  description,
  content: json(ref(name)),
});
const keyResponse = (description: string): JsonObject => viewResponse("ApiKeyView", description);
const KEYS_ACCESS =
  " A key reaches every call of its tenant, so only keys of operator tenants (STEADFAST_OPERATOR_TENANTS) may use these routes; others get 403.";
const destinationResponse = (description: string): JsonObject =>
  viewResponse("DestinationView", description);
const callResponse = (description: string): JsonObject => ({
  description,
  headers: { Location: { schema: { type: "string" }, description: "/v1/calls/<id>" } },
  content: json(ref("CallView")),
});
const authed = ["unauthorized", "rate_limited", "shutting_down", "store_unavailable"] as const;

/** A Standard Webhooks header of every callback delivery. */
const webhookHeader = (name: string, description: string, pattern: string): JsonObject => ({
  name,
  in: "header",
  required: true,
  schema: { type: "string", pattern },
  description,
});

/**
 * The `webhooks` section (OpenAPI 3.1): the signed `POST` that a call's `callback.url` receives
 * when the call ends (`engine/callback-request.ts`), per Standard Webhooks.
 */
function webhooks(): JsonObject {
  return {
    callEnded: {
      post: {
        operationId: "callEnded",
        summary: "A call ended: its final state and attempts, signed",
        description:
          "Sent to the call's callback.url when the call succeeds or fails, signed per Standard Webhooks (https://www.standardwebhooks.com): webhook-signature is v1, + base64 HMAC-SHA256 of `webhook-id.webhook-timestamp.body`, keyed with the base64 part of the tenant's secret (GET /v1/signing-secret). " +
          "Delivered durably: up to 10 attempts over about a day, with backoff; webhook-id stays the same across attempts, so receivers can deduplicate, and webhook-timestamp and webhook-signature are fresh on each. " +
          "GET /v1/calls/{id} shows the delivery (callback), GET /v1/calls/{id}/callback/attempts its attempts.",
        security: [],
        parameters: [
          webhookHeader(
            "webhook-id",
            "The delivery's id (msg_...), the same on every attempt.",
            "^msg_[0-9A-Za-z]+$",
          ),
          webhookHeader(
            "webhook-timestamp",
            "When this attempt was signed, Unix seconds. Reject deliveries more than 5 minutes away from now.",
            "^[0-9]+$",
          ),
          webhookHeader(
            "webhook-signature",
            "Space-separated signatures, each `v1,<base64 HMAC-SHA256>`.",
            "^v1,[A-Za-z0-9+/=]+( v1,[A-Za-z0-9+/=]+)*$",
          ),
        ],
        requestBody: { required: true, content: json(ref("CallbackPayload")) },
        responses: {
          "2XX": { description: "Delivered: no further attempt." },
          default: {
            description:
              "Not delivered. Network errors, 408, 425, 429 and 5xx (except 501 and 505) are retried (Retry-After honoured); any other status ends the delivery as failed (POST /v1/calls/{id}/callback/retry sends it again).",
          },
        },
      },
    },
  };
}
const operator = [...authed, "forbidden"] as const;

/**
 * Builds the OpenAPI 3.1 document of the HTTP API (ARCHITECTURE.md section 5). Every `/v1` route
 * requires `Authorization: Bearer <key>`; `/healthz`, `/metrics` and `/openapi.json` do not.
 */
export function buildOpenApiDocument(options: OpenApiOptions = {}): JsonObject {
  const queryParamOf = (shape: Record<string, z.ZodType>, name: string): JsonObject => {
    const schema = withoutMeta(z.toJSONSchema(shape[name]!, { io: "input" }));
    const { description, ...rest } = schema;
    return { name, in: "query", required: false, description, schema: rest };
  };
  const queryParam = (name: keyof typeof ListCallsQuerySchema.shape): JsonObject =>
    queryParamOf(ListCallsQuerySchema.shape, name);
  const keyQueryParam = (name: keyof typeof ListApiKeysQuerySchema.shape): JsonObject =>
    queryParamOf(ListApiKeysQuerySchema.shape, name);
  const runQueryParam = (name: keyof typeof ListRunsQuerySchema.shape): JsonObject =>
    queryParamOf(ListRunsQuerySchema.shape, name);
  const limitNote =
    options.maxBodyBytes === undefined ? "" : ` Bodies over ${options.maxBodyBytes} bytes get 413.`;
  return {
    openapi: "3.1.0",
    info: {
      title: "Steadfast durable call API",
      version: options.version ?? "0.1.0",
      description:
        "Durable HTTP calls: accepted calls are persisted, retried with backoff and recorded attempt by attempt. " +
        "Errors are application/problem+json (RFC 9457); every response carries X-Request-Id.",
    },
    security: [{ bearer: [] }],
    components: {
      securitySchemes: {
        bearer: {
          type: "http",
          scheme: "bearer",
          description: "An API key: Authorization: Bearer <key>.",
        },
      },
      schemas: componentSchemas(),
    },
    webhooks: webhooks(),
    paths: {
      "/v1/fetch": {
        post: {
          operationId: "submitCall",
          summary: "Accept a durable call",
          description: `Persists the call and answers once it is committed.${limitNote}`,
          parameters: [
            {
              name: "Idempotency-Key",
              in: "header",
              required: false,
              schema: { type: "string", minLength: 1, maxLength: 255 },
              description:
                'Same key and same request: the same call is returned (Idempotent-Replayed: true). Same key, different request: 422. 1 to 255 characters a header value can carry (no control character, nothing beyond Latin-1, no space at either end), bare or as a quoted string ("order-42").',
            },
            {
              name: "Prefer",
              in: "header",
              required: false,
              schema: { type: "string", examples: ["wait=10"] },
              description: `wait=<seconds> (RFC 7240), at most ${MAX_PREFER_WAIT_SECONDS} (longer is cut; Preference-Applied says what was applied): hold the answer until the call ends (200) or the wait runs out (202). A wait that is not whole seconds is refused (422, field Prefer) unless handling=lenient is sent too; other preferences are ignored.`,
            },
          ],
          requestBody: { required: true, content: json(ref("FetchInput")) },
          responses: {
            "200": callResponse("The call ended within the Prefer: wait time; the final call."),
            "202": callResponse("The call is accepted (committed)."),
            ...problems(
              "invalid_json",
              "unsupported_media_type",
              "payload_too_large",
              "invalid_request",
              "invalid_url",
              "blocked_destination",
              "idempotency_key_reused",
              ...authed,
            ),
          },
        },
      },
      "/v1/calls": {
        get: {
          operationId: "listCalls",
          summary: "List calls, newest first",
          parameters: [queryParam("status"), queryParam("limit"), queryParam("cursor")],
          responses: {
            "200": { description: "A page of calls.", content: json(ref("CallPage")) },
            ...problems("invalid_request", ...authed),
          },
        },
      },
      "/v1/calls/{id}": {
        get: {
          operationId: "getCall",
          summary: "Read a call",
          parameters: [idParam],
          responses: {
            "200": { description: "The call.", content: json(ref("CallView")) },
            ...problems("not_found", ...authed),
          },
        },
      },
      "/v1/calls/{id}/attempts": {
        get: {
          operationId: "listAttempts",
          summary: "Read a call's attempts",
          parameters: [idParam],
          responses: {
            "200": {
              description: "The attempts, oldest first.",
              content: json(ref("AttemptList")),
            },
            ...problems("not_found", ...authed),
          },
        },
      },
      "/v1/calls/{id}/cancel": {
        post: {
          operationId: "cancelCall",
          summary: "Cancel a call that has not ended",
          parameters: [idParam],
          responses: {
            "200": { description: "The cancelled call.", content: json(ref("CallView")) },
            ...problems("not_found", "invalid_state", ...authed),
          },
        },
      },
      "/v1/calls/{id}/retry": {
        post: {
          operationId: "retryCall",
          summary: "Redrive a failed call, or retry a waiting one now",
          parameters: [idParam],
          responses: {
            "202": callResponse("The call is queued again."),
            ...problems("not_found", "invalid_state", ...authed),
          },
        },
      },
      "/v1/calls/{id}/callback/attempts": {
        get: {
          operationId: "listCallbackAttempts",
          summary: "Read the attempts of a call's callback delivery",
          description:
            "Empty until the call ends and its callback is first attempted. 404 also when the call has no callback.url.",
          parameters: [idParam],
          responses: {
            "200": {
              description: "The delivery's attempts, oldest first.",
              content: json(ref("AttemptList")),
            },
            ...problems("not_found", ...authed),
          },
        },
      },
      "/v1/calls/{id}/callback/retry": {
        post: {
          operationId: "retryCallback",
          summary: "Send a failed callback again, or a retrying one now",
          description:
            "A failed delivery gets a fresh attempt budget and deadline, with the same webhook-id. 409 when the call has not ended, was cancelled, or its callback was delivered or is in flight; 404 also when the call has no callback.url.",
          parameters: [idParam],
          responses: {
            "202": callResponse("The call; its callback is due now."),
            ...problems("not_found", "invalid_state", ...authed),
          },
        },
      },
      "/v1/runs": {
        get: {
          operationId: "listRuns",
          summary: "List workflow runs, newest first",
          description:
            "Without input, output and steps: GET /v1/runs/{id} has them. Runs are started in-process (they execute your code), not over HTTP.",
          parameters: [
            runQueryParam("workflow"),
            runQueryParam("status"),
            runQueryParam("limit"),
            runQueryParam("cursor"),
          ],
          responses: {
            "200": { description: "A page of runs.", content: json(ref("RunPage")) },
            ...problems("invalid_request", ...authed),
          },
        },
      },
      "/v1/runs/{id}": {
        get: {
          operationId: "getRun",
          summary: "Read a run: status, input, output or error, and each step with its attempts",
          parameters: [runIdParam],
          responses: {
            "200": { description: "The run.", content: json(ref("RunView")) },
            ...problems("not_found", ...authed),
          },
        },
      },
      "/v1/runs/{id}/result": {
        get: {
          operationId: "getRunResult",
          summary: "The answer of a durable endpoint's run, once it has ended",
          description:
            "For a run of steadfast.endpoint: the response its handler returned (status, its kept headers, body), as the endpoint's handoff location answers it. Held until the run ends, up to wait seconds, then 202 with Location and Retry-After. A failed run answers 500 run_failed, a cancelled one 409 run_cancelled; a run that is not an endpoint run 409 invalid_state.",
          parameters: [runIdParam, queryParamOf(RunResultQuerySchema.shape, "wait")],
          responses: {
            "200": {
              description:
                "The stored response: its status (any), kept headers and body. 200 is shown for all of them.",
              content: { "*/*": { schema: {} } },
            },
            "202": {
              description: "The run has not ended yet; ask Location again.",
              headers: {
                Location: { schema: { type: "string" }, description: "/v1/runs/<id>/result" },
                "Retry-After": { schema: { type: "integer" }, description: "Seconds." },
              },
              content: json(ref("RunAccepted")),
            },
            ...problems("not_found", "invalid_state", ...authed),
            "409": {
              description:
                "Problem details; code invalid_state (not an endpoint run) or run_cancelled (the run was cancelled).",
              content: { [PROBLEM_CONTENT_TYPE]: { schema: ref("RunResultProblem") } },
            },
            "500": {
              description: "Problem details; code run_failed (the run failed) or internal.",
              content: { [PROBLEM_CONTENT_TYPE]: { schema: ref("RunResultProblem") } },
            },
          },
        },
      },
      "/v1/runs/{id}/cancel": {
        post: {
          operationId: "cancelRun",
          summary: "Cancel a run that has not ended",
          description:
            "A sleeping, waiting or queued run ends at once; a running one stops at its next step boundary (its next commit is refused). Nothing is compensated. 409 when it has ended.",
          parameters: [runIdParam],
          responses: {
            "200": { description: "The cancelled run.", content: json(ref("RunView")) },
            ...problems("not_found", "invalid_state", ...authed),
          },
        },
      },
      "/v1/runs/{id}/retry": {
        post: {
          operationId: "retryRun",
          summary: "Retry a failed run from its failed step, with the current code",
          description:
            "Its completed steps stay memoized; the steps that failed for good run again. 409 unless the run failed without running compensations (a compensated run's steps were undone: start a new run).",
          parameters: [runIdParam],
          responses: {
            "202": {
              description: "The run, queued again.",
              headers: {
                Location: { schema: { type: "string" }, description: "/v1/runs/<id>" },
              },
              content: json(ref("RunView")),
            },
            ...problems("not_found", "invalid_state", ...authed),
          },
        },
      },
      "/v1/events": {
        post: {
          operationId: "sendEvent",
          summary: "Send an event to the runs waiting for it",
          description: `Records the event and wakes this tenant's runs waiting for an event of its name (step.waitForEvent). The id deduplicates: sending it again with the same name and data records nothing (created false, 202); with another name or data it is refused (409 event_id_reused).${limitNote}`,
          requestBody: { required: true, content: json(ref("EventInput")) },
          responses: {
            "202": { description: "The event, recorded.", content: json(ref("SentEvent")) },
            ...problems(
              "invalid_json",
              "unsupported_media_type",
              "payload_too_large",
              "invalid_request",
              "event_id_reused",
              ...authed,
            ),
          },
        },
      },
      "/v1/signing-secret": {
        get: {
          operationId: "getSigningSecret",
          summary: "The secret that signs this tenant's callbacks (Standard Webhooks)",
          responses: {
            "200": { description: "The signing secret.", content: json(ref("SigningSecret")) },
            ...problems(...authed),
          },
        },
      },
      "/v1/destinations": {
        get: {
          operationId: "listDestinations",
          summary: "Every destination's protection and health (operator view, all tenants)",
          description:
            "Breaker state, pause, limits, and this process's recent error rate and latency per destination (origin). Destinations are shared by every tenant's calls, so only keys of operator tenants (STEADFAST_OPERATOR_TENANTS) may read or change them; others get 403.",
          responses: {
            "200": { description: "The destinations.", content: json(ref("DestinationList")) },
            ...problems(...operator),
          },
        },
      },
      "/v1/destinations/{destination}": {
        get: {
          operationId: "getDestination",
          summary: "One destination's protection and health",
          parameters: [destinationParam],
          responses: {
            "200": destinationResponse("The destination."),
            ...problems("not_found", "invalid_request", ...operator),
          },
        },
        put: {
          operationId: "setDestinationLimits",
          summary: "Set or remove a destination's rate and concurrency limits",
          description: `A number sets a limit, null removes it, an absent field is kept. Saved before the answer; calls the destination holds are woken to see the new limits.${limitNote}`,
          parameters: [destinationParam],
          requestBody: { required: true, content: json(ref("DestinationLimitsInput")) },
          responses: {
            "200": destinationResponse("The destination with its new limits."),
            ...problems(
              "invalid_json",
              "unsupported_media_type",
              "payload_too_large",
              "invalid_request",
              ...operator,
            ),
          },
        },
      },
      "/v1/destinations/{destination}/reset": {
        post: {
          operationId: "resetDestination",
          summary: "Close a destination's breaker and end its pause",
          description:
            "For operators who know the destination is back: the calls it holds become due at once.",
          parameters: [destinationParam],
          responses: {
            "200": destinationResponse("The destination, reset."),
            ...problems("not_found", "invalid_request", ...operator),
          },
        },
      },
      "/v1/keys": {
        get: {
          operationId: "listApiKeys",
          summary: "API keys, oldest first (operator view, all tenants)",
          description: `Each key's id, visible prefix, tenant, name, source, creation, last use and revocation; never the key.${KEYS_ACCESS}`,
          parameters: [keyQueryParam("tenant"), keyQueryParam("includeRevoked")],
          responses: {
            "200": { description: "The keys.", content: json(ref("ApiKeyList")) },
            ...problems("invalid_request", ...operator),
          },
        },
        post: {
          operationId: "createApiKey",
          summary: "Create an API key for a tenant",
          description: `The answer is the only place the key itself ever appears: store it. Rotation: create a key, deploy it, then revoke the old one.${KEYS_ACCESS}${limitNote}`,
          requestBody: { required: true, content: json(ref("CreateApiKeyInput")) },
          responses: {
            "201": {
              description: "The key, with the key itself.",
              headers: {
                Location: { schema: { type: "string" }, description: "/v1/keys/<id>" },
              },
              content: json(ref("CreatedApiKey")),
            },
            ...problems(
              "invalid_json",
              "unsupported_media_type",
              "payload_too_large",
              "invalid_request",
              ...operator,
            ),
          },
        },
      },
      "/v1/keys/{id}": {
        get: {
          operationId: "getApiKey",
          summary: "One API key, revoked or not",
          parameters: [keyIdParam],
          responses: {
            "200": keyResponse("The key."),
            ...problems("not_found", ...operator),
          },
        },
      },
      "/v1/keys/{id}/revoke": {
        post: {
          operationId: "revokeApiKey",
          summary: "Revoke an API key, for good",
          description:
            "Every server refuses the key within its authentication cache's lifetime (5 s by default); revoking a revoked key changes nothing. The last active key of the operator tenants cannot be revoked (409): create another first.",
          parameters: [keyIdParam],
          responses: {
            "200": keyResponse("The revoked key."),
            ...problems("not_found", "invalid_state", ...operator),
          },
        },
      },
      "/healthz": {
        get: {
          operationId: "health",
          summary: "Liveness and readiness",
          security: [],
          responses: {
            "200": { description: "Serving.", content: json(ref("Health")) },
            "503": {
              description: "Not serving (starting or shutting down).",
              content: json(ref("Health")),
            },
          },
        },
      },
      "/metrics": {
        get: {
          operationId: "metrics",
          summary: "Prometheus metrics",
          security: [],
          responses: {
            "200": {
              description: "Prometheus text exposition format.",
              content: { "text/plain": { schema: { type: "string" } } },
            },
          },
        },
      },
      "/openapi.json": {
        get: {
          operationId: "openapi",
          summary: "This document",
          security: [],
          responses: {
            "200": { description: "OpenAPI 3.1 document.", content: json({ type: "object" }) },
          },
        },
      },
    },
  };
}
