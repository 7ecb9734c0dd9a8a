/**
 * A destination as `GET /v1/destinations` and `GET /v1/destinations/:destination` show it: its
 * breaker, its pause and its tenants' pauses, its limits and its recent health (this process's,
 * in memory). Those routes are for operators only, so the view may name tenants. The view
 * types live in core (call-view.ts), beside the call's, so the REST client shares them.
 */
import type { BreakerView, DestinationView } from "../../core/call-view.ts";
import { describeTrip } from "../../resilience/errors.ts";
import type { DestinationInfo } from "./destination-gate.ts";
import { hostPort } from "./destination-key.ts";
import { activeTenantPauses } from "./protection-state.ts";

export type { BreakerView, DestinationView };

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
      waitingForSlot: info.entry.slotQueue.length,
      ...(info.limits.maxConcurrency === undefined ? {} : { permits: info.entry.permits }),
    },
    version: info.version,
  };
  if (pause !== undefined && pause.until > now)
    view.pause = { until: iso(pause.until), reason: pause.reason };
  const tenantPauses = activeTenantPauses(info.state, now);
  if (tenantPauses.length > 0) {
    view.tenantPauses = tenantPauses.map(({ tenant, until, reason }) => ({
      tenant,
      until: iso(until),
      reason,
    }));
  }
  return view;
}
