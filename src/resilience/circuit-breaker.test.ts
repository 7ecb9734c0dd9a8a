import { describe, expect, it } from "vitest";
import { FakeClock } from "../testing/fake-clock.ts";
import { consecutiveFailures, failureRate } from "./breaker-strategies.ts";
import type { BreakerSnapshot } from "./breaker-state.ts";
import { circuitBreaker, type BreakerEvents } from "./circuit-breaker.ts";
import { BulkheadRejectedError, isBrokenCircuitError } from "./errors.ts";
import { pipeline } from "./pipeline.ts";
import { timeout } from "./timeout.ts";

const boom = (): Promise<never> => Promise.reject(new Error("upstream down"));
const ok = (): Promise<string> => Promise.resolve("ok");

function deferred<T = string>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((a, b) => {
    resolve = a;
    reject = b;
  });
  return { promise, resolve, reject };
}

async function failTimes(execute: () => Promise<unknown>, times: number): Promise<void> {
  for (let i = 0; i < times; i++) await execute().catch(() => {});
}

function setup(options: Parameters<typeof circuitBreaker>[0] = {}) {
  const clock = new FakeClock(0);
  const breaker = circuitBreaker({
    clock,
    strategy: consecutiveFailures({ threshold: 3 }),
    openDurationMs: 1_000,
    ...options,
  });
  const events: string[] = [];
  for (const name of ["breaker:opened", "breaker:half-opened", "breaker:closed"] as const) {
    breaker.on(name, () => events.push(name));
  }
  return { clock, breaker, events };
}

describe("circuitBreaker", () => {
  it("opens when the strategy trips, then rejects with the reason and the wait", async () => {
    const { clock, breaker, events } = setup();
    await failTimes(() => breaker.execute(boom), 3);
    expect(breaker.state).toMatchObject({ state: "open", openedAt: 0, openUntil: 1_000 });
    expect(events).toEqual(["breaker:opened"]);
    await clock.advance(400);
    let called = false;
    const error: unknown = await breaker
      .execute(() => {
        called = true;
        return ok();
      })
      .catch((e: unknown) => e);
    expect(called).toBe(false);
    expect(isBrokenCircuitError(error)).toBe(true);
    expect(error).toMatchObject({
      policy: "circuit-breaker",
      state: "open",
      retryAfterMs: 600,
      reason: { strategy: "consecutive-failures", consecutiveFailures: 3, threshold: 3 },
    });
  });

  it("opens on the default failure-rate strategy once the minimum throughput is reached", async () => {
    const clock = new FakeClock(0);
    const breaker = circuitBreaker({ clock });
    for (let i = 0; i < 10; i++) await breaker.execute(ok);
    await failTimes(() => breaker.execute(boom), 9);
    expect(breaker.state.state).toBe("closed");
    await failTimes(() => breaker.execute(boom), 1);
    expect(breaker.state).toMatchObject({
      state: "open",
      reason: { strategy: "failure-rate", calls: 20, failures: 10, rate: 0.5 },
    });
  });

  it("lets exactly halfOpenProbes probes through after the open duration, and closes when all succeed", async () => {
    const { clock, breaker, events } = setup({ halfOpenProbes: 2 });
    await failTimes(() => breaker.execute(boom), 3);
    await clock.advance(1_000);
    const probes = [deferred(), deferred()];
    const first = breaker.execute(() => probes[0]!.promise);
    const second = breaker.execute(() => probes[1]!.promise);
    expect(breaker.state).toMatchObject({ state: "half-open", probesInFlight: 2 });
    await expect(breaker.execute(ok)).rejects.toMatchObject({
      kind: "BrokenCircuitError",
      state: "half-open",
    });
    probes[0]!.resolve("a");
    await first;
    expect(breaker.state.state).toBe("half-open");
    // One probe succeeded and one runs: still no room for a third.
    await expect(breaker.execute(ok)).rejects.toMatchObject({ state: "half-open" });
    probes[1]!.resolve("b");
    await second;
    expect(breaker.state.state).toBe("closed");
    expect(events).toEqual(["breaker:opened", "breaker:half-opened", "breaker:closed"]);
  });

  it("re-opens on a failed probe for twice as long, capped, and starts over once closed", async () => {
    const { clock, breaker } = setup({ openDurationFactor: 2, maxOpenDurationMs: 3_000 });
    await failTimes(() => breaker.execute(boom), 3);
    const durations: number[] = [];
    breaker.on("breaker:opened", (e) => durations.push(e.openDurationMs));
    for (let i = 0; i < 3; i++) {
      await clock.advance(5_000);
      await failTimes(() => breaker.execute(boom), 1);
      expect(breaker.state).toMatchObject({
        state: "open",
        reason: { strategy: "half-open-probe-failed" },
      });
    }
    expect(durations).toEqual([2_000, 3_000, 3_000]);
    await clock.advance(5_000);
    await breaker.execute(ok);
    expect(breaker.state.state).toBe("closed");
    await failTimes(() => breaker.execute(boom), 3);
    expect(breaker.state).toMatchObject({ openUntil: clock.now() + 1_000 });
  });

  it("is never stuck half-open: probes that never finish count as lost after halfOpenTimeoutMs", async () => {
    const { clock, breaker } = setup({ halfOpenTimeoutMs: 5_000 });
    await failTimes(() => breaker.execute(boom), 3);
    await clock.advance(1_000);
    void breaker.execute(() => new Promise<never>(() => {}));
    await clock.advance(4_999);
    await expect(breaker.execute(ok)).rejects.toMatchObject({
      state: "half-open",
      retryAfterMs: 1,
    });
    await clock.advance(1);
    await expect(breaker.execute(ok)).rejects.toMatchObject({
      state: "open",
      reason: { strategy: "half-open-probe-lost", halfOpenTimeoutMs: 5_000 },
    });
    await clock.advance(2_000);
    await expect(breaker.execute(ok)).resolves.toBe("ok");
    expect(breaker.state.state).toBe("closed");
  });

  it("gives the probe slot back when a probe ends without a verdict (caller abort, local rejection)", async () => {
    const { clock, breaker } = setup();
    await failTimes(() => breaker.execute(boom), 3);
    await clock.advance(1_000);
    await breaker
      .execute(() => Promise.reject(new DOMException("caller gave up", "AbortError")))
      .catch(() => {});
    expect(breaker.state).toMatchObject({ state: "half-open", probesInFlight: 0 });
    await breaker
      .execute(() =>
        Promise.reject(
          new BulkheadRejectedError({ maxConcurrent: 1, maxQueue: 0, executing: 1, queued: 0 }),
        ),
      )
      .catch(() => {});
    await expect(breaker.execute(ok)).resolves.toBe("ok");
    expect(breaker.state.state).toBe("closed");
  });

  it("counts 5xx results and errors as failures, 4xx as successes", async () => {
    const { breaker } = setup();
    const notFound = () => Promise.reject(Object.assign(new Error("404"), { status: 404 }));
    await failTimes(() => breaker.execute(notFound), 10);
    expect(breaker.state.state).toBe("closed");
    for (let i = 0; i < 3; i++) await breaker.execute(() => Promise.resolve({ status: 503 }));
    expect(breaker.state.state).toBe("open");
  });

  it("by default counts as the engine does: 429 and 425 are nothing, 501 a success (issue 10)", async () => {
    const { breaker } = setup();
    const answer = (status: number) => () => Promise.resolve({ status });
    for (let i = 0; i < 10; i++) await breaker.execute(answer(501));
    expect(breaker.state.state).toBe("closed");
    // Three failures in a row open it: the 429s and 425s between them neither fail nor break the run.
    await breaker.execute(answer(503));
    await breaker.execute(answer(429));
    await breaker.execute(answer(502));
    await breaker.execute(answer(425));
    await breaker.execute(answer(429));
    expect(breaker.state.state).toBe("closed");
    await breaker.execute(answer(500));
    expect(breaker.state.state).toBe("open");
  });

  it("takes a custom classification", async () => {
    const { breaker } = setup({
      classify: (o) => (o.type === "result" && o.value === "bad" ? "failure" : "success"),
    });
    for (let i = 0; i < 3; i++) await breaker.execute(() => Promise.resolve("bad"));
    expect(breaker.state.state).toBe("open");
  });

  it("does not count calls let in while closed that end after it opened", async () => {
    const { clock, breaker } = setup();
    const slow = deferred();
    const late = breaker.execute(() => slow.promise);
    await failTimes(() => breaker.execute(boom), 3);
    await clock.advance(1_000);
    slow.reject(new Error("late failure"));
    await late.catch(() => {});
    await expect(breaker.execute(ok)).resolves.toBe("ok");
    expect(breaker.state.state).toBe("closed");
  });

  it("exports its state as JSON and restores it elsewhere", async () => {
    const { clock, breaker } = setup();
    await failTimes(() => breaker.execute(boom), 3);
    const snapshot = JSON.parse(JSON.stringify(breaker.exportState())) as BreakerSnapshot;
    expect(snapshot).toMatchObject({
      version: 1,
      state: { state: "open", openUntil: 1_000 },
      consecutiveOpens: 1,
    });
    const other = circuitBreaker({
      clock,
      strategy: consecutiveFailures({ threshold: 3 }),
      state: snapshot,
    });
    await expect(other.execute(ok)).rejects.toMatchObject({ retryAfterMs: 1_000 });
    await clock.advance(1_000);
    await expect(other.execute(ok)).resolves.toBe("ok");
  });

  it("restores half-open without the exporter's probes in flight, and refuses garbage", async () => {
    const { clock, breaker } = setup();
    await failTimes(() => breaker.execute(boom), 3);
    await clock.advance(1_000);
    void breaker.execute(() => new Promise<never>(() => {}));
    const snapshot = breaker.exportState();
    expect(snapshot.state).toMatchObject({ state: "half-open", probesInFlight: 0 });
    const other = circuitBreaker({ clock, state: snapshot });
    await expect(other.execute(ok)).resolves.toBe("ok");
    expect(() => other.restore({ version: 2 } as unknown as BreakerSnapshot)).toThrow(
      /exportState/,
    );
  });

  it("restores the failure-rate window", async () => {
    const clock = new FakeClock(0);
    const make = () => circuitBreaker({ clock, strategy: failureRate({ minimumThroughput: 4 }) });
    const breaker = make();
    await failTimes(() => breaker.execute(boom), 3);
    const other = make();
    other.restore(breaker.exportState());
    await failTimes(() => other.execute(boom), 1);
    expect(other.state.state).toBe("open");
  });

  it("isolates by hand until released", async () => {
    const { breaker } = setup();
    const release = breaker.isolate();
    await expect(breaker.execute(ok)).rejects.toMatchObject({ reason: { strategy: "isolated" } });
    release();
    await expect(breaker.execute(ok)).resolves.toBe("ok");
  });

  it("buckets successes by an inner timeout's reading and still trips on the window", async () => {
    const clock = new FakeClock(0);
    const breaker = circuitBreaker({ clock, strategy: failureRate({ minimumThroughput: 4 }) });
    const policy = pipeline(breaker, timeout({ timeoutMs: 1_000, clock }));
    for (let i = 0; i < 2; i++) await policy.execute(ok);
    await failTimes(() => policy.execute(boom), 1);
    expect(breaker.state.state).toBe("closed");
    await failTimes(() => policy.execute(boom), 1);
    expect(breaker.state).toMatchObject({ state: "open", reason: { calls: 4, failures: 2 } });
  });

  it("emits a rejection event with the wait", async () => {
    const { breaker } = setup();
    const rejected: BreakerEvents["breaker:rejected"][] = [];
    breaker.on("breaker:rejected", (e) => rejected.push(e));
    await failTimes(() => breaker.execute(boom), 4);
    expect(rejected).toEqual([{ state: "open", retryAfterMs: 1_000 }]);
  });
});
