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

  it("keeps the median answer time apart from timeouts and errors", () => {
    const health = new DestinationHealth(60_000);
    expect(health.answerMedianMs(0)).toBeUndefined();
    for (let i = 0; i < 3; i++) health.record(0, 2_000, false);
    // Many more timeouts at 1 s: they pull the overall median down, not the answer median.
    for (let i = 0; i < 20; i++) health.record(0, 1_000, true, false);
    expect(health.medianMs(0)).toBeLessThan(1_200);
    const typical = health.answerMedianMs(0);
    expect(typical).toBeGreaterThan(2_000 / 1.2);
    expect(typical).toBeLessThan(2_000 * 1.2);
    expect(health.snapshot(0)).toMatchObject({ requests: 23, failures: 20 });
    expect(health.answerMedianMs(70_000)).toBeUndefined();
  });

  it("forgets what left the window", () => {
    const health = new DestinationHealth(60_000);
    health.record(0, 5, true);
    expect(health.snapshot(59_000).requests).toBe(1);
    expect(health.snapshot(70_000).requests).toBe(0);
  });
});
