import { describe, expect, it } from "vitest";
import { RetryableError, TerminalError } from "../core/errors.ts";
import {
  classifyError,
  classifyResult,
  isIdempotentMethod,
  isRetryableStatus,
  retryOnRules,
  statusHealth,
} from "./classify.ts";
import { StoreUnavailableError } from "../store/postgres/postgres-errors.ts";
import { BrokenCircuitError, TimeoutError } from "./errors.ts";

const NOW = 1_700_000_000_000;

function networkError(code: string): Error {
  return Object.assign(new Error(`socket ${code}`), { code });
}

describe("statuses (ARCHITECTURE.md section 4, issue 3)", () => {
  it("retries 408, 425, 429 and 5xx except 501 and 505; never 400, 401, 403, 404, 409, 410, 422", () => {
    for (const status of [408, 425, 429, 500, 502, 503, 504, 507, 599]) {
      expect(isRetryableStatus(status), String(status)).toBe(true);
    }
    for (const status of [200, 301, 400, 401, 403, 404, 409, 410, 422, 501, 505]) {
      expect(isRetryableStatus(status), String(status)).toBe(false);
    }
  });

  it("treats a returned response like a thrown one, with its Retry-After", () => {
    const verdict = classifyResult(
      { status: 503, headers: new Headers({ "retry-after": "2" }) },
      NOW,
    );
    expect(verdict).toMatchObject({
      retryable: true,
      status: 503,
      health: "failure",
      mayHaveEffect: false,
      retryAfter: { delayMs: 2_000, source: "retry-after" },
    });
  });

  it("says a 500, 502 or 504 may have had an effect; 408, 425, 429, 503 did not", () => {
    expect(classifyResult({ status: 500 }, NOW).mayHaveEffect).toBe(true);
    expect(classifyResult({ status: 504 }, NOW).mayHaveEffect).toBe(true);
    expect(classifyResult({ status: 429 }, NOW).mayHaveEffect).toBe(false);
    expect(classifyResult({ status: 425 }, NOW).mayHaveEffect).toBe(false);
  });

  it("counts a status toward the dependency's health by the engine's one rule (issue 10)", () => {
    const health = (status: number) => classifyResult({ status }, NOW).health;
    expect(health(502)).toBe("failure");
    expect(health(408)).toBe("failure");
    expect(health(404)).toBe("success");
    // 501 and 505 are about the request; 429 and 425 about the client: neither is an illness.
    expect(health(501)).toBe("success");
    expect(health(505)).toBe("success");
    expect(health(429)).toBe("ignore");
    expect(health(425)).toBe("ignore");
    for (let status = 400; status <= 599; status++) {
      expect(health(status), String(status)).toBe(statusHealth(status));
      const thrown = Object.assign(new Error("x"), { status });
      expect(classifyError(thrown, NOW).health, String(status)).toBe(statusHealth(status));
    }
  });

  it("sees plain values and 2xx/3xx responses as successes, without allocating", () => {
    expect(classifyResult(42, NOW)).toBe(classifyResult("x", NOW));
    expect(classifyResult({ status: 200 }, NOW).reason).toBe("success");
    expect(classifyResult({ status: 304 }, NOW).retryable).toBe(false);
  });
});

describe("errors", () => {
  it("retries network errors; refused connections and DNS certainly did not reach the server", () => {
    expect(classifyError(networkError("ECONNREFUSED"), NOW)).toMatchObject({
      retryable: true,
      mayHaveEffect: false,
      networkCode: "ECONNREFUSED",
    });
    expect(classifyError(networkError("ENOTFOUND"), NOW).mayHaveEffect).toBe(false);
    expect(classifyError(networkError("ECONNRESET"), NOW)).toMatchObject({
      retryable: true,
      mayHaveEffect: true,
    });
  });

  it("finds the socket error fetch wraps in `cause`", () => {
    const error = new TypeError("fetch failed", { cause: networkError("UND_ERR_SOCKET") });
    expect(classifyError(error, NOW)).toMatchObject({
      retryable: true,
      reason: "network UND_ERR_SOCKET",
    });
  });

  it("honours `sent: false` from the core Transport port", () => {
    const error = Object.assign(new Error("reset before write"), { code: "reset", sent: false });
    expect(classifyError(error, NOW).mayHaveEffect).toBe(false);
  });

  it("reads HTTP errors by status (error.status, statusCode, response.status)", () => {
    expect(classifyError(Object.assign(new Error("x"), { status: 503 }), NOW).retryable).toBe(true);
    expect(classifyError(Object.assign(new Error("x"), { statusCode: 404 }), NOW).retryable).toBe(
      false,
    );
    const httpError = Object.assign(new Error("x"), {
      response: { status: 429, headers: { "retry-after": "7" } },
    });
    expect(classifyError(httpError, NOW)).toMatchObject({
      retryable: true,
      retryAfter: { delayMs: 7_000 },
    });
  });

  it("retries attempt timeouts (they may have reached the server) and RetryableError", () => {
    expect(classifyError(new TimeoutError({ timeoutMs: 10, elapsedMs: 10 }), NOW)).toMatchObject({
      retryable: true,
      mayHaveEffect: true,
      health: "failure",
    });
    const retryable = new RetryableError("store_unavailable", "upstream busy", {
      retryAfterMs: 1_500,
    });
    expect(classifyError(retryable, NOW)).toMatchObject({
      retryable: true,
      retryAfter: { delayMs: 1_500 },
    });
  });

  it("decides by brand, not by name: an error that renames itself keeps its kind (issue 10, item 14)", () => {
    // StoreUnavailableError extends RetryableError and sets its own name.
    const outage = new StoreUnavailableError(new Error("connect ECONNREFUSED 127.0.0.1:5432"));
    expect(outage.name).toBe("StoreUnavailableError");
    expect(classifyError(outage, NOW)).toMatchObject({
      retryable: true,
      reason: "retryable: store_unavailable",
      retryAfter: { delayMs: 1_000, source: "retry-after" },
    });
    class Refused extends TerminalError {
      override name = "Refused";
    }
    expect(classifyError(new Refused("forbidden", "no"), NOW)).toMatchObject({
      retryable: false,
      reason: "terminal: forbidden",
    });
    // An error of another copy of the package: the same registered symbols, other classes.
    const foreign = Object.assign(new Error("busy"), {
      name: "SomethingElse",
      code: "store_unavailable",
      retryAfterMs: 250,
      [Symbol.for("steadfast.error")]: true,
      [Symbol.for("steadfast.error.retryable")]: true,
    });
    expect(classifyError(foreign, NOW)).toMatchObject({
      retryable: true,
      retryAfter: { delayMs: 250 },
    });
    // A name alone does not make an error retryable.
    const impostor = Object.assign(new Error("x"), { name: "RetryableError", code: "internal" });
    expect(classifyError(impostor, NOW).retryable).toBe(false);
  });

  it("never retries TerminalError, caller aborts, local rejections or unknown errors", () => {
    expect(classifyError(new TerminalError("invalid_request", "bad"), NOW).retryable).toBe(false);
    expect(classifyError(new DOMException("stop", "AbortError"), NOW)).toMatchObject({
      retryable: false,
      health: "ignore",
    });
    const open = new BrokenCircuitError({
      state: "open",
      openedAt: 0,
      openUntil: 1,
      retryAfterMs: 1,
      reason: { strategy: "isolated" },
    });
    expect(classifyError(open, NOW)).toMatchObject({ retryable: false, health: "ignore" });
    expect(classifyError(new TypeError("x is undefined"), NOW)).toMatchObject({
      retryable: false,
      reason: "unrecognised error (TypeError)",
    });
  });

  it("respects an explicit `retryable` flag", () => {
    expect(classifyError(Object.assign(new Error("x"), { retryable: true }), NOW).retryable).toBe(
      true,
    );
    expect(
      classifyError(Object.assign(new Error("x"), { status: 503, retryable: false }), NOW)
        .retryable,
    ).toBe(false);
  });
});

describe("retryOnRules", () => {
  it("replaces the default status and network choices, as the HTTP API's retry.retryOn", () => {
    const predicate = retryOnRules([404, "network"]);
    const check = (error: unknown) =>
      predicate({ type: "error", error }, classifyError(error, NOW));
    expect(check(Object.assign(new Error(), { status: 404 }))).toBe(true);
    expect(check(Object.assign(new Error(), { status: 503 }))).toBe(false);
    expect(check(networkError("ECONNRESET"))).toBe(true);
    expect(
      retryOnRules(["5xx"])({ type: "result", value: null }, classifyResult({ status: 501 }, NOW)),
    ).toBe(true);
  });
});

describe("isIdempotentMethod", () => {
  it("follows RFC 9110 section 9.2.2", () => {
    for (const method of ["GET", "head", "OPTIONS", "TRACE", "PUT", "delete"]) {
      expect(isIdempotentMethod(method)).toBe(true);
    }
    for (const method of ["POST", "patch", "CONNECT"])
      expect(isIdempotentMethod(method)).toBe(false);
  });
});
