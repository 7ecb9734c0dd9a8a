import type { ApiKeyView } from "../core/api-key.ts";
import type { CallStatus } from "../core/call.ts";
import type { AttemptView, CallView, DestinationView } from "../core/call-view.ts";
import type { EventInput } from "../core/event-input.ts";
import type { FetchInput } from "../core/fetch-input.ts";
import type { RunSummaryView, RunView } from "../core/run-view.ts";
import type { RunStatus } from "../core/workflow/run-state.ts";
import { SteadfastApiError, SteadfastConnectionError, type ProblemDetails } from "./errors.ts";
import { InvalidOptionError } from "../core/errors.ts";
import { idempotencyKeyProblem } from "../core/idempotency-key.ts";
import { redactUrl } from "../core/redact.ts";

/** Where `steadfast serve` listens unless configured otherwise. */
export const DEFAULT_BASE_URL = "http://127.0.0.1:7480";

/** Options of `createClient`. */
export interface ClientOptions {
  /** Base URL of the Steadfast server. Default `http://127.0.0.1:7480`. */
  baseUrl?: string;
  /** An API key; sent as `Authorization: Bearer <key>`. It selects the tenant. */
  apiKey: string;
  /** The `fetch` to use. Default: the global `fetch`. */
  fetch?: typeof fetch;
}

/** Options of `SteadfastClient.fetch`. */
export interface SubmitOptions {
  /**
   * Sent as `Idempotency-Key`: the same key with the same request returns the same call; the
   * same key with a different request is refused with `422`.
   */
  idempotencyKey?: string;
  /**
   * Sent as `Prefer: wait=<seconds>`: the server holds the answer until the call ends or this
   * many seconds pass, whichever is first. Whole seconds; fractions are rounded up.
   */
  waitSeconds?: number;
  /** Aborts the request (not the call: an accepted call keeps running). */
  signal?: AbortSignal;
}

/** Options of the read and command methods. */
export interface RequestOptions {
  /** Aborts the HTTP request. */
  signal?: AbortSignal;
}

/** Query of `SteadfastClient.list`. */
export interface ListQuery {
  /** Only calls in this status; `failed` is the dead-letter list. */
  status?: CallStatus;
  /** Page size, 1 to 500. Default (server side) 50. */
  limit?: number;
  /** The `nextCursor` of the previous page. */
  cursor?: string;
}

/** One page of `SteadfastClient.list`, newest first. */
export interface CallPage {
  calls: CallView[];
  /** Pass as `cursor` for the next page; absent on the last page. */
  nextCursor?: string;
}

/** Query of `SteadfastClient.runs`. */
export interface ListRunsQuery {
  /** Only runs of this workflow. */
  workflow?: string;
  /** Only runs in this status. */
  status?: RunStatus;
  /** Page size, 1 to 500. Default (server side) 50. */
  limit?: number;
  /** The `nextCursor` of the previous page. */
  cursor?: string;
}

/** One page of `SteadfastClient.runs`, newest first. */
export interface RunPage {
  runs: RunSummaryView[];
  /** Pass as `cursor` for the next page; absent on the last page. */
  nextCursor?: string;
}

/** What `SteadfastClient.sendEvent` answers. */
export interface SentEventView {
  /** The event's id: the one sent, or `evt_<ULID>`. */
  id: string;
  name: string;
  /** When it was recorded (the first time, for a repeat), ISO 8601. */
  receivedAt: string;
  /** False when the tenant already had an event with this id, name and data. */
  created: boolean;
}

/** Limits to set on a destination: a number sets one, `null` removes it, absent keeps it. */
export interface DestinationLimitsInput {
  /** Requests per second, > 0. */
  rateLimitPerSecond?: number | null;
  /** Attempts in flight at once, an integer >= 1. */
  maxConcurrency?: number | null;
}

/** A key to create (`SteadfastClient.createApiKey`). */
export interface CreateApiKeyInput {
  /** The tenant the key is for; a new tenant is created with its first key. */
  tenant: string;
  /** A label for people, such as the service that will use the key. */
  name?: string;
  /** Who creates it, for the record: `api` (default) or `cli`. */
  source?: "api" | "cli";
}

/** A key just created: its view and the key itself, which the server never shows again. */
export interface CreatedApiKey extends ApiKeyView {
  key: string;
}

/** Query of `SteadfastClient.apiKeys`. */
export interface ApiKeysQuery {
  /** Only this tenant's keys. */
  tenant?: string;
  /** List revoked keys too. Default false. */
  includeRevoked?: boolean;
}

/** A typed client for the durable call API (ARCHITECTURE.md section 5). */
export interface SteadfastClient {
  /** The base URL requests go to, without a trailing slash. */
  readonly baseUrl: string;
  /**
   * Submits a durable call (`POST /v1/fetch`). Resolves once the server has committed it: with the
   * call as accepted, or, with `waitSeconds`, as it is when it ended or the wait ran out.
   */
  fetch(input: FetchInput, options?: SubmitOptions): Promise<CallView>;
  /** One call (`GET /v1/calls/:id`). Throws `SteadfastApiError` with code `not_found` for an unknown id. */
  get(id: string, options?: RequestOptions): Promise<CallView>;
  /** The attempts of a call, oldest first (`GET /v1/calls/:id/attempts`). */
  attempts(id: string, options?: RequestOptions): Promise<AttemptView[]>;
  /** One page of calls, newest first (`GET /v1/calls`). */
  list(query?: ListQuery, options?: RequestOptions): Promise<CallPage>;
  /**
   * Every call matching `query`, newest first, fetching page after page as the loop asks for more.
   * `query.limit` is the page size.
   */
  listAll(query?: Omit<ListQuery, "cursor">, options?: RequestOptions): AsyncGenerator<CallView>;
  /** Cancels a call that has not ended (`POST /v1/calls/:id/cancel`). */
  cancel(id: string, options?: RequestOptions): Promise<CallView>;
  /** Redrives a failed call, or makes a waiting call due now (`POST /v1/calls/:id/retry`). */
  retry(id: string, options?: RequestOptions): Promise<CallView>;
  /**
   * The attempts of a call's callback delivery, oldest first; empty until the call has ended
   * (`GET /v1/calls/:id/callback/attempts`). Throws `not_found` when the call has no callback URL.
   */
  callbackAttempts(id: string, options?: RequestOptions): Promise<AttemptView[]>;
  /**
   * Sends a call's failed callback again (a fresh attempt budget, the same `webhook-id`), or a
   * retrying one now (`POST /v1/calls/:id/callback/retry`). Throws `invalid_state` when there is
   * none to send: the call has not ended, or its callback was delivered or is in flight.
   */
  retryCallback(id: string, options?: RequestOptions): Promise<CallView>;
  /**
   * One workflow run with its input, output, and steps with their attempts (`GET /v1/runs/:id`).
   * Throws `SteadfastApiError` with code `not_found` for an unknown id.
   */
  run(id: string, options?: RequestOptions): Promise<RunView>;
  /** One page of workflow runs, newest first, without inputs or steps (`GET /v1/runs`). */
  runs(query?: ListRunsQuery, options?: RequestOptions): Promise<RunPage>;
  /**
   * Cancels a run that has not ended (`POST /v1/runs/:id/cancel`): a parked one ends at once, a
   * running one at its next step boundary. Throws `invalid_state` when it has ended.
   */
  cancelRun(id: string, options?: RequestOptions): Promise<RunView>;
  /**
   * Retries a failed run from its failed step (`POST /v1/runs/:id/retry`). Throws
   * `invalid_state` unless it failed without compensating.
   */
  retryRun(id: string, options?: RequestOptions): Promise<RunView>;
  /**
   * Sends an event (`POST /v1/events`) to the runs waiting for it. The id deduplicates: the same
   * id again answers `created: false`; with another name or data it throws `event_id_reused`.
   */
  sendEvent(event: EventInput, options?: RequestOptions): Promise<SentEventView>;
  /**
   * Every destination's breaker, pause, limits and health (`GET /v1/destinations`). The
   * operator's view: destinations are shared by all tenants.
   */
  destinations(options?: RequestOptions): Promise<DestinationView[]>;
  /**
   * One destination (`GET /v1/destinations/:destination`). `destination` is an origin
   * (`https://api.example.com`) or `host[:port]`, meaning https. Throws `not_found` when unknown.
   */
  destination(destination: string, options?: RequestOptions): Promise<DestinationView>;
  /** Sets or removes a destination's limits (`PUT /v1/destinations/:destination`). */
  setDestinationLimits(
    destination: string,
    limits: DestinationLimitsInput,
    options?: RequestOptions,
  ): Promise<DestinationView>;
  /** Closes a destination's breaker and ends its pause (`POST /v1/destinations/:destination/reset`). */
  resetDestination(destination: string, options?: RequestOptions): Promise<DestinationView>;
  /**
   * API keys, oldest first (`GET /v1/keys`): ids, prefixes, tenants, never the keys. Operator
   * keys only (others get `403 forbidden`).
   */
  apiKeys(query?: ApiKeysQuery, options?: RequestOptions): Promise<ApiKeyView[]>;
  /** One API key, revoked or not (`GET /v1/keys/:id`). Throws `not_found` when unknown. */
  apiKey(id: string, options?: RequestOptions): Promise<ApiKeyView>;
  /**
   * Creates an API key for a tenant (`POST /v1/keys`). The answer carries the key itself, the
   * only time it is ever shown. Rotation: create, deploy the new key, then `revokeApiKey` the old.
   */
  createApiKey(input: CreateApiKeyInput, options?: RequestOptions): Promise<CreatedApiKey>;
  /**
   * Revokes an API key for good (`POST /v1/keys/:id/revoke`); every server refuses it within
   * seconds. Throws `invalid_state` for the last active operator key.
   */
  revokeApiKey(id: string, options?: RequestOptions): Promise<ApiKeyView>;
}

/**
 * Creates a client for a Steadfast server. It makes exactly one HTTP request per method call: no
 * retries of its own. Errors are `SteadfastApiError` (the server answered with a problem) or
 * `SteadfastConnectionError` (the server could not be reached).
 *
 * @example
 * import { createClient } from "steadfast/client";
 *
 * const steadfast = createClient({ apiKey: process.env.STEADFAST_API_KEY! });
 * const call = await steadfast.fetch(
 *   { url: "https://api.example.com/orders", method: "POST", body: { sku: "A-1" } },
 *   { idempotencyKey: "order-42", waitSeconds: 10 },
 * );
 * console.log(call.id, call.status, call.response?.status);
 */
export function createClient(options: ClientOptions): SteadfastClient {
  const baseUrl = normaliseBaseUrl(options.baseUrl ?? DEFAULT_BASE_URL);
  if (typeof options.apiKey !== "string" || options.apiKey === "") {
    throw new InvalidOptionError(
      "createClient: apiKey is required; pass the key `steadfast serve` printed (or one of STEADFAST_API_KEYS)",
    );
  }
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const authorization = `Bearer ${options.apiKey}`;

  async function request<T>(
    method: "GET" | "POST" | "PUT",
    path: string,
    init: { body?: unknown; headers?: Record<string, string>; signal?: AbortSignal | undefined },
  ): Promise<T> {
    const headers: Record<string, string> = {
      accept: "application/json, application/problem+json",
      authorization,
      ...init.headers,
    };
    const requestInit: RequestInit = { method, headers };
    if (init.body !== undefined) {
      headers["content-type"] = "application/json";
      requestInit.body = JSON.stringify(init.body);
    }
    if (init.signal !== undefined) requestInit.signal = init.signal;
    let response: Response;
    try {
      response = await fetchImpl(`${baseUrl}${path}`, requestInit);
    } catch (error) {
      if (init.signal?.aborted === true) throw error;
      throw new SteadfastConnectionError(baseUrl, error);
    }
    const text = await response.text();
    if (!response.ok) throw new SteadfastApiError(toProblem(response, text));
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new SteadfastApiError({
        status: response.status,
        code: "invalid_response",
        title: "Invalid response",
        detail: `${method} ${redactUrl(baseUrl + path)} answered ${response.status} with a body that is not JSON; is ${redactUrl(baseUrl)} a Steadfast server?`,
      });
    }
  }

  const callPath = (id: string, suffix = ""): string =>
    `/v1/calls/${encodeURIComponent(id)}${suffix}`;
  const destinationPath = (destination: string, suffix = ""): string =>
    `/v1/destinations/${encodeURIComponent(destination)}${suffix}`;
  const keyPath = (id: string, suffix = ""): string =>
    `/v1/keys/${encodeURIComponent(id)}${suffix}`;
  const runPath = (id: string, suffix = ""): string =>
    `/v1/runs/${encodeURIComponent(id)}${suffix}`;

  const client: SteadfastClient = {
    baseUrl,

    async fetch(input, submitOptions = {}) {
      const headers: Record<string, string> = {};
      if (submitOptions.idempotencyKey !== undefined) {
        const key = submitOptions.idempotencyKey;
        // The server's rule (core/idempotency-key.ts), checked before anything is sent.
        const problem = idempotencyKeyProblem(key);
        if (problem !== undefined) throw new InvalidOptionError(`idempotencyKey ${problem}`);
        headers["idempotency-key"] = key;
      }
      if (submitOptions.waitSeconds !== undefined) {
        const seconds = submitOptions.waitSeconds;
        if (!Number.isFinite(seconds) || seconds < 0) {
          throw new InvalidOptionError(
            `waitSeconds must be a number of seconds >= 0; got ${seconds}`,
          );
        }
        headers.prefer = `wait=${Math.ceil(seconds)}`;
      }
      return await request<CallView>("POST", "/v1/fetch", {
        body: input,
        headers,
        signal: submitOptions.signal,
      });
    },

    get(id, requestOptions = {}) {
      return request<CallView>("GET", callPath(id), { signal: requestOptions.signal });
    },

    async attempts(id, requestOptions = {}) {
      const body = await request<AttemptView[] | { attempts: AttemptView[] }>(
        "GET",
        callPath(id, "/attempts"),
        { signal: requestOptions.signal },
      );
      return Array.isArray(body) ? body : body.attempts;
    },

    async callbackAttempts(id, requestOptions = {}) {
      const body = await request<{ attempts: AttemptView[] }>(
        "GET",
        callPath(id, "/callback/attempts"),
        { signal: requestOptions.signal },
      );
      return body.attempts;
    },

    retryCallback(id, requestOptions = {}) {
      return request<CallView>("POST", callPath(id, "/callback/retry"), {
        signal: requestOptions.signal,
      });
    },

    list(query = {}, requestOptions = {}) {
      const params = new URLSearchParams();
      if (query.status !== undefined) params.set("status", query.status);
      if (query.limit !== undefined) params.set("limit", String(query.limit));
      if (query.cursor !== undefined) params.set("cursor", query.cursor);
      const search = params.size > 0 ? `?${params.toString()}` : "";
      return request<CallPage>("GET", `/v1/calls${search}`, { signal: requestOptions.signal });
    },

    async *listAll(query = {}, requestOptions = {}) {
      let cursor: string | undefined;
      do {
        const page = await client.list(
          cursor === undefined ? query : { ...query, cursor },
          requestOptions,
        );
        yield* page.calls;
        cursor = page.nextCursor;
      } while (cursor !== undefined);
    },

    cancel(id, requestOptions = {}) {
      return request<CallView>("POST", callPath(id, "/cancel"), { signal: requestOptions.signal });
    },

    retry(id, requestOptions = {}) {
      return request<CallView>("POST", callPath(id, "/retry"), { signal: requestOptions.signal });
    },

    run(id, requestOptions = {}) {
      return request<RunView>("GET", runPath(id), { signal: requestOptions.signal });
    },

    runs(query = {}, requestOptions = {}) {
      const params = new URLSearchParams();
      if (query.workflow !== undefined) params.set("workflow", query.workflow);
      if (query.status !== undefined) params.set("status", query.status);
      if (query.limit !== undefined) params.set("limit", String(query.limit));
      if (query.cursor !== undefined) params.set("cursor", query.cursor);
      const search = params.size > 0 ? `?${params.toString()}` : "";
      return request<RunPage>("GET", `/v1/runs${search}`, { signal: requestOptions.signal });
    },

    cancelRun(id, requestOptions = {}) {
      return request<RunView>("POST", runPath(id, "/cancel"), { signal: requestOptions.signal });
    },

    retryRun(id, requestOptions = {}) {
      return request<RunView>("POST", runPath(id, "/retry"), { signal: requestOptions.signal });
    },

    sendEvent(event, requestOptions = {}) {
      return request<SentEventView>("POST", "/v1/events", {
        body: event,
        signal: requestOptions.signal,
      });
    },

    async destinations(requestOptions = {}) {
      const body = await request<{ destinations: DestinationView[] }>("GET", "/v1/destinations", {
        signal: requestOptions.signal,
      });
      return body.destinations;
    },

    destination(destination, requestOptions = {}) {
      return request<DestinationView>("GET", destinationPath(destination), {
        signal: requestOptions.signal,
      });
    },

    setDestinationLimits(destination, limits, requestOptions = {}) {
      return request<DestinationView>("PUT", destinationPath(destination), {
        body: limits,
        signal: requestOptions.signal,
      });
    },

    resetDestination(destination, requestOptions = {}) {
      return request<DestinationView>("POST", destinationPath(destination, "/reset"), {
        signal: requestOptions.signal,
      });
    },

    async apiKeys(query = {}, requestOptions = {}) {
      const params = new URLSearchParams();
      if (query.tenant !== undefined) params.set("tenant", query.tenant);
      if (query.includeRevoked === true) params.set("includeRevoked", "true");
      const search = params.size > 0 ? `?${params.toString()}` : "";
      const body = await request<{ keys: ApiKeyView[] }>("GET", `/v1/keys${search}`, {
        signal: requestOptions.signal,
      });
      return body.keys;
    },

    apiKey(id, requestOptions = {}) {
      return request<ApiKeyView>("GET", keyPath(id), { signal: requestOptions.signal });
    },

    createApiKey(input, requestOptions = {}) {
      return request<CreatedApiKey>("POST", "/v1/keys", {
        body: input,
        signal: requestOptions.signal,
      });
    },

    revokeApiKey(id, requestOptions = {}) {
      return request<ApiKeyView>("POST", keyPath(id, "/revoke"), {
        signal: requestOptions.signal,
      });
    },
  };
  return client;
}

function normaliseBaseUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidOptionError(
      `createClient: baseUrl "${redactUrl(value)}" is not a URL; expected something like ${DEFAULT_BASE_URL}`,
    );
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new InvalidOptionError(
      `createClient: baseUrl "${redactUrl(value)}" must use http or https; expected something like ${DEFAULT_BASE_URL}`,
    );
  }
  if (url.search !== "" || url.hash !== "") {
    throw new InvalidOptionError(
      `createClient: baseUrl "${redactUrl(value)}" must not have a query or fragment`,
    );
  }
  return url.toString().replace(/\/+$/, "");
}

// An error answer that is not problem details (a proxy's HTML page, say) still becomes a
// SteadfastApiError, with code `http_<status>`.
function toProblem(response: Response, text: string): ProblemDetails {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  const fallbackTitle =
    response.statusText === "" ? `HTTP ${response.status}` : response.statusText;
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    const snippet = text.trim().slice(0, 200);
    return {
      status: response.status,
      code: `http_${response.status}`,
      title: fallbackTitle,
      ...(snippet === "" ? {} : { detail: `${fallbackTitle}: ${snippet}` }),
    };
  }
  const body = parsed as Record<string, unknown>;
  const problem: ProblemDetails = {
    ...body,
    status: response.status,
    code: typeof body.code === "string" ? body.code : `http_${response.status}`,
    title: typeof body.title === "string" ? body.title : fallbackTitle,
  };
  if (typeof body.detail !== "string") delete problem.detail;
  const errors = Array.isArray(body.errors) ? body.errors.filter(isFieldError) : [];
  if (errors.length > 0) problem.errors = errors;
  else delete problem.errors;
  const correlationId = body.correlationId ?? body.requestId;
  if (typeof correlationId === "string") problem.correlationId = correlationId;
  return problem;
}

function isFieldError(value: unknown): value is { field: string; message: string } {
  if (typeof value !== "object" || value === null) return false;
  const record = value as Record<string, unknown>;
  return typeof record.field === "string" && typeof record.message === "string";
}
