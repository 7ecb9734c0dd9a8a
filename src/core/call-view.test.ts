import { describe, expect, it } from "vitest";
import type { CallRecord } from "./call.ts";
import { toCallView } from "./call-view.ts";
import { tenantId, type CallId } from "./ids.ts";

describe("waitingFor", () => {
  const base: CallRecord = {
    id: "call_01JAAAAAAAAAAAAAAAAAAAAAAA" as CallId,
    tenantId: tenantId("t"),
    kind: "call",
    status: "waiting",
    spec: {
      request: { url: "https://api.example.com/x", method: "GET", headers: {} },
      retry: { maxAttempts: 5, backoff: "exponential", initialDelayMs: 1_000, maxDelayMs: 60_000 },
      timeout: { connectMs: 10_000, readMs: 30_000, totalMs: 60_000 },
    },
    forwardedKey: "k",
    attempts: 1,
    attemptBase: 0,
    crashesInARow: 0,
    runAt: Date.parse("2026-01-01T12:04:31Z"),
    waitReason: "retry after attempt 1: status 503",
    createdAt: 0,
    updatedAt: 0,
  };

  it("shows a retry backoff as retry_scheduled", () => {
    expect(toCallView(base).waitingFor).toEqual({
      reason: "retry_scheduled",
      message: "retry after attempt 1: status 503",
      until: "2026-01-01T12:04:31.000Z",
    });
  });

  it("shows a call held by its destination with the code and the destination", () => {
    const held: CallRecord = {
      ...base,
      waitCode: "circuit_open",
      waitDestination: "https://api.example.com",
      waitReason: "circuit open for api.example.com:443 until 12:04:31Z",
    };
    expect(toCallView(held).waitingFor).toEqual({
      reason: "circuit_open",
      message: "circuit open for api.example.com:443 until 12:04:31Z",
      destination: "https://api.example.com",
      until: "2026-01-01T12:04:31.000Z",
    });
    expect(toCallView({ ...held, status: "queued" }).waitingFor).toBeUndefined();
  });
});
