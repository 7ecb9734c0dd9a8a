import { describe, expect, it } from "vitest";
import type { DestinationView } from "../core/call-view.ts";
import { destinationDetail, destinationsTable } from "./destination-format.ts";

const closed: DestinationView = {
  destination: "https://api.example.com",
  hostPort: "api.example.com:443",
  breaker: { state: "closed", consecutiveOpens: 0 },
  limits: { rateLimitPerSecond: null, maxConcurrency: null },
  health: {
    windowMs: 60_000,
    requests: 120,
    failures: 3,
    errorRate: 0.025,
    latencyMs: { p50: 42.1, p95: 180, p99: 410.5 },
    inFlight: 2,
    waitingForSlot: 0,
  },
  version: 0,
};

const open: DestinationView = {
  destination: "http://127.0.0.1:8080",
  hostPort: "127.0.0.1:8080",
  breaker: {
    state: "open",
    openedAt: "2026-01-01T12:04:21.000Z",
    openUntil: "2026-01-01T12:04:31.000Z",
    reason: "a half-open probe failed",
    consecutiveOpens: 2,
  },
  pause: { until: "2026-01-01T12:05:00.000Z", reason: "status 503 with Retry-After 30 s" },
  limits: { rateLimitPerSecond: 2.5, maxConcurrency: 4 },
  health: {
    windowMs: 60_000,
    requests: 0,
    failures: 0,
    errorRate: 0,
    inFlight: 4,
    waitingForSlot: 3,
    permits: 4,
  },
  version: 3,
};

describe("destination output", () => {
  it("tables destinations with breaker, error rate, latency and limits", () => {
    expect(destinationsTable([closed, open])).toBe(
      [
        "DESTINATION              BREAKER                                                             ERRORS  REQUESTS  P50/P95/P99 MS  LIMITS",
        "https://api.example.com  closed                                                              2.5%    120       42.1/180/410.5  -",
        "http://127.0.0.1:8080    open until 2026-01-01T12:04:31Z, paused until 2026-01-01T12:05:00Z  0%      0         -               2.5/s, 4 at once",
      ].join("\n") + "\n",
    );
  });

  it("details one destination", () => {
    expect(destinationDetail(open)).toBe(
      [
        "destination       http://127.0.0.1:8080",
        "breaker           open until 2026-01-01T12:04:31Z, paused until 2026-01-01T12:05:00Z",
        "  reason          a half-open probe failed",
        "  opens in a row  2",
        "pause             until 2026-01-01T12:05:00Z (status 503 with Retry-After 30 s)",
        "limits            2.5/s, 4 at once",
        "health            0 requests, 0 failed (0%) in the last 60 s; 4 in flight, 3 waiting for a slot, 4 of the fleet's permits held here",
        "latency ms        -",
      ].join("\n") + "\n",
    );
    expect(destinationDetail(closed)).toContain("latency ms        p50 42.1, p95 180, p99 410.5\n");
  });

  it("shows the tenants whose calls are paused (issue 10)", () => {
    const paused: DestinationView = {
      ...closed,
      tenantPauses: [
        {
          tenant: "acme",
          until: "2026-01-01T12:05:00.000Z",
          reason: "status 429 with rate-limit reset 30 s",
        },
        {
          tenant: "globex",
          until: "2026-01-01T12:04:40.000Z",
          reason: "status 429 with Retry-After 10 s",
        },
      ],
    };
    expect(destinationsTable([paused])).toContain("closed, 2 tenants paused");
    expect(destinationDetail(paused)).toContain(
      [
        "tenant pauses     acme until 2026-01-01T12:05:00Z (status 429 with rate-limit reset 30 s)",
        "                  globex until 2026-01-01T12:04:40Z (status 429 with Retry-After 10 s)",
        "limits            -",
      ].join("\n"),
    );
  });
});
