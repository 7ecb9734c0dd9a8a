import { Hono } from "hono";
import pino, { type Logger } from "pino";
import { Registry } from "prom-client";
import { TerminalError } from "../core/errors.ts";
import type { ApiKeysService } from "../engine/api-keys-service.ts";
import type { CallsService } from "../engine/calls-service.ts";
import type { DestinationsService } from "../engine/destinations/destinations-service.ts";
import type { RunsService } from "../engine/workflows/runs-service.ts";
import type { Quota } from "../rate-limit/quota.ts";
import { registerCallsRoutes } from "./calls-routes.ts";
import { registerDestinationsRoutes } from "./destinations-routes.ts";
import { registerFetchRoute } from "./fetch-route.ts";
import { registerKeysRoutes } from "./keys-routes.ts";
import { countAccepted, httpObserver } from "./metrics.ts";
import { buildOpenApiDocument } from "./openapi.ts";
import { handleError, handleNotFound, problemResponse } from "./problem.ts";
import { DEFAULT_MAX_BODY_BYTES } from "./read-json-body.ts";
import { DEFAULT_OPERATOR_TENANTS } from "./operator-only.ts";
import { MAX_PREFER_WAIT_SECONDS } from "./request-headers.ts";
import { frameRequests } from "./request-frame.ts";
import { requireApiKey } from "./require-api-key.ts";
import { registerRunsRoutes } from "./runs-routes.ts";
import type { ServerEnv } from "./server-env.ts";
import { limitTenants } from "./tenant-rate-limit.ts";

/** What `GET /healthz` reports. */
export interface HealthStatus {
  /** False answers `503`. */
  ok: boolean;
  /** Anything worth showing an operator (store dialect, calls in flight). */
  details?: Record<string, unknown>;
}

/** Options of `createApp`. */
export interface AppOptions {
  /** The use cases the routes expose. */
  calls: CallsService;
  /** Workflow runs and events (`/v1/runs`, `/v1/events`). */
  runs: RunsService;
  /** Authentication of every `/v1` request, and the operator's `/v1/keys` routes. */
  keys: ApiKeysService;
  /**
   * The destination use cases (`/v1/destinations`). Without it those routes are absent (an
   * API-only process with no engine has no destination state of its own).
   */
  destinations?: DestinationsService;
  /**
   * Tenants whose keys may use the operator-only routes: `/v1/destinations` (shared by every
   * tenant) and `/v1/keys` (which makes keys for any tenant). Keys of other tenants get `403`.
   * Default `["default"]` (`DEFAULT_OPERATOR_TENANTS`), the tenant of the key a fresh install
   * generates, as for `steadfast serve`: never every tenant, so an app given several tenants
   * and no operators does not let one tenant mint keys for another.
   */
  operatorTenants?: readonly string[];
  /** Largest request body accepted, bytes; larger is `413`. Default 1 MiB (1,048,576). */
  maxBodyBytes?: number;
  /** Served at `GET /metrics` (see `createMetrics`). Default: a registry with HTTP metrics only. */
  metrics?: Registry;
  /** Errors and (at debug level) every request are logged here. Default: silent. */
  logger?: Logger;
  /** Readiness for `GET /healthz`. Default: always ok while `signal` is not aborted. */
  health?: () => HealthStatus | Promise<HealthStatus>;
  /**
   * Aborted when the server shuts down: `/v1` requests then get `503 shutting_down`, `/healthz`
   * answers `503`, and `Prefer: wait` answers in progress return at once.
   */
  signal?: AbortSignal;
  /** Cap on `Prefer: wait`, seconds. Default 60. */
  maxWaitSeconds?: number;
  /** Makes correlation ids for requests without a usable `X-Request-Id`. Default `crypto.randomUUID`. */
  newRequestId?: () => string;
  /**
   * Each tenant's quota of `/v1` requests (`createQuota` of `steadfast/rate-limit`, keyed by
   * tenant): over it, `429 rate_limited` with `Retry-After`; every `/v1` answer carries
   * `RateLimit-Policy` and `RateLimit`. Default: no limit. The app does not close it.
   */
  rateLimit?: Quota;
}

/**
 * Creates the HTTP API (ARCHITECTURE.md section 5) as a Hono app: a thin layer over
 * `CallsService`. Every error is `application/problem+json` (RFC 9457); every response carries
 * `X-Request-Id`. `/v1` routes need `Authorization: Bearer <key>`; `/healthz`, `/metrics` and
 * `/openapi.json` do not.
 *
 * Routes: `POST /v1/fetch` (202, or 200 with `Prefer: wait`), `GET /v1/calls`,
 * `GET /v1/calls/:id`, `GET /v1/calls/:id/attempts`, `POST /v1/calls/:id/cancel` (200),
 * `POST /v1/calls/:id/retry` (202), `GET /v1/destinations`, `GET|PUT /v1/destinations/:destination`,
 * `POST /v1/destinations/:destination/reset`, `GET|POST /v1/keys`, `GET /v1/keys/:id`,
 * `POST /v1/keys/:id/revoke`, `GET /v1/runs`, `GET /v1/runs/:id`, `POST /v1/runs/:id/cancel` (200),
 * `POST /v1/runs/:id/retry` (202), `POST /v1/events` (202), `GET /healthz`, `GET /metrics`, `GET /openapi.json`.
 * Unknown routes answer `404`, known routes with a wrong method `405` with `Allow`.
 *
 * @example
 * const app = createApp({ calls: steadfast.calls, runs: steadfast.runs, keys: steadfast.keys, metrics: createMetrics({ events: steadfast.engine.events }).registry });
 * serve({ fetch: app.fetch, port: 7480, hostname: "127.0.0.1" });
 * // or, in a test:
 * const res = await app.request("/v1/calls", { headers: { authorization: `Bearer ${key}` } });
 */
export function createApp(options: AppOptions): Hono<ServerEnv> {
  const logger = options.logger ?? pino({ level: "silent" });
  const registry = options.metrics ?? new Registry();
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const { signal } = options;
  let openApi: string | undefined;

  const app = new Hono<ServerEnv>();
  app.onError(handleError(logger));
  app.notFound(handleNotFound);

  app.use(
    frameRequests({
      observe: httpObserver(registry),
      logger,
      ...(options.newRequestId === undefined ? {} : { newId: options.newRequestId }),
      ...(signal === undefined ? {} : { signal }),
    }),
  );

  app.get("/healthz", async (c) => {
    let status: HealthStatus;
    try {
      status = signal?.aborted
        ? { ok: false, details: { reason: "shutting down" } }
        : ((await options.health?.()) ?? { ok: true });
    } catch (error) {
      logger.error({ err: error, requestId: c.get("requestId") }, "health check failed");
      status = { ok: false, details: { reason: "health check failed" } };
    }
    c.header("Cache-Control", "no-store");
    return c.json(status, status.ok ? 200 : 503);
  });
  app.get("/metrics", async (c) =>
    c.body(await registry.metrics(), 200, {
      "Content-Type": registry.contentType,
      "Cache-Control": "no-store",
    }),
  );
  app.get("/openapi.json", (c) => {
    openApi ??= JSON.stringify(buildOpenApiDocument({ maxBodyBytes }));
    return c.body(openApi, 200, { "Content-Type": "application/json" });
  });

  app.use("/v1/*", async (_c, next) => {
    if (signal?.aborted)
      throw new TerminalError(
        "shutting_down",
        "The server is shutting down; retry in a few seconds, or against another instance",
      );
    await next();
  });
  app.use("/v1/*", requireApiKey(options.keys));
  if (options.rateLimit !== undefined) app.use("/v1/*", limitTenants(options.rateLimit, logger));
  const operators = options.operatorTenants ?? DEFAULT_OPERATOR_TENANTS;
  registerFetchRoute(app, {
    calls: options.calls,
    maxBodyBytes,
    maxWaitSeconds: options.maxWaitSeconds ?? MAX_PREFER_WAIT_SECONDS,
    onAccepted: countAccepted(registry),
    ...(signal === undefined ? {} : { signal }),
  });
  registerCallsRoutes(app, options.calls);
  registerRunsRoutes(app, options.runs, maxBodyBytes, signal);
  if (options.destinations !== undefined)
    registerDestinationsRoutes(app, options.destinations, maxBodyBytes, operators);
  registerKeysRoutes(app, options.keys, maxBodyBytes, operators);
  answerWrongMethods(app);
  return app;
}

/**
 * Adds, after every route, a catch-all per route path that answers `405 method_not_allowed` with
 * the `Allow` header (RFC 9110 section 15.5.6) for methods the path does not have.
 */
function answerWrongMethods(app: Hono<ServerEnv>): void {
  const methodsByPath = new Map<string, Set<string>>();
  for (const route of app.routes) {
    if (route.method === "ALL") continue;
    const methods = methodsByPath.get(route.path) ?? new Set<string>();
    methods.add(route.method);
    if (route.method === "GET") methods.add("HEAD");
    methodsByPath.set(route.path, methods);
  }
  for (const [path, methods] of methodsByPath) {
    const allow = [...methods].join(", ");
    app.all(path, (c) =>
      problemResponse(c, "method_not_allowed", {
        detail: `${c.req.method} is not allowed on ${path}; use ${allow}`,
        headers: { Allow: allow },
      }),
    );
  }
}
