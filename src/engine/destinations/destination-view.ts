/**
 * A destination as `GET /v1/destinations` and `GET /v1/destinations/:destination` show it: its
 * breaker, its pause, its limits and its recent health (this process's, in memory).
 */
import { describeTrip } from "../../resilience/errors.ts";
import type { DestinationInfo } from "./destination-gate.ts";
import { hostPort } from "./destination-key.ts";

/** The breaker as shown. Times are ISO 8601, UTC. */
export type BreakerView =
  | { state: "closed"; consecutiveOpens: number }
  | {
      state: "open";
      openedAt: string;
      /** When a probe may go. */
      openUntil: string;
      /** Why it opened. */
      reason: string;
      /** Opens since it last closed; each lasts longer, up to the cap. */
      consecutiveOpens: number;
    }
  | {
      state: "half-open";
      /** When the probe was elected. */
      since: string;
      /** When the probe counts as lost if it has not decided. */
      probeDeadline: string;
      reason: string;
      consecutiveOpens: number;
    };

/** A destination as the API shows it. */
export interface DestinationView {
  /** The origin: `https://api.example.com`. */
  destination: string;
  /** `api.example.com:443`. */
  hostPort: string;
  breaker: BreakerView;
  /** Present while the destination is paused by `Retry-After`. */
  pause?: { until: string; reason: string };
  /** `null`: no limit. */
  limits: { rateLimitPerSecond: number | null; maxConcurrency: number | null };
  /** This process's figures over the last `windowMs` (in memory, not shared between processes). */
  health: {
    windowMs: number;
    requests: number;
    failures: number;
    /** failures / requests, 0 to 1. */
    errorRate: number;
    /** Estimated from log-spaced buckets (within about 19%); absent without requests. */
    latencyMs?: { p50: number; p95: number; p99: number };
    /** Attempts in flight now, in this process. */
    inFlight: number;
  };
  /** The saved version (0: never saved; nothing has happened to it but traffic). */
  version: number;
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** The view of a destination at `now`. */
export function toDestinationView(info: DestinationInfo, now: number): DestinationView {
  const { breaker, consecutiveOpens, pause } = info.state;
  let breakerView: BreakerView;
  if (breaker.state === "closed") breakerView = { state: "closed", consecutiveOpens };
  else if (breaker.state === "open") {
    breakerView = {
      state: "open",
      openedAt: iso(breaker.openedAt),
      openUntil: iso(breaker.openUntil),
      reason: describeTrip(breaker.reason),
      consecutiveOpens,
    };
  } else {
    breakerView = {
      state: "half-open",
      since: iso(breaker.since),
      probeDeadline: iso(breaker.probeDeadline),
      reason: describeTrip(breaker.reason),
      consecutiveOpens,
    };
  }
  const health = info.entry.health.snapshot(now);
  const view: DestinationView = {
    destination: info.destination,
    hostPort: hostPort(info.destination),
    breaker: breakerView,
    limits: {
      rateLimitPerSecond: info.limits.rateLimitPerSecond ?? null,
      maxConcurrency: info.limits.maxConcurrency ?? null,
    },
    health: {
      windowMs: health.windowMs,
      requests: health.requests,
      failures: health.failures,
      errorRate: Math.round(health.errorRate * 10_000) / 10_000,
      ...(health.latencyMs === undefined ? {} : { latencyMs: health.latencyMs }),
      inFlight: info.inFlight,
    },
    version: info.version,
  };
  if (pause !== undefined && pause.until > now)
    view.pause = { until: iso(pause.until), reason: pause.reason };
  return view;
}
