import type { Context } from "hono";
import { matchedRoutes } from "hono/route";
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type { AttemptRecord, CallRecord, WaitingFor } from "../core/call.ts";
import type { ServerEnv } from "./server-env.ts";

/**
 * The engine events the metrics follow, and their payloads. Accepted calls are counted where they
 * are accepted, by `POST /v1/fetch` (`countAccepted`), as the engine does not see submissions.
 */
export interface MetricsEvents {
  "attempt:recorded": { call: CallRecord; attempt: AttemptRecord };
  "call:ended": { call: CallRecord };
  "call:held": { waitingFor: WaitingFor };
  "breaker:opened": { destination: string };
  "breaker:half-opened": { destination: string };
  "breaker:closed": { destination: string };
  "destination:paused": { destination: string };
  "tenant:paused": { destination: string };
  "retention:purged": { kind: string; count: number };
}

/**
 * An emitter of `MetricsEvents`, by structure (the engine's `events`). `on` may return an
 * unsubscribe function, which `Metrics.close` calls.
 */
export interface MetricsEventSource {
  on<K extends keyof MetricsEvents>(
    event: K,
    listener: (payload: MetricsEvents[K]) => void,
  ): unknown;
}

/** Options of `createMetrics`. */
export interface MetricsOptions {
  /** Engine events to count; without it only HTTP and process metrics are collected. */
  events?: MetricsEventSource;
  /** Attempts running right now, read at each scrape (the engine's `inFlight`). */
  inFlight?: () => number;
  /**
   * The breaker state and pause of every destination this process knows, read at each scrape
   * (from the engine's `destinations.list()`).
   */
  destinations?: () => Iterable<{ breaker: string; paused: boolean }>;
  /** Collect Node process metrics (CPU, memory, event loop lag, GC). Default true. */
  processMetrics?: boolean;
}

/** The server's metrics: a fresh prom-client `Registry` and a way to stop following the engine. */
export interface Metrics {
  registry: Registry;
  /** Removes the engine listeners. */
  close(): void;
}

/**
 * Attempt duration buckets, seconds: 1.5 to 1.67 times apart from 1 ms to 60 s, so an estimated
 * p95 or p99 is off by at most one bucket's width (under 67%) for latencies anywhere in that range.
 */
export const ATTEMPT_DURATION_BUCKETS = [
  0.001, 0.0015, 0.0025, 0.004, 0.006, 0.01, 0.015, 0.025, 0.04, 0.06, 0.1, 0.15, 0.25, 0.4, 0.6, 1,
  1.5, 2.5, 4, 6, 10, 15, 25, 40, 60,
];

/** HTTP server request duration buckets, seconds (up to the longest `Prefer: wait`). */
export const HTTP_DURATION_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
];

const HTTP_DURATION = "steadfast_http_request_duration_seconds";
// Any other method is labelled `other`, so a client cannot create label values at will.
const KNOWN_METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);

/** The label of an attempt's outcome: its status class (`2xx`, `5xx`) or its error code (`connect_refused`). */
export function outcomeLabel(attempt: AttemptRecord): string {
  return attempt.outcome.type === "response"
    ? `${Math.floor(attempt.outcome.status / 100)}xx`
    : attempt.outcome.code;
}

/**
 * Registers Steadfast's metrics on a fresh registry and keeps them current from engine events:
 *
 * - `steadfast_calls_accepted_total`: calls created through `POST /v1/fetch` (`countAccepted`;
 *   idempotent replays are not counted);
 * - `steadfast_calls_ended_total{status}`: user calls (callback deliveries are internal and not
 *   counted here);
 * - `steadfast_attempts_total{outcome,decision}`, `steadfast_attempt_duration_seconds{outcome}`,
 *   `steadfast_retries_scheduled_total`: every attempt, callback deliveries included;
 * - `steadfast_calls_in_flight`: attempts running now, read at scrape time;
 * - `steadfast_calls_held_total{reason}`: calls held by their destination without an attempt
 *   (`circuit_open`, `destination_paused`, `rate_limited`, `concurrency_limited`,
 *   `retry_budget_exhausted`);
 * - `steadfast_breaker_transitions_total{to}`: breaker state changes this process made (`open`,
 *   `half-open`, `closed`); `steadfast_destination_pauses_total`: pauses of whole destinations
 *   (a 503 with `Retry-After`); `steadfast_tenant_pauses_total`: pauses of one tenant's calls to a
 *   destination (a 429, or rate-limit headers; no tenant label);
 * - `steadfast_destinations{state}`: destinations per breaker state (`closed`, `open`,
 *   `half-open`), and `steadfast_destinations_paused`, read at scrape time (no label per
 *   destination, so a client cannot create series at will);
 * - `steadfast_purged_total{kind}`: rows this process deleted past their retention (`call`,
 *   `callback`, `run`, `event`; attempts, steps and values go with their call or run);
 * - `steadfast_http_request_duration_seconds{method,route,status}`: filled by `observeHttp`;
 * - Node process metrics (`process_*`, `nodejs_*`) unless `processMetrics: false`.
 *
 * @example
 * const metrics = createMetrics({ events: engine.events, inFlight: () => engine.inFlight });
 * const app = createApp({ calls, runs, keys, metrics: metrics.registry });
 */
export function createMetrics(options: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  const registers = [registry];
  if (options.processMetrics !== false) collectDefaultMetrics({ register: registry });
  httpDuration(registry);

  acceptedCounter(registry);
  const ended = new Counter({
    name: "steadfast_calls_ended_total",
    help: "Durable calls that ended, by final status.",
    labelNames: ["status"] as const,
    registers,
  });
  const attempts = new Counter({
    name: "steadfast_attempts_total",
    help: "Attempts made, by outcome (status class or transport error code) and the decision taken after them.",
    labelNames: ["outcome", "decision"] as const,
    registers,
  });
  const duration = new Histogram({
    name: "steadfast_attempt_duration_seconds",
    help: "Duration of attempts, connect to last body byte, by outcome.",
    labelNames: ["outcome"] as const,
    buckets: ATTEMPT_DURATION_BUCKETS,
    registers,
  });
  const retries = new Counter({
    name: "steadfast_retries_scheduled_total",
    help: "Retries scheduled after an attempt.",
    registers,
  });
  const inFlight = options.inFlight;
  new Gauge({
    name: "steadfast_calls_in_flight",
    help: "Attempts running in this process now.",
    registers,
    collect() {
      this.set(inFlight === undefined ? 0 : inFlight());
    },
  });

  const held = new Counter({
    name: "steadfast_calls_held_total",
    help: "Calls held by their destination's protection, without an attempt, by reason.",
    labelNames: ["reason"] as const,
    registers,
  });
  const transitions = new Counter({
    name: "steadfast_breaker_transitions_total",
    help: "Circuit breaker state changes made by this process, by the state entered.",
    labelNames: ["to"] as const,
    registers,
  });
  const pauses = new Counter({
    name: "steadfast_destination_pauses_total",
    help: "Destinations paused for every call (or a pause extended) after a 503 with Retry-After.",
    registers,
  });
  const tenantPauses = new Counter({
    name: "steadfast_tenant_pauses_total",
    help: "One tenant's calls to a destination paused (or a pause extended) after a 429, or rate-limit headers.",
    registers,
  });
  const destinations = options.destinations;
  new Gauge({
    name: "steadfast_destinations",
    help: "Destinations known to this process, by circuit breaker state.",
    labelNames: ["state"] as const,
    registers,
    collect() {
      const counts: Record<string, number> = { closed: 0, open: 0, "half-open": 0 };
      for (const d of destinations?.() ?? []) counts[d.breaker] = (counts[d.breaker] ?? 0) + 1;
      for (const [state, count] of Object.entries(counts)) this.set({ state }, count);
    },
  });
  new Gauge({
    name: "steadfast_destinations_paused",
    help: "Destinations paused for every call by Retry-After now.",
    registers,
    collect() {
      let paused = 0;
      for (const d of destinations?.() ?? []) if (d.paused) paused++;
      this.set(paused);
    },
  });

  const purged = new Counter({
    name: "steadfast_purged_total",
    help: "Ended calls, callback deliveries and runs, and events, deleted by this process past their retention, by kind.",
    labelNames: ["kind"] as const,
    registers,
  });

  const unsubscribes: (() => unknown)[] = [];
  const track = (unsubscribe: unknown): void => {
    if (typeof unsubscribe === "function") unsubscribes.push(unsubscribe as () => unknown);
  };
  const events = options.events;
  if (events !== undefined) {
    track(
      events.on("call:ended", ({ call }) => {
        if (call.kind === "call") ended.inc({ status: call.status });
      }),
    );
    track(
      events.on("attempt:recorded", ({ attempt }) => {
        const outcome = outcomeLabel(attempt);
        attempts.inc({ outcome, decision: attempt.decision.type });
        duration.observe({ outcome }, attempt.durationMs / 1_000);
        if (attempt.decision.type === "retry") retries.inc();
      }),
    );
    track(events.on("call:held", ({ waitingFor }) => held.inc({ reason: waitingFor.reason })));
    track(events.on("breaker:opened", () => transitions.inc({ to: "open" })));
    track(events.on("breaker:half-opened", () => transitions.inc({ to: "half-open" })));
    track(events.on("breaker:closed", () => transitions.inc({ to: "closed" })));
    track(events.on("destination:paused", () => pauses.inc()));
    track(events.on("tenant:paused", () => tenantPauses.inc()));
    track(events.on("retention:purged", ({ kind, count }) => purged.inc({ kind }, count)));
  }
  return {
    registry,
    close() {
      for (const unsubscribe of unsubscribes.splice(0)) unsubscribe();
    },
  };
}

const ACCEPTED = "steadfast_calls_accepted_total";

/** `steadfast_calls_accepted_total` of `registry`, registered on first use. */
function acceptedCounter(registry: Registry): Counter {
  const existing = registry.getSingleMetric(ACCEPTED);
  if (existing !== undefined) return existing as Counter;
  return new Counter({
    name: ACCEPTED,
    help: "Durable calls accepted (committed) by this server's API.",
    registers: [registry],
  });
}

/** A function that counts one accepted call in `registry`'s `steadfast_calls_accepted_total`. */
export function countAccepted(registry: Registry): () => void {
  const counter = acceptedCounter(registry);
  return () => counter.inc();
}

/** The HTTP request duration histogram of `registry`, registered on first use. */
function httpDuration(registry: Registry): Histogram<"method" | "route" | "status"> {
  const existing = registry.getSingleMetric(HTTP_DURATION);
  if (existing !== undefined) return existing as Histogram<"method" | "route" | "status">;
  return new Histogram({
    name: HTTP_DURATION,
    help: "HTTP API request duration, by method, route pattern and response status.",
    labelNames: ["method", "route", "status"] as const,
    buckets: HTTP_DURATION_BUCKETS,
    registers: [registry],
  });
}

/**
 * Records one request in `steadfast_http_request_duration_seconds`, labelled with the route
 * pattern (`/v1/calls/:id`, never the raw path, so label values stay few) or `unmatched` for
 * unknown routes. The labelled series are looked up once per label set, not per request.
 */
export function httpObserver(
  registry: Registry,
): (c: Context<ServerEnv>, durationMs: number) => void {
  const histogram = httpDuration(registry);
  const series = new Map<string, { observe: (seconds: number) => void }>();
  return (c, durationMs) => {
    const route = c.get("unmatched") ? "unmatched" : (matchedRoutes(c).at(-1)?.path ?? "unmatched");
    const method = KNOWN_METHODS.has(c.req.method) ? c.req.method : "other";
    const status = String(c.res.status);
    const key = `${method} ${status} ${route}`;
    let child = series.get(key);
    if (child === undefined) {
      child = histogram.labels({ method, route, status });
      series.set(key, child);
    }
    child.observe(durationMs / 1_000);
  };
}
