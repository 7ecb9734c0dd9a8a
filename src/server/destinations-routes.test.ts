import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { tenantId, type WorkerId } from "../core/ids.ts";
import type { SendResult } from "../core/transport.ts";
import {
  appHarness,
  expectProblem,
  KEY_OTHER,
  type AppHarness,
} from "./app-harness.test-support.ts";
import { CallViewSchema, DestinationListSchema, DestinationViewSchema } from "./schemas.ts";

let h: AppHarness;
beforeEach(async () => {
  h = await appHarness({ operatorTenants: ["acme"] });
});
afterEach(async () => {
  await h.close();
});

const API = "https://api.example.com";
const ACME = tenantId("acme");
const ENCODED = encodeURIComponent(API);

function put(destination: string, body: unknown, key?: string): Promise<Response> {
  return h.request(`/v1/destinations/${destination}`, {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
    ...(key === undefined ? {} : { key }),
  });
}

async function view(res: Response) {
  expect(res.status).toBe(200);
  return DestinationViewSchema.parse(await res.json());
}

/** Sends `count` attempts to `API` through the harness's gate, each answered `status`. */
async function traffic(count: number, status: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const { call } = await h.calls.submit(ACME, { url: `${API}/v1/x` });
    const admission = await h.gate.admit(call, h.clock.now());
    if (admission.type !== "proceed") throw new Error("held");
    const result: SendResult = {
      type: "response",
      status,
      headers: {},
      body: new Uint8Array(),
      bodyTruncated: false,
      bodyBytes: 0,
      timings: { startedAt: h.clock.now(), durationMs: 40 },
    };
    h.gate.observe(admission.ticket, result, h.clock.now(), {
      connectTimeoutMs: 10_000,
      readTimeoutMs: 30_000,
      totalTimeoutMs: 60_000,
    });
    h.gate.release(admission.ticket);
  }
  await h.gate.idle();
}

describe("destination routes", () => {
  it("need an API key", async () => {
    await expectProblem(await h.request("/v1/destinations", { key: null }), 401, "unauthorized");
    await expectProblem(await put(ENCODED, {}, "nope_nope_nope_nope_nope"), 401, "unauthorized");
  });

  it("list nothing before any call or setting", async () => {
    const res = await h.request("/v1/destinations");
    expect(res.status).toBe(200);
    expect(DestinationListSchema.parse(await res.json())).toEqual({ destinations: [] });
    await expectProblem(await h.request(`/v1/destinations/${ENCODED}`), 404, "not_found");
  });

  it("set limits by origin or host[:port], saved, and remove them with null", async () => {
    const set = await view(await put("api.example.com", { rateLimitPerSecond: 2.5 }));
    expect(set).toMatchObject({
      destination: API,
      hostPort: "api.example.com:443",
      breaker: { state: "closed", consecutiveOpens: 0 },
      limits: { rateLimitPerSecond: 2.5, maxConcurrency: null },
      version: 1,
    });
    expect((await h.store.getDestination(API))?.limits).toEqual({ rateLimitPerSecond: 2.5 });
    const both = await view(await put(ENCODED, { maxConcurrency: 4 }));
    expect(both.limits).toEqual({ rateLimitPerSecond: 2.5, maxConcurrency: 4 });
    for (const name of [ENCODED, "api.example.com", "api.example.com:443"]) {
      expect((await view(await h.request(`/v1/destinations/${name}`))).limits).toEqual(both.limits);
    }
    const removed = await view(await put("api.example.com:443", { rateLimitPerSecond: null }));
    expect(removed.limits).toEqual({ rateLimitPerSecond: null, maxConcurrency: 4 });
    const list = DestinationListSchema.parse(await (await h.request("/v1/destinations")).json());
    expect(list.destinations.map((d) => d.destination)).toEqual([API]);

    const local = await view(await put(encodeURIComponent("http://127.0.0.1:8080"), {}));
    expect(local).toMatchObject({ destination: "http://127.0.0.1:8080", version: 1 });
  });

  it("refuses invalid limits with 422 naming each field", async () => {
    const problem = await expectProblem(
      await put(ENCODED, { rateLimitPerSecond: 0, maxConcurrency: 1.5, burst: 3 }),
      422,
      "invalid_request",
    );
    expect(problem.errors?.map((e) => e.field).sort()).toEqual([
      "burst",
      "maxConcurrency",
      "rateLimitPerSecond",
    ]);
    expect(problem.errors?.find((e) => e.field === "maxConcurrency")?.message).toBe(
      "must be an integer from 1 to 100000, or null",
    );
    await expectProblem(await put(ENCODED, { rateLimitPerSecond: "5" }), 422, "invalid_request");
    await expectProblem(await put(ENCODED, [1]), 422, "invalid_request");
    const malformed = await h.request(`/v1/destinations/${ENCODED}`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: "{",
    });
    await expectProblem(malformed, 400, "invalid_json");
    expect(await h.store.getDestination(API)).toBeUndefined();
  });

  it("refuses a destination that is not an origin, naming it", async () => {
    const problem = await expectProblem(
      await put(encodeURIComponent("https://api.example.com/v1/orders"), {}),
      422,
      "invalid_request",
    );
    expect(problem.errors).toEqual([
      {
        field: "destination",
        message: expect.stringContaining("only scheme, host and port") as string,
      },
    ]);
    await expectProblem(
      await h.request(`/v1/destinations/${encodeURIComponent("ftp://x.example")}`),
      422,
      "invalid_request",
    );
  });

  it("show a destination's breaker and health, and reset it", async () => {
    await traffic(5, 200);
    // The default strategy opens at 50% failures over at least 20 attempts: the 20th.
    await traffic(15, 503);
    const open = await view(await h.request(`/v1/destinations/${ENCODED}`));
    expect(open.breaker).toMatchObject({
      state: "open",
      consecutiveOpens: 1,
      reason: expect.stringContaining("failure-rate") as string,
    });
    expect(open.health).toMatchObject({ requests: 20, failures: 15, errorRate: 0.75, inFlight: 0 });
    expect(open.health.latencyMs?.p50).toBeGreaterThan(30);
    expect(open.health.latencyMs?.p99).toBeLessThan(50);

    const reset = await h.request(`/v1/destinations/${ENCODED}/reset`, { method: "POST" });
    const closed = await view(reset);
    expect(closed.breaker).toEqual({ state: "closed", consecutiveOpens: 0 });
    expect((await h.store.getDestination(API))?.state).toMatchObject({
      breaker: { state: "closed" },
    });
    await expectProblem(
      await h.request(`/v1/destinations/${encodeURIComponent("https://unknown.example")}/reset`, {
        method: "POST",
      }),
      404,
      "not_found",
    );
  });

  it("answer 405 with Allow for other methods", async () => {
    const res = await h.request(`/v1/destinations/${ENCODED}`, { method: "DELETE" });
    await expectProblem(res, 405, "method_not_allowed");
    expect(res.headers.get("allow")).toBe("GET, HEAD, PUT");
  });

  it("show why a held call waits: reason, message, destination, until", async () => {
    const { call } = await h.calls.submit(ACME, { url: `${API}/v1/x` });
    const [claim] = await h.store.claimDue({
      now: h.clock.now(),
      limit: 1,
      leaseMs: 30_000,
      workerId: "w" as WorkerId,
    });
    const message =
      "circuit open for api.example.com:443 until 00:00:05Z (a half-open probe failed)";
    await h.store.deferCall(
      { callId: call.id, leaseToken: claim!.leaseToken },
      h.clock.now() + 5_000,
      { reason: "circuit_open", message, destination: API },
      h.clock.now(),
    );
    const shown = CallViewSchema.parse(await (await h.request(`/v1/calls/${call.id}`)).json());
    expect(shown).toMatchObject({ status: "waiting", attempts: 0 });
    expect(shown.waitingFor).toEqual({
      reason: "circuit_open",
      message,
      destination: API,
      until: "2026-01-01T00:00:05.000Z",
    });
  });
});

describe("operator tenants", () => {
  it("lets only operator tenants read or change destinations, naming the setting (not the tenants) to others", async () => {
    expect((await h.request("/v1/destinations")).status).toBe(200);
    expect((await put(ENCODED, { maxConcurrency: 4 })).status).toBe(200);
    const problem = await expectProblem(
      await h.request("/v1/destinations", { key: KEY_OTHER }),
      403,
      "forbidden",
    );
    expect(problem.detail).toContain("STEADFAST_OPERATOR_TENANTS");
    expect(problem.detail).not.toContain("acme");
    await expectProblem(await put(ENCODED, { maxConcurrency: 1 }, KEY_OTHER), 403, "forbidden");
    await expectProblem(
      await h.request(`/v1/destinations/${ENCODED}/reset`, { method: "POST", key: KEY_OTHER }),
      403,
      "forbidden",
    );
    // The refused change did not happen.
    expect((await view(await h.request(`/v1/destinations/${ENCODED}`))).limits).toMatchObject({
      maxConcurrency: 4,
    });
  });
});
