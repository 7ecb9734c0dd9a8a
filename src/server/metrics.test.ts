import { describe, expect, it } from "vitest";
import type { AttemptRecord, CallRecord } from "../core/call.ts";
import type { CallId, TenantId } from "../core/ids.ts";
import type { EngineEvents } from "../engine/engine.ts";
import { Emitter } from "../resilience/events.ts";
import { ATTEMPT_DURATION_BUCKETS, createMetrics, outcomeLabel } from "./metrics.ts";

const call = (status: CallRecord["status"], kind: CallRecord["kind"] = "call"): CallRecord => ({
  id: "call_01JD6Z2K8Q7X1Y0ZV3R5T9W2MN" as CallId,
  tenantId: "acme" as TenantId,
  kind,
  status,
  spec: {
    request: { url: "https://a.example/", method: "GET", headers: {} },
    retry: { maxAttempts: 3, backoff: "fixed", initialDelayMs: 1, maxDelayMs: 1 },
    timeout: { connectMs: 1, readMs: 1, totalMs: 1 },
  },
  forwardedKey: "k",
  attempts: 1,
  attemptBase: 0,
  crashesInARow: 0,
  createdAt: 0,
  updatedAt: 0,
});

const attempt = (
  outcome: AttemptRecord["outcome"],
  decision: AttemptRecord["decision"],
  durationMs: number,
): AttemptRecord => ({
  callId: "call_01JD6Z2K8Q7X1Y0ZV3R5T9W2MN" as CallId,
  number: 1,
  startedAt: 0,
  durationMs,
  outcome,
  sent: true,
  decision,
});

describe("createMetrics", () => {
  it("counts attempts, retries, ended calls and in-flight work from engine events", async () => {
    const events = new Emitter<EngineEvents>();
    let inFlight = 3;
    const metrics = createMetrics({ events, inFlight: () => inFlight, processMetrics: false });
    const retry = attempt(
      { type: "response", status: 503 },
      { type: "retry", delayMs: 100, reason: "503" },
      2_500,
    );
    events.emit("attempt:recorded", { call: call("waiting"), attempt: retry });
    const refused = attempt(
      { type: "error", code: "connect_refused", message: "refused" },
      { type: "retry", delayMs: 1, reason: "network" },
      0.8,
    );
    events.emit("attempt:recorded", { call: call("waiting"), attempt: refused });
    const ok = attempt({ type: "response", status: 201 }, { type: "succeed" }, 40);
    events.emit("attempt:recorded", { call: call("succeeded"), attempt: ok });
    events.emit("call:ended", { call: call("succeeded") });
    events.emit("call:ended", { call: call("failed") });
    events.emit("call:ended", { call: call("succeeded", "callback") });

    const text = await metrics.registry.metrics();
    expect(text).toMatch(/^steadfast_attempts_total\{outcome="5xx",decision="retry"\} 1$/m);
    expect(text).toMatch(
      /^steadfast_attempts_total\{outcome="connect_refused",decision="retry"\} 1$/m,
    );
    expect(text).toMatch(/^steadfast_attempts_total\{outcome="2xx",decision="succeed"\} 1$/m);
    expect(text).toMatch(/^steadfast_retries_scheduled_total 2$/m);
    expect(text).toMatch(/^steadfast_calls_ended_total\{status="succeeded"\} 1$/m);
    expect(text).toMatch(/^steadfast_calls_ended_total\{status="failed"\} 1$/m);
    expect(text).toMatch(/^steadfast_calls_in_flight 3$/m);
    expect(text).toMatch(
      /^steadfast_attempt_duration_seconds_bucket\{le="0.001",outcome="connect_refused"\} 1$/m,
    );
    expect(text).toMatch(
      /^steadfast_attempt_duration_seconds_bucket\{le="0.04",outcome="2xx"\} 1$/m,
    );
    expect(text).toMatch(/^steadfast_attempt_duration_seconds_sum\{outcome="5xx"\} 2.5$/m);
    expect(text).toMatch(/^steadfast_calls_accepted_total 0$/m);
    expect(text).not.toContain("process_cpu");

    inFlight = 0;
    metrics.close();
    events.emit("call:ended", { call: call("failed") });
    const after = await metrics.registry.metrics();
    expect(after).toMatch(/^steadfast_calls_ended_total\{status="failed"\} 1$/m);
    expect(after).toMatch(/^steadfast_calls_in_flight 0$/m);
  });

  it("counts held calls and breaker changes, and destinations per state at scrape", async () => {
    const events = new Emitter<EngineEvents>();
    const destinations = [
      { breaker: "closed", paused: false },
      { breaker: "open", paused: true },
      { breaker: "open", paused: false },
      { breaker: "half-open", paused: false },
    ];
    const metrics = createMetrics({
      events,
      destinations: () => destinations,
      processMetrics: false,
    });
    const destination = "https://api.example.com";
    events.emit("call:held", {
      call: call("waiting"),
      runAt: 5,
      waitingFor: { reason: "circuit_open", message: "open", destination },
    });
    events.emit("call:held", {
      call: call("waiting"),
      runAt: 5,
      waitingFor: { reason: "rate_limited", message: "slot" },
    });
    events.emit("breaker:opened", {
      destination,
      openedAt: 0,
      openUntil: 5_000,
      reason: { strategy: "half-open-probe-failed" },
      consecutiveOpens: 1,
    });
    events.emit("breaker:half-opened", { destination, at: 5_000, probeDeadline: 6_000 });
    events.emit("breaker:closed", { destination, at: 5_100 });
    events.emit("destination:paused", { destination, until: 9_000, reason: "503" });
    events.emit("tenant:paused", { destination, tenantId: "a", until: 9_000, reason: "429" });
    events.emit("tenant:paused", { destination, tenantId: "b", until: 9_000, reason: "429" });
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/^steadfast_calls_held_total\{reason="circuit_open"\} 1$/m);
    expect(text).toMatch(/^steadfast_calls_held_total\{reason="rate_limited"\} 1$/m);
    for (const to of ["open", "half-open", "closed"])
      expect(text).toMatch(
        new RegExp(`^steadfast_breaker_transitions_total\\{to="${to}"\\} 1$`, "m"),
      );
    expect(text).toMatch(/^steadfast_destination_pauses_total 1$/m);
    expect(text).toMatch(/^steadfast_tenant_pauses_total 2$/m);
    expect(text).toMatch(/^steadfast_destinations\{state="closed"\} 1$/m);
    expect(text).toMatch(/^steadfast_destinations\{state="open"\} 2$/m);
    expect(text).toMatch(/^steadfast_destinations\{state="half-open"\} 1$/m);
    expect(text).toMatch(/^steadfast_destinations_paused 1$/m);
    metrics.close();
  });

  it("counts what retention deleted, by kind", async () => {
    const events = new Emitter<EngineEvents>();
    const metrics = createMetrics({ events, processMetrics: false });
    events.emit("retention:purged", { kind: "call", count: 500 });
    events.emit("retention:purged", { kind: "call", count: 12 });
    events.emit("retention:purged", { kind: "callback", count: 3 });
    events.emit("retention:purged", { kind: "run", count: 7 });
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/^# TYPE steadfast_purged_total counter$/m);
    expect(text).toMatch(/^steadfast_purged_total\{kind="call"\} 512$/m);
    expect(text).toMatch(/^steadfast_purged_total\{kind="callback"\} 3$/m);
    expect(text).toMatch(/^steadfast_purged_total\{kind="run"\} 7$/m);
    metrics.close();
  });

  it("collects Node process metrics by default, on its own registry", async () => {
    const a = createMetrics();
    const b = createMetrics();
    expect(await a.registry.metrics()).toContain("process_cpu_user_seconds_total");
    expect(a.registry).not.toBe(b.registry);
  });

  it("has attempt buckets from 1 ms to 60 s, no more than ~1.7x apart", () => {
    expect(ATTEMPT_DURATION_BUCKETS[0]).toBe(0.001);
    expect(ATTEMPT_DURATION_BUCKETS.at(-1)).toBe(60);
    for (let i = 1; i < ATTEMPT_DURATION_BUCKETS.length; i++) {
      expect(ATTEMPT_DURATION_BUCKETS[i]! / ATTEMPT_DURATION_BUCKETS[i - 1]!).toBeLessThanOrEqual(
        1.7,
      );
    }
  });

  it("labels outcomes by status class or error code", () => {
    expect(outcomeLabel(attempt({ type: "response", status: 429 }, { type: "succeed" }, 1))).toBe(
      "4xx",
    );
    expect(
      outcomeLabel(
        attempt({ type: "error", code: "read_timeout", message: "" }, { type: "succeed" }, 1),
      ),
    ).toBe("read_timeout");
  });
});
