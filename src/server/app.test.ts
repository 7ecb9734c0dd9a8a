import pino from "pino";
import { Registry } from "prom-client";
import { afterEach, describe, expect, it } from "vitest";
import {
  appHarness,
  expectProblem,
  KEY_ACME,
  KEY_OTHER,
  type AppHarness,
} from "./app-harness.test-support.ts";
import { parseApiKeys } from "./api-keys.ts";
import { createMetrics } from "./metrics.ts";
import { HealthSchema } from "./schemas.ts";
import { WaitTimeoutError } from "../core/errors.ts";
import { tenantId } from "../core/ids.ts";

let h: AppHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe("auth", () => {
  it("answers 401 with WWW-Authenticate: Bearer without a key", async () => {
    h = await appHarness();
    const res = await h.request("/v1/calls", { key: null });
    const problem = await expectProblem(res, 401, "unauthorized");
    expect(res.headers.get("www-authenticate")).toBe('Bearer realm="steadfast"');
    expect(problem.detail).toContain("Authorization: Bearer");
  });

  it("answers 401 invalid_token for a wrong key, and for a malformed header", async () => {
    h = await appHarness();
    const wrong = await h.request("/v1/calls", { key: "not_a_real_key_at_all" });
    await expectProblem(wrong, 401, "unauthorized");
    expect(wrong.headers.get("www-authenticate")).toBe(
      'Bearer realm="steadfast", error="invalid_token"',
    );
    const basic = await h.request("/v1/calls", {
      headers: { authorization: "Basic dXNlcjpwYXNz" },
    });
    await expectProblem(basic, 401, "unauthorized");
    expect(basic.headers.get("www-authenticate")).toContain('error="invalid_request"');
    const post = await h.request("/v1/fetch", {
      method: "POST",
      key: "wrong_key_wrong_key",
      body: "{}",
    });
    await expectProblem(post, 401, "unauthorized");
  });

  it("accepts the scheme in any case", async () => {
    h = await appHarness();
    const res = await h.request("/v1/calls", {
      headers: { authorization: "bearer acme_key_0123456789abcdef" },
    });
    expect(res.status).toBe(200);
  });

  it("accepts in Authorization every key STEADFAST_API_KEYS accepts, and STEADFAST_API_KEYS refuses the others", async () => {
    // One rule (API_KEY_PATTERN): a key that passes startup is never refused on every request.
    h = await appHarness();
    const sendable = ["0123456789abcdef==", "a.b_c~d+e/f-0123456789", "ABCDEFGHIJKLMNOP="];
    const entries = parseApiKeys(sendable.map((key) => `acme:${key}`).join(","));
    await h.keys.configure([...entries, { tenantId: tenantId("acme"), key: KEY_ACME }]);
    for (const key of sendable) expect((await h.request("/v1/calls", { key })).status).toBe(200);
    for (const key of ["abc=def0123456789abcdef", "=0123456789abcdef", "0123456789abcdef=x"]) {
      expect(() => parseApiKeys(`acme:${key}`)).toThrow(/"=" only at its end/);
      await expectProblem(await h.request("/v1/calls", { key }), 401, "unauthorized");
    }
  });

  it("does not require a key for /healthz, /metrics and /openapi.json", async () => {
    h = await appHarness();
    for (const path of ["/healthz", "/metrics", "/openapi.json"]) {
      expect((await h.request(path, { key: null })).status).toBe(200);
    }
  });
});

describe("errors[].field", () => {
  it("cuts a long field name (an unknown JSON key is the sender's text) to 200 characters", async () => {
    h = await appHarness();
    const key = "k".repeat(1_000);
    const problem = await expectProblem(
      await h.submit({ url: "https://api.example.com/", [key]: 1 }),
      422,
      "invalid_request",
    );
    expect(problem.errors?.[0]?.field).toBe(`${"k".repeat(200)}...`);
  });
});

describe("errors that are not the API's", () => {
  it("answers a StoreError (no API code) as 500 internal, naming only the correlation id", async () => {
    h = await appHarness();
    await h.store.close();
    const problem = await expectProblem(await h.request("/v1/calls"), 500, "internal");
    expect(problem.detail).toContain(problem.correlationId);
    expect(problem.detail).not.toContain("closed");
  });
});

describe("operator-only routes without operatorTenants (issue 10)", () => {
  it("refuses /v1/keys and /v1/destinations to every tenant but default", async () => {
    // Two ordinary tenants (acme, other) and no operatorTenants: neither may mint a key for the
    // other (and so read its calls) nor change the destinations they share.
    h = await appHarness();
    const mint = (key?: string) =>
      h!.request("/v1/keys", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ tenant: "other" }),
        ...(key === undefined ? {} : { key }),
      });
    await expectProblem(await mint(), 403, "forbidden");
    await expectProblem(await h.request("/v1/keys"), 403, "forbidden");
    await expectProblem(await h.request("/v1/keys", { key: KEY_OTHER }), 403, "forbidden");
    await expectProblem(await h.request("/v1/destinations"), 403, "forbidden");
    await expectProblem(
      await h.request("/v1/destinations/api.example.com", {
        method: "PUT",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ maxConcurrency: 1 }),
      }),
      403,
      "forbidden",
    );
    expect(await h.keys.list({ tenantId: tenantId("other") })).toHaveLength(1);
    // A key of tenant default, as `steadfast serve` generates, is the operator's.
    const { key } = await h.keys.create({ tenantId: tenantId("default") });
    expect((await mint(key)).status).toBe(201);
    expect((await h.request("/v1/destinations", { key })).status).toBe(200);
  });
});

describe("problem+json everywhere", () => {
  it("answers unknown routes with a 404 problem", async () => {
    h = await appHarness();
    const problem = await expectProblem(await h.request("/nope", { key: null }), 404, "not_found");
    expect(problem.instance).toBe("/nope");
    await expectProblem(await h.request("/v1/nope"), 404, "not_found");
  });

  it("answers a wrong method with a 405 problem and Allow", async () => {
    h = await appHarness();
    const get = await h.request("/v1/fetch");
    await expectProblem(get, 405, "method_not_allowed");
    expect(get.headers.get("allow")).toBe("POST");
    const del = await h.request("/v1/calls/call_01JD6Z2K8Q7X1Y0ZV3R5T9W2MN", { method: "DELETE" });
    await expectProblem(del, 405, "method_not_allowed");
    expect(del.headers.get("allow")).toBe("GET, HEAD");
    const put = await h.request("/healthz", { method: "PUT", key: null });
    await expectProblem(put, 405, "method_not_allowed");
  });

  it("quotes a path holding a URL with credentials redacted (a destination)", async () => {
    h = await appHarness({ operatorTenants: ["acme"] });
    const origin = encodeURIComponent("https://user:s3cret-pw@api.example.com");
    const wrongMethod = await expectProblem(
      await h.request(`/v1/destinations/${origin}`, { method: "DELETE" }),
      405,
      "method_not_allowed",
    );
    expect(wrongMethod.instance).toBe(
      `/v1/destinations/${encodeURIComponent("https://[redacted]@api.example.com")}`,
    );
    const noRoute = await expectProblem(
      await h.request(`/v1/nope/${encodeURIComponent("x?token=s3cret-pw")}/${origin}`),
      404,
      "not_found",
    );
    expect(noRoute.instance).toBe(
      `/v1/nope/${encodeURIComponent("x?token=[redacted]")}/${encodeURIComponent("https://[redacted]@api.example.com")}`,
    );
    expect(JSON.stringify([wrongMethod, noRoute])).not.toContain("s3cret-pw");
    const bare = await expectProblem(
      await h.request("/v1/destinations/user:s3cret-pw@api.example.com/reset"),
      405,
      "method_not_allowed",
    );
    expect(bare.instance).toBe(
      `/v1/destinations/${encodeURIComponent("user:[redacted]@api.example.com")}/reset`,
    );
    const plain = await expectProblem(await h.request("/v1/nope/a?b=1"), 404, "not_found");
    expect(plain.instance).toBe("/v1/nope/a");
  });

  it("answers an unexpected failure with a 500 problem that leaks nothing, and logs it", async () => {
    const lines: string[] = [];
    h = await appHarness({
      logger: pino({ level: "error" }, { write: (line: string) => void lines.push(line) }),
    });
    await h.store.close(); // every store call now throws a plain Error
    const res = await h.request("/v1/calls");
    const problem = await expectProblem(res, 500, "internal");
    expect(problem.detail).toContain(problem.correlationId);
    expect(JSON.stringify(problem)).not.toMatch(/at .*\.ts:\d+|stack|database/i);
    expect(lines).toHaveLength(1);
    const logged = JSON.parse(lines[0]!) as { requestId: string; err: { stack: string } };
    expect(logged.requestId).toBe(problem.correlationId);
    expect(logged.err.stack).toMatch(/Error/);
  });

  it("answers a SteadfastError whose code is not the API's as a 500 problem (issue 10, item 14)", async () => {
    h = await appHarness();
    h.app.get("/v1/throws-wait-timeout", () => {
      throw new WaitTimeoutError("call_1", "running", 5);
    });
    await expectProblem(await h.request("/v1/throws-wait-timeout"), 500, "internal");
  });

  it("answers 503 shutting_down on /v1 once the signal aborts, and /healthz turns 503", async () => {
    const shutdown = new AbortController();
    h = await appHarness({ signal: shutdown.signal });
    expect((await h.request("/healthz")).status).toBe(200);
    shutdown.abort();
    const res = await h.request("/v1/calls");
    await expectProblem(res, 503, "shutting_down");
    expect(res.headers.get("retry-after")).toBe("5");
    expect(res.headers.get("connection")).toBe("close");
    const health = await h.request("/healthz");
    expect(health.status).toBe(503);
    expect(HealthSchema.parse(await health.json()).ok).toBe(false);
  });
});

describe("X-Request-Id", () => {
  it("is generated and echoed on every response, and honoured when sane", async () => {
    h = await appHarness();
    const generated = await h.request("/healthz");
    expect(generated.headers.get("x-request-id")).toMatch(/^req-\d+$/);
    const honoured = await h.request("/v1/calls", { headers: { "x-request-id": "lb-7f3a:42" } });
    expect(honoured.headers.get("x-request-id")).toBe("lb-7f3a:42");
    const problem = await expectProblem(
      await h.request("/nope", { headers: { "x-request-id": "trace-1" } }),
      404,
      "not_found",
    );
    expect(problem.correlationId).toBe("trace-1");
    const insane = await h.request("/healthz", {
      headers: { "x-request-id": "a b\u00e9".repeat(3) },
    });
    expect(insane.headers.get("x-request-id")).toMatch(/^req-\d+$/);
    const long = await h.request("/healthz", { headers: { "x-request-id": "x".repeat(200) } });
    expect(long.headers.get("x-request-id")).toMatch(/^req-\d+$/);
  });
});

describe("GET /healthz", () => {
  it("reports the health function's answer", async () => {
    h = await appHarness({ health: () => ({ ok: false, details: { store: "unreachable" } }) });
    const res = await h.request("/healthz", { key: null });
    expect(res.status).toBe(503);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(HealthSchema.parse(await res.json())).toEqual({
      ok: false,
      details: { store: "unreachable" },
    });
  });
});

describe("GET /healthz failures", () => {
  it("answers 503 when the health function throws", async () => {
    h = await appHarness({
      health: () => {
        throw new Error("store unreachable");
      },
    });
    const res = await h.request("/healthz", { key: null });
    expect(res.status).toBe(503);
    expect(HealthSchema.parse(await res.json())).toEqual({
      ok: false,
      details: { reason: "health check failed" },
    });
  });
});

describe("GET /metrics", () => {
  it("serves Prometheus text with accepted calls and HTTP durations by route pattern", async () => {
    const metrics = createMetrics({ processMetrics: false });
    h = await appHarness({ metrics: metrics.registry });
    const call = (await (
      await h.submit({ url: "https://api.example.com/" }, { "idempotency-key": "m-1" })
    ).json()) as { id: string };
    await h.submit({ url: "https://api.example.com/" }, { "idempotency-key": "m-1" }); // a replay: not accepted again
    await h.request(`/v1/calls/${call.id}`);
    await h.request("/nope/123");
    const res = await h.request("/metrics", { key: null });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    expect(text).toMatch(/^steadfast_calls_accepted_total 1$/m);
    expect(text).toMatch(
      /steadfast_http_request_duration_seconds_count\{method="GET",route="\/v1\/calls\/:id",status="200"\} 1/,
    );
    expect(text).toMatch(
      /steadfast_http_request_duration_seconds_count\{method="POST",route="\/v1\/fetch",status="202"\} 2/,
    );
    expect(text).toMatch(
      /steadfast_http_request_duration_seconds_count\{method="GET",route="unmatched",status="404"\} 1/,
    );
    expect(text).not.toContain(call.id);
  });

  it("works without a registry given", async () => {
    h = await appHarness();
    const text = await (await h.request("/metrics")).text();
    expect(text).toContain("steadfast_http_request_duration_seconds");
  });

  it("can share a registry between apps", async () => {
    const registry = new Registry();
    h = await appHarness({ metrics: registry });
    const second = await appHarness({ metrics: registry });
    await second.close();
    expect(registry.getSingleMetric("steadfast_http_request_duration_seconds")).toBeDefined();
  });
});
