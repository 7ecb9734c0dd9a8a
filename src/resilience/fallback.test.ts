import { describe, expect, it } from "vitest";
import { FakeClock } from "../testing/fake-clock.ts";
import { consecutiveFailures } from "./breaker-strategies.ts";
import { circuitBreaker } from "./circuit-breaker.ts";
import { fallback, type FallbackEvents } from "./fallback.ts";
import { pipeline } from "./pipeline.ts";
import { retry } from "./retry.ts";

const down = (): Promise<never> => Promise.reject(new Error("upstream down"));

describe("fallback", () => {
  it("passes a real answer through as not degraded", async () => {
    const policy = fallback({ value: () => "stand-in" });
    await expect(policy.execute(() => Promise.resolve("real"))).resolves.toEqual({
      degraded: false,
      value: "real",
    });
  });

  it("replaces a failure and says it is degraded, why, and from where", async () => {
    const policy = fallback({ value: () => [] as string[], source: "empty-list" });
    const used: FallbackEvents["fallback:used"][] = [];
    policy.on("fallback:used", (e) => used.push(e));
    const result = await policy.execute(down);
    expect(result).toMatchObject({
      degraded: true,
      value: [],
      reason: "Error: upstream down",
      source: "empty-list",
    });
    expect(used).toEqual([{ reason: "Error: upstream down", source: "empty-list" }]);
  });

  it("names the policy that rejected, in a pipeline", async () => {
    const clock = new FakeClock(0);
    const breaker = circuitBreaker({ clock, strategy: consecutiveFailures({ threshold: 1 }) });
    const policy = pipeline(fallback({ value: () => "cached" }), breaker);
    await policy.execute(down);
    const result = await policy.execute(() => Promise.resolve("never called"));
    expect(result).toMatchObject({ degraded: true, reason: "circuit-breaker: BrokenCircuitError" });
  });

  it("serves the last good value, with when it was obtained, within maxAgeMs", async () => {
    const clock = new FakeClock(1_000);
    const policy = fallback<string>({ lastGood: { maxAgeMs: 60_000 }, clock });
    await policy.execute(() => Promise.resolve("v1"));
    await clock.advance(30_000);
    await expect(policy.execute(down)).resolves.toMatchObject({
      degraded: true,
      value: "v1",
      source: "last-good",
      staleAt: 1_000,
    });
    await clock.advance(31_000);
    await expect(policy.execute(down)).rejects.toThrow("upstream down");
  });

  it("treats a returned 5xx response as a failure", async () => {
    const policy = fallback({ value: () => ({ status: 200, fake: true }) });
    const result = await policy.execute(() => Promise.resolve({ status: 503 }));
    expect(result).toMatchObject({ degraded: true, reason: "status 503", value: { fake: true } });
  });

  it("lets a caller's abort through", async () => {
    const policy = fallback({ value: () => "x" });
    await expect(
      policy.execute(() => Promise.reject(new DOMException("stop", "AbortError"))),
    ).rejects.toThrow("stop");
  });

  it("wraps the rest of a pipeline and goes first only", async () => {
    const clock = new FakeClock(0);
    const policy = pipeline(fallback({ value: () => "fb" }), retry({ clock, maxAttempts: 1 }));
    await expect(policy.execute(down)).resolves.toMatchObject({ degraded: true, value: "fb" });
    expect(() => pipeline(retry(), fallback({ value: () => 1 }) as never)).toThrow(
      /fallback must be the first/,
    );
  });
});
