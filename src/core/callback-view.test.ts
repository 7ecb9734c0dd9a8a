import { describe, expect, it } from "vitest";
import type { AttemptRecord, CallRecord } from "./call.ts";
import { currentDelivery, toCallbackView } from "./callback-view.ts";
import type { CallId, TenantId } from "./ids.ts";

const T = Date.parse("2026-01-01T00:00:00.000Z");
const URL = "https://hooks.example.com/x";

function call(overrides: Partial<CallRecord>): CallRecord {
  return {
    id: "call_01KDVDNA00RWFFZBHAVGRKE8QN" as CallId,
    tenantId: "t" as TenantId,
    kind: "call",
    status: "succeeded",
    spec: {
      request: { url: "https://api.example.com/", method: "GET", headers: {} },
      retry: { maxAttempts: 5, backoff: "exponential", initialDelayMs: 1_000, maxDelayMs: 60_000 },
      timeout: { connectMs: 1_000, readMs: 1_000, totalMs: 1_000 },
      callbackUrl: URL,
    },
    forwardedKey: "k",
    attempts: 1,
    attemptBase: 0,
    crashesInARow: 0,
    createdAt: T,
    updatedAt: T + 10,
    completedAt: T + 10,
    ...overrides,
  };
}

const delivery = (overrides: Partial<CallRecord>): CallRecord =>
  call({
    kind: "callback",
    status: "queued",
    attempts: 0,
    createdAt: T + 10,
    forwardedKey: "msg_1",
    ...overrides,
  });

const failedAttempt: AttemptRecord = {
  callId: "call_x" as CallId,
  number: 1,
  startedAt: T + 20,
  durationMs: 5,
  outcome: { type: "error", code: "connect_refused", message: "connect ECONNREFUSED" },
  sent: false,
  decision: {
    type: "retry",
    delayMs: 5_000,
    reason: "connect_refused: connect ECONNREFUSED; exponential backoff",
  },
};

describe("toCallbackView", () => {
  it("redacts lastError.message as the attempt view does (the one redactor)", () => {
    const reason =
      "unknown: fetch of https://u:SeCrEt1@hooks.example.com/x?token=SeCrEt2 failed; exponential backoff";
    const retrying = {
      call: delivery({ status: "waiting", attempts: 1, runAt: T + 5_020 }),
      lastAttempt: {
        ...failedAttempt,
        outcome: { type: "error" as const, code: "unknown" as const, message: reason },
        decision: { type: "retry" as const, delayMs: 5_000, reason },
      },
    };
    const view = toCallbackView(URL, call({}), { delivery: retrying });
    expect(view.lastError?.message).toBe(
      "unknown: fetch of https://[redacted]@hooks.example.com/x?token=[redacted] failed; exponential backoff",
    );
    expect(JSON.stringify(view)).not.toMatch(/SeCrEt/);
  });

  it("is pending while the call runs, even when an earlier end's delivery exists", () => {
    const { completedAt: _ended, ...unended } = call({});
    const running: CallRecord = { ...unended, status: "running" };
    const old = { call: delivery({ status: "succeeded", attempts: 1 }) };
    expect(toCallbackView(URL, running, { delivery: old })).toEqual({
      url: URL,
      status: "pending",
      attempts: 0,
    });
    expect(currentDelivery(running, { delivery: old })).toBeUndefined();
  });

  it("ignores a delivery older than the call's latest end (it was sent before a redrive)", () => {
    const ended = call({ completedAt: T + 500 });
    const old = { call: delivery({ status: "failed", attempts: 10 }) };
    expect(currentDelivery(ended, { delivery: old })).toBeUndefined();
    expect(toCallbackView(URL, ended, { delivery: old }).status).toBe("pending");
    expect(toCallbackView(URL, call({ status: "cancelled" }), {}).status).toBe("skipped");
  });

  it("reads a transport error as lastError, and a hold before any attempt as delivering", () => {
    const retrying = {
      call: delivery({ status: "waiting", attempts: 1, runAt: T + 5_020 }),
      lastAttempt: failedAttempt,
    };
    expect(toCallbackView(URL, call({}), { delivery: retrying })).toEqual({
      url: URL,
      status: "retrying",
      attempts: 1,
      webhookId: "msg_1",
      lastAttemptAt: new Date(T + 20).toISOString(),
      lastError: {
        code: "connect_refused",
        message: failedAttempt.decision.type === "retry" ? failedAttempt.decision.reason : "",
      },
      nextAttemptAt: new Date(T + 5_020).toISOString(),
    });
    const held = { call: delivery({ status: "waiting", attempts: 0, runAt: T + 900 }) };
    expect(toCallbackView(URL, call({}), { delivery: held })).toMatchObject({
      status: "delivering",
      nextAttemptAt: new Date(T + 900).toISOString(),
    });
    const cancelled = {
      call: delivery({ status: "cancelled", attempts: 1 }),
      lastAttempt: failedAttempt,
    };
    expect(toCallbackView(URL, call({}), { delivery: cancelled }).status).toBe("failed");
  });
});
