import { describe, expect, it } from "vitest";
import { DestinationHealth } from "./destination-health.ts";

describe("DestinationHealth", () => {
  it("reports error rate and latency quantiles within a bucket", () => {
    const health = new DestinationHealth(60_000);
    expect(health.snapshot(0)).toEqual({
      windowMs: 60_000,
      requests: 0,
      failures: 0,
      errorRate: 0,
    });
    for (let ms = 1; ms <= 1_000; ms++) health.record(1_000, ms, ms > 900);
    const { requests, failures, errorRate, latencyMs } = health.snapshot(1_000);
    expect({ requests, failures, errorRate }).toEqual({
      requests: 1_000,
      failures: 100,
      errorRate: 0.1,
    });
    for (const [q, value] of [
      [500, latencyMs!.p50],
      [950, latencyMs!.p95],
      [990, latencyMs!.p99],
    ] as const) {
      expect(value).toBeGreaterThan(q / 1.2);
      expect(value).toBeLessThan(q * 1.2);
    }
    expect(health.medianMs(1_000)).toBe(latencyMs!.p50);
  });

  it("forgets what left the window", () => {
    const health = new DestinationHealth(60_000);
    health.record(0, 5, true);
    expect(health.snapshot(59_000).requests).toBe(1);
    expect(health.snapshot(70_000).requests).toBe(0);
  });
});
