import { describe, expect, it } from "vitest";
import { FakeClock } from "../testing/fake-clock.ts";
import { isRateLimitedError } from "./errors.ts";
import { rateLimiter, type RateLimiterEvents } from "./rate-limiter.ts";

const ok = (): Promise<string> => Promise.resolve("ok");

describe("rateLimiter", () => {
  it("allows a burst, then refuses with the wait until the next token", async () => {
    const clock = new FakeClock(0);
    const limiter = rateLimiter({ tokensPerSecond: 10, burst: 3, clock });
    for (let i = 0; i < 3; i++) await expect(limiter.execute(ok)).resolves.toBe("ok");
    const error: unknown = await limiter.execute(ok).catch((e: unknown) => e);
    expect(isRateLimitedError(error)).toBe(true);
    expect(error).toMatchObject({ policy: "rate-limiter", retryAfterMs: 100, tokensPerSecond: 10 });
    await clock.advance(100);
    await expect(limiter.execute(ok)).resolves.toBe("ok");
  });

  it("refills continuously up to the burst", async () => {
    const clock = new FakeClock(0);
    const limiter = rateLimiter({ tokensPerSecond: 2, burst: 2, clock });
    await limiter.execute(ok);
    await limiter.execute(ok);
    await clock.advance(10_000);
    expect(limiter.tokens).toBe(2);
  });

  it("makes calls wait up to maxWaitMs, in arrival order, reserving their tokens", async () => {
    const clock = new FakeClock(0);
    const limiter = rateLimiter({ tokensPerSecond: 10, burst: 1, maxWaitMs: 250, clock });
    const order: number[] = [];
    const calls = [0, 1, 2].map((i) =>
      limiter.execute(() => {
        order.push(i);
        return Promise.resolve(clock.now());
      }),
    );
    // The fourth would need 300 ms: refused now, not queued.
    await expect(limiter.execute(ok)).rejects.toMatchObject({ retryAfterMs: 300 });
    await clock.advance(200);
    await expect(Promise.all(calls)).resolves.toEqual([0, 100, 200]);
    expect(order).toEqual([0, 1, 2]);
  });

  it("gives a reserved token back when the waiting caller aborts", async () => {
    const clock = new FakeClock(0);
    const limiter = rateLimiter({ tokensPerSecond: 10, burst: 1, maxWaitMs: 1_000, clock });
    await limiter.execute(ok);
    const caller = new AbortController();
    const waiting = limiter.execute(ok, { signal: caller.signal });
    caller.abort(new Error("gave up"));
    await expect(waiting).rejects.toThrow("gave up");
    expect(limiter.tokens).toBe(0);
  });

  it("can be paused until a time, and resumed", async () => {
    const clock = new FakeClock(0);
    const limiter = rateLimiter({ tokensPerSecond: 100, clock });
    limiter.pauseUntil(5_000, "maintenance");
    await expect(limiter.execute(ok)).rejects.toMatchObject({
      pausedUntil: 5_000,
      retryAfterMs: 5_000,
    });
    await clock.advance(5_000);
    await expect(limiter.execute(ok)).resolves.toBe("ok");
    limiter.pauseUntil(60_000);
    limiter.resume();
    await expect(limiter.execute(ok)).resolves.toBe("ok");
  });

  it("pauses itself on a 429 with Retry-After, capped at maxPauseMs, and says so", async () => {
    const clock = new FakeClock(0);
    const limiter = rateLimiter({ tokensPerSecond: 100, maxPauseMs: 10_000, clock });
    const paused: RateLimiterEvents["rate-limiter:paused"][] = [];
    limiter.on("rate-limiter:paused", (e) => paused.push(e));
    await limiter.execute(() => Promise.resolve({ status: 429, headers: { "retry-after": "3" } }));
    expect(limiter.pausedUntil).toBe(3_000);
    await clock.advance(3_000);
    await limiter
      .execute(() =>
        Promise.reject(
          Object.assign(new Error("busy"), { status: 503, headers: { "retry-after": "60" } }),
        ),
      )
      .catch(() => {});
    expect(limiter.pausedUntil).toBe(13_000);
    expect(paused).toEqual([
      { until: 3_000, reason: "status 429 with retry-after", requestedMs: 3_000, capped: false },
      { until: 13_000, reason: "status 503 with retry-after", requestedMs: 60_000, capped: true },
    ]);
  });

  it("validates its options", () => {
    expect(() => rateLimiter({ tokensPerSecond: 0 })).toThrow(/tokensPerSecond/);
    expect(() => rateLimiter({ tokensPerSecond: 1, burst: 0.5 })).toThrow(/burst/);
  });
});
