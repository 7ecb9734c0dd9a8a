import { describe, expect, it } from "vitest";
import type { CallView } from "../core/call-view.ts";
import {
  callbackRows,
  callSummary,
  decisionText,
  duration,
  outcomeText,
  printable,
  sentText,
  shortTime,
  table,
} from "./format.ts";

const base: CallView = {
  id: "call_01JD6Z2K8Q7X1Y0ZV3R5T9W2MN",
  status: "queued",
  request: { url: "https://api.example.com/", method: "GET", headers: {} },
  attempts: 0,
  createdAt: "2025-06-01T12:00:00.000Z",
  updatedAt: "2025-06-01T12:00:00.000Z",
};
const now = Date.parse("2025-06-01T12:00:00.000Z");

describe("format", () => {
  it("escapes control characters so upstream text cannot drive the terminal", () => {
    expect(printable("a\u001b[31mred\u0007\n\tb")).toBe("a\\x1b[31mred\\x07\\n\\tb");
    expect(printable("abcdef", 4)).toBe("abc…");
  });

  it("pads table columns but not the last one", () => {
    expect(
      table(
        ["A", "LONG"],
        [
          ["xyz", "1"],
          ["w", "22"],
        ],
      ),
    ).toBe("A    LONG\nxyz  1\nw    22\n");
  });

  it("writes durations and times compactly", () => {
    expect([
      duration(850),
      duration(1_240),
      duration(12_400),
      duration(185_000),
      duration(7_800_000),
    ]).toEqual(["850ms", "1.2s", "12s", "3m05s", "2h10m"]);
    expect(shortTime("2025-06-01T12:04:31.123Z")).toBe("2025-06-01T12:04:31Z");
  });

  it("describes outcomes, an attempt cut off by the end of its process included", () => {
    expect(outcomeText({ type: "response", status: 503 })).toBe("HTTP 503");
    expect(outcomeText({ type: "error", code: "reset", message: "x" })).toBe("reset");
    expect(outcomeText({ type: "interrupted", code: "process_ended", message: "x" })).toBe(
      "interrupted (process_ended)",
    );
  });

  it("says whether an attempt was sent: yes, no, or unknown (not yes) for a takeover's", () => {
    expect([true, false, "unknown" as const].map(sentText)).toEqual(["yes", "no", "unknown"]);
  });

  it("describes decisions", () => {
    expect(decisionText({ type: "retry", delayMs: 1_400, reason: "status 503" })).toBe(
      "retry in 1.4s (status 503)",
    );
    expect(decisionText({ type: "succeed" })).toBe("succeed");
    expect(
      decisionText({ type: "fail", code: "not_retryable", reason: "status 404 is not retryable" }),
    ).toBe("fail (status 404 is not retryable)");
  });

  it("summarises a call on one line", () => {
    expect(callSummary(base, now)).toBe("call_01JD6Z2K8Q7X1Y0ZV3R5T9W2MN  queued\n");
    expect(callSummary({ ...base, nextAttemptAt: "2025-06-01T12:00:00.500Z" }, now)).toBe(
      "call_01JD6Z2K8Q7X1Y0ZV3R5T9W2MN  queued\n",
    );
    expect(callSummary({ ...base, nextAttemptAt: "2025-06-01T12:05:00.000Z" }, now)).toBe(
      "call_01JD6Z2K8Q7X1Y0ZV3R5T9W2MN  queued  next attempt 2025-06-01T12:05:00Z\n",
    );
    expect(
      callSummary(
        {
          ...base,
          status: "waiting",
          attempts: 1,
          nextAttemptAt: "2025-06-01T12:00:02.000Z",
          waitingFor: {
            reason: "retry_scheduled",
            message: "retry after attempt 1: status 503",
            until: "2025-06-01T12:00:02.000Z",
          },
        },
        now,
      ),
    ).toBe(
      "call_01JD6Z2K8Q7X1Y0ZV3R5T9W2MN  waiting  retry after attempt 1: status 503 until 2025-06-01T12:00:02Z\n",
    );
    expect(
      callSummary(
        {
          ...base,
          status: "waiting",
          nextAttemptAt: "2025-06-01T12:04:31.000Z",
          waitingFor: {
            reason: "circuit_open",
            message: "circuit open for api.example.com:443 until 12:04:31Z",
            destination: "https://api.example.com",
            until: "2025-06-01T12:04:31.000Z",
          },
        },
        now,
      ),
    ).toBe(
      "call_01JD6Z2K8Q7X1Y0ZV3R5T9W2MN  waiting  circuit_open: circuit open for api.example.com:443 until 12:04:31Z\n",
    );
    expect(
      callSummary({
        ...base,
        status: "failed",
        response: { status: 404, headers: {}, body: "", bodyBytes: 0 },
        error: { code: "not_retryable", message: "status 404 is not retryable" },
      }),
    ).toBe(
      "call_01JD6Z2K8Q7X1Y0ZV3R5T9W2MN  failed  HTTP 404  not_retryable: status 404 is not retryable\n",
    );
  });

  it("says how a call's callback is going, in each of its states", () => {
    const url = "https://hooks.example.com/x";
    const lines = (callback: Parameters<typeof callbackRows>[1]) =>
      callbackRows(base.id, callback).map(([label, value]) => `${label}: ${value}`);
    expect(lines({ url, status: "pending", attempts: 0 })).toEqual([
      `callback: pending (sent when the call ends)  ${url}`,
    ]);
    expect(lines({ url, status: "skipped", attempts: 0 })).toEqual([
      `callback: skipped (a cancelled call sends no callback)  ${url}`,
    ]);
    expect(
      lines({
        url,
        status: "retrying",
        attempts: 2,
        webhookId: "msg_1",
        lastAttemptAt: "2025-06-01T12:00:05.000Z",
        lastError: { code: "connect_refused", message: "connect_refused: ECONNREFUSED; backoff" },
        nextAttemptAt: "2025-06-01T12:00:20.000Z",
      }),
    ).toEqual([
      `callback: retrying (2 attempts so far, next 2025-06-01T12:00:20Z)  ${url}`,
      "  last error: connect_refused: ECONNREFUSED; backoff (2025-06-01T12:00:05Z)",
      "  webhook-id: msg_1",
    ]);
    expect(
      lines({ url, status: "delivered", attempts: 1, deliveredAt: "2025-06-01T12:00:01.000Z" }),
    ).toEqual([`callback: delivered 2025-06-01T12:00:01Z (1 attempt)  ${url}`]);
    expect(
      lines({ url: "https://h.example/\u001b[2J", status: "delivering", attempts: 0 }),
    ).toEqual(["callback: delivering (0 attempts so far)  https://h.example/\\x1b[2J"]);
  });
});
