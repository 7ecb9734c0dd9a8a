import { describe, expect, it } from "vitest";
import {
  endpointRunId,
  handoffLocation,
  isEndpointRequest,
  isKeptResponseHeader,
  isUnstoredRequestHeader,
  requestedRun,
  retryAfterSeconds,
} from "./endpoint-exchange.ts";

describe("endpoint exchange rules", () => {
  it("maps an idempotency key to a run id of the endpoint", () => {
    expect(endpointRunId("chat", "k-1")).toBe("chat:k-1");
  });

  it("adds (or replaces) the run parameter in the handoff location, keeping the rest of the URL", () => {
    expect(handoffLocation("http://h/chat?lang=en", "run_1")).toBe(
      "http://h/chat?lang=en&steadfast_run=run_1",
    );
    expect(handoffLocation("http://h/chat?steadfast_run=old", "chat:a b")).toBe(
      "http://h/chat?steadfast_run=chat%3Aa+b",
    );
  });

  it("reads the run a GET or HEAD asks for, and none for other methods", () => {
    const url = new URL("http://h/chat?steadfast_run=chat%3Aa+b");
    expect(requestedRun("GET", url)).toBe("chat:a b");
    expect(requestedRun("HEAD", url)).toBe("chat:a b");
    expect(requestedRun("POST", url)).toBeUndefined();
    expect(requestedRun("GET", new URL("http://h/chat"))).toBeUndefined();
  });

  it("says Retry-After in whole seconds, 1 to 3,600", () => {
    expect(retryAfterSeconds(undefined, 0)).toBe(1);
    expect(retryAfterSeconds(0, 5_000)).toBe(1);
    expect(retryAfterSeconds(2_500, 0)).toBe(3);
    expect(retryAfterSeconds(86_400_000, 0)).toBe(3_600);
  });

  it("keeps credentials out of stored requests, and only body and cache headers in stored responses", () => {
    for (const name of ["authorization", "Cookie", "proxy-authorization", "x-api-key"])
      expect(isUnstoredRequestHeader(name)).toBe(true);
    expect(isUnstoredRequestHeader("content-type")).toBe(false);
    for (const name of ["content-type", "ETag", "cache-control", "location"])
      expect(isKeptResponseHeader(name)).toBe(true);
    for (const name of [
      "set-cookie",
      "content-length",
      "content-encoding",
      "connection",
      "x-custom",
    ])
      expect(isKeptResponseHeader(name)).toBe(false);
  });

  it("recognises a stored request", () => {
    expect(isEndpointRequest({ method: "GET", url: "http://h/", headers: [] })).toBe(true);
    expect(isEndpointRequest({ method: "GET", url: "http://h/", headers: [], body: "x" })).toBe(
      false,
    );
    expect(isEndpointRequest(null)).toBe(false);
  });
});
