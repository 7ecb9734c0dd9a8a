import { describe, expect, it } from "vitest";
import type { TransportErrorCode } from "./call.ts";
import { TransportErrorCodes } from "./call.ts";
import {
  classifyOutcome,
  destinationVerdict,
  MIN_TELLING_TIMEOUT_MS,
  statusHealth,
  type AttemptLimits,
} from "./classify-outcome.ts";

const PATIENT: AttemptLimits = {
  connectTimeoutMs: 10_000,
  readTimeoutMs: 30_000,
  totalTimeoutMs: 60_000,
};
const error = (code: TransportErrorCode) => ({ type: "error", code, message: code }) as const;

describe("destinationVerdict", () => {
  it("counts failing statuses as failures, 429 and 425 as nothing, every other answer as a success", () => {
    const statuses = [200, 302, 400, 404, 408, 413, 425, 429, 500, 501, 503, 505];
    const verdicts = statuses.map((status) => [
      status,
      destinationVerdict({ type: "response", status }, PATIENT),
    ]);
    expect(verdicts).toEqual([
      [200, "success"],
      [302, "success"],
      [400, "success"],
      [404, "success"],
      [408, "failure"],
      [413, "success"],
      [425, "ignore"],
      [429, "ignore"],
      [500, "failure"],
      [501, "success"],
      [503, "failure"],
      [505, "success"],
    ]);
    // One rule: a response counts exactly as statusHealth says.
    for (const status of [...statuses, 100, 204, 418, 502, 504, 599])
      expect(destinationVerdict({ type: "response", status }, PATIENT)).toBe(statusHealth(status));
  });

  it("ignores what happened on our side: our abort, our guard, a request our client refuses, our bug", () => {
    for (const code of ["aborted", "blocked_destination", "invalid_request", "internal"] as const)
      expect(destinationVerdict(error(code), PATIENT)).toBe("ignore");
  });

  it("counts the destination's own failures, and errors it cannot place", () => {
    for (const code of TransportErrorCodes) {
      if (["aborted", "blocked_destination", "invalid_request", "internal"].includes(code))
        continue;
      expect([code, destinationVerdict(error(code), PATIENT)]).toEqual([code, "failure"]);
    }
  });

  it("counts a timeout only when the limit that ran out was at least a second", () => {
    const floor = MIN_TELLING_TIMEOUT_MS;
    const under = floor - 1;
    const cases = [
      ["connect_timeout", { ...PATIENT, connectTimeoutMs: under }, "ignore"],
      ["connect_timeout", { ...PATIENT, connectTimeoutMs: floor }, "failure"],
      ["read_timeout", { ...PATIENT, readTimeoutMs: under }, "ignore"],
      ["read_timeout", { ...PATIENT, readTimeoutMs: floor }, "failure"],
      // A deadline about to pass shortens the total of the last attempt (run-attempt.ts).
      ["total_timeout", { ...PATIENT, totalTimeoutMs: 1 }, "ignore"],
      ["total_timeout", { ...PATIENT, totalTimeoutMs: floor }, "failure"],
      // Each timeout is judged by its own limit: a short read limit says nothing of connecting.
      ["connect_timeout", { ...PATIENT, readTimeoutMs: 1 }, "failure"],
    ] as const;
    for (const [code, limits, verdict] of cases)
      expect([code, limits, destinationVerdict(error(code), limits)]).toEqual([
        code,
        limits,
        verdict,
      ]);
  });
});

describe("destinationVerdict and the destination's typical latency (issue 10)", () => {
  it("counts a timeout only when its limit was at least the typical answer time, and a second", () => {
    const read = (readTimeoutMs: number, typicalMs?: number) =>
      destinationVerdict(error("read_timeout"), { ...PATIENT, readTimeoutMs }, typicalMs);
    // A destination that usually answers in 2 s: a 1 s limit is the caller's impatience.
    expect(read(1_000, 2_000)).toBe("ignore");
    expect(read(1_999, 2_000)).toBe("ignore");
    expect(read(2_000, 2_000)).toBe("failure");
    expect(read(30_000, 2_000)).toBe("failure");
    // A fast destination: the floor of a second still holds.
    expect(read(999, 40)).toBe("ignore");
    expect(read(1_000, 40)).toBe("failure");
    // Nothing answered lately: the floor alone.
    expect(read(1_000)).toBe("failure");
    for (const code of ["connect_timeout", "total_timeout"] as const)
      expect(destinationVerdict(error(code), PATIENT, 90_000)).toBe("ignore");
    // Only timeouts are judged against it.
    expect(destinationVerdict(error("reset"), PATIENT, 90_000)).toBe("failure");
    expect(destinationVerdict({ type: "response", status: 503 }, PATIENT, 90_000)).toBe("failure");
  });
});

describe("classifyOutcome", () => {
  it("never retries a request our client refuses to send, whatever retryOn says", () => {
    const refused = error("invalid_request");
    expect(classifyOutcome(refused).kind).toBe("permanent");
    expect(classifyOutcome(refused, ["network", "5xx"]).kind).toBe("permanent");
    expect(classifyOutcome(error("unknown"), ["network"]).kind).toBe("transient");
  });
});
