import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CallStatus } from "../core/call.ts";
import { KEY_ONE, KEY_TWO, startHarness, type Harness } from "../cli/test-harness.test-support.ts";
import {
  createClient,
  isSteadfastApiError,
  isSteadfastConnectionError,
  SteadfastApiError,
  SteadfastConnectionError,
  type CallView,
  type SteadfastClient,
} from "./index.ts";

let harness: Harness;
let t1: SteadfastClient;
let t2: SteadfastClient;

beforeAll(async () => {
  harness = await startHarness();
  t1 = createClient({ baseUrl: harness.serverUrl, apiKey: KEY_ONE });
  t2 = createClient({ baseUrl: harness.serverUrl, apiKey: KEY_TWO });
});

afterAll(async () => {
  await harness.close();
});

/** Polls the call until it has `status` (and at least `attempts` attempts). */
async function until(id: string, status: CallStatus, attempts = 0): Promise<CallView> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const call = await t1.get(id);
    if (call.status === status && call.attempts >= attempts) return call;
    if (Date.now() > deadline) {
      throw new Error(
        `call ${id} is ${call.status} after ${call.attempts} attempts, not ${status}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Resolves with the error `promise` rejects with. */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection");
}

// A retry delay no test will live to see: the call stays `waiting`.
const slowRetry = {
  maxAttempts: 3,
  backoff: "fixed",
  initialDelayMs: 3_600_000,
  maxDelayMs: 3_600_000,
} as const;

describe("createClient", () => {
  it("refuses a missing API key and a base URL that is not http(s)", () => {
    expect(() => createClient({ apiKey: "" })).toThrow("createClient: apiKey is required");
    expect(() => createClient({ apiKey: "k", baseUrl: "not a url" })).toThrow(
      'baseUrl "not a url" is not a URL; expected something like http://127.0.0.1:7480',
    );
    expect(() => createClient({ apiKey: "k", baseUrl: "localhost:7480" })).toThrow(
      'baseUrl "localhost:7480" must use http or https',
    );
  });

  it("defaults to http://127.0.0.1:7480 and drops a trailing slash", () => {
    expect(createClient({ apiKey: "k" }).baseUrl).toBe("http://127.0.0.1:7480");
    expect(createClient({ apiKey: "k", baseUrl: "http://h:1/base/" }).baseUrl).toBe(
      "http://h:1/base",
    );
  });

  it("uses the fetch it is given", async () => {
    const seen: string[] = [];
    const client = createClient({
      baseUrl: harness.serverUrl,
      apiKey: KEY_ONE,
      fetch: (input, init) => {
        seen.push(input instanceof Request ? input.url : input.toString());
        return fetch(input, init);
      },
    });
    await client.list({ limit: 1 });
    expect(seen).toEqual([`${harness.serverUrl}/v1/calls?limit=1`]);
  });
});

describe("SteadfastClient against a real server", () => {
  it("submits a call and waits for its end", async () => {
    const call = await t1.fetch({ url: `${harness.upstreamUrl}/ok` }, { waitSeconds: 10 });
    expect(call).toMatchObject({
      status: "succeeded",
      attempts: 1,
      request: { method: "GET", url: `${harness.upstreamUrl}/ok` },
      response: { status: 200, body: '{"ok":true}' },
    });
    expect(call.id).toMatch(/^call_[0-9A-Z]{26}$/);
  });

  it("submits without waiting, then reads the call and its attempts", async () => {
    const accepted = await t1.fetch({
      url: `${harness.upstreamUrl}/echo`,
      method: "POST",
      headers: { "x-team": "core" },
      body: { sku: "A-1" },
    });
    expect(["queued", "running", "succeeded"]).toContain(accepted.status);
    const done = await until(accepted.id, "succeeded");
    const echoed = JSON.parse(done.response!.body) as {
      method: string;
      body: string;
      headers: Record<string, string>;
    };
    expect(echoed).toMatchObject({ method: "POST", body: '{"sku":"A-1"}' });
    expect(echoed.headers).toMatchObject({ "x-team": "core", "content-type": "application/json" });

    const attempts = await t1.attempts(accepted.id);
    expect(attempts).toHaveLength(1);
    expect(attempts[0]).toMatchObject({
      number: 1,
      outcome: { type: "response", status: 200 },
      sent: true,
      decision: { type: "succeed" },
    });
  });

  it("returns the same call for the same Idempotency-Key and request, and refuses a different request", async () => {
    const input = { url: `${harness.upstreamUrl}/ok?order=42` };
    const first = await t1.fetch(input, { idempotencyKey: "order-42" });
    const again = await t1.fetch(input, { idempotencyKey: "order-42" });
    expect(again.id).toBe(first.id);

    const error = await rejection(
      t1.fetch({ url: `${harness.upstreamUrl}/ok?order=43` }, { idempotencyKey: "order-42" }),
    );
    expect(error).toBeInstanceOf(SteadfastApiError);
    expect(error).toMatchObject({ status: 422, code: "idempotency_key_reused" });
    expect((error as SteadfastApiError).message).toContain("Idempotency-Key");
    expect((error as SteadfastApiError).message).toContain("use a new key");
  });

  it("refuses a key that cannot travel in a header before sending anything", async () => {
    await expect(
      t1.fetch({ url: `${harness.upstreamUrl}/ok` }, { idempotencyKey: "ключ" }),
    ).rejects.toThrow("idempotencyKey contains a character outside Latin-1 (U+043A)");
    await expect(
      t1.fetch({ url: `${harness.upstreamUrl}/ok` }, { waitSeconds: -1 }),
    ).rejects.toThrow("waitSeconds must be a number of seconds >= 0");
  });

  it("carries the problem details of a 422, naming each field and the fix", async () => {
    const error = await rejection(
      t1.fetch({
        url: `${harness.upstreamUrl}/ok`,
        retry: { maxAttempts: 0 },
        color: "red",
      } as never),
    );
    expect(isSteadfastApiError(error)).toBe(true);
    const problem = error as SteadfastApiError;
    expect(problem).toMatchObject({
      status: 422,
      code: "invalid_request",
      title: "Invalid request",
    });
    expect(problem.errors.map((issue) => issue.field).sort()).toEqual([
      "color",
      "retry.maxAttempts",
    ]);
    expect(problem.message).toContain("retry.maxAttempts");
    expect(problem.message).toContain("color: unknown field; remove it or check the spelling");
    expect(problem.message).toContain("(HTTP 422 invalid_request)");
    expect(problem.correlationId).toEqual(expect.any(String));
  });

  it("answers 404 not_found for an unknown id and for another tenant's call", async () => {
    const mine = await t1.fetch({ url: `${harness.upstreamUrl}/ok` });
    for (const lookup of [
      t1.get("call_00000000000000000000000000"),
      t2.get(mine.id),
      t2.attempts(mine.id),
    ]) {
      const error = await rejection(lookup);
      expect(error).toMatchObject({ status: 404, code: "not_found" });
      expect((error as Error).message).toMatch(
        /No call call_\w+ for this API key \(HTTP 404 not_found\)/,
      );
    }
  });

  it("answers 401 for an unknown key", async () => {
    const stranger = createClient({ baseUrl: harness.serverUrl, apiKey: "not-a-key-0123456789" });
    await expect(stranger.list()).rejects.toMatchObject({ status: 401, code: "unauthorized" });
  });

  it("pages through a tenant's calls, newest first", async () => {
    const created: string[] = [];
    for (let i = 0; i < 5; i++) {
      created.push((await t2.fetch({ url: `${harness.upstreamUrl}/ok?n=${i}` })).id);
    }
    const first = await t2.list({ limit: 2 });
    expect(first.calls.map((call) => call.id)).toEqual([created[4], created[3]]);
    expect(first.nextCursor).toEqual(expect.any(String));
    const second = await t2.list({ limit: 2, cursor: first.nextCursor! });
    expect(second.calls.map((call) => call.id)).toEqual([created[2], created[1]]);

    const all: string[] = [];
    for await (const call of t2.listAll({ limit: 2 })) all.push(call.id);
    expect(all).toEqual([...created].reverse());
  });

  it("lists the dead-letter calls with status=failed, and redrives one", async () => {
    const failed = await t1.fetch(
      { url: `${harness.upstreamUrl}/status/400` },
      { waitSeconds: 10 },
    );
    expect(failed).toMatchObject({ status: "failed", attempts: 1, response: { status: 400 } });
    const deadLetters = await t1.list({ status: "failed" });
    expect(deadLetters.calls.map((call) => call.id)).toContain(failed.id);
    expect(deadLetters.calls.every((call) => call.status === "failed")).toBe(true);

    const redriven = await t1.retry(failed.id);
    expect(["queued", "running"]).toContain(redriven.status);
    await until(failed.id, "failed", 2);
    expect(await t1.attempts(failed.id)).toHaveLength(2);
  });

  it("retries a waiting call now, then cancels it; a second cancel is 409", async () => {
    const call = await t1.fetch({ url: `${harness.upstreamUrl}/status/503`, retry: slowRetry });
    await until(call.id, "waiting", 1);

    await t1.retry(call.id);
    const again = await until(call.id, "waiting", 2);
    expect(again.nextAttemptAt).toEqual(expect.any(String));

    const cancelled = await t1.cancel(call.id);
    expect(cancelled.status).toBe("cancelled");
    await expect(t1.cancel(call.id)).rejects.toMatchObject({ status: 409, code: "invalid_state" });
    await expect(t1.retry(call.id)).rejects.toMatchObject({ status: 409, code: "invalid_state" });
  });

  it("turns an error answer that is not problem details into a SteadfastApiError", async () => {
    const notSteadfast = createClient({ baseUrl: harness.upstreamUrl, apiKey: KEY_ONE });
    const error = await rejection(notSteadfast.get("call_00000000000000000000000000"));
    expect(error).toMatchObject({
      status: 404,
      code: "http_404",
      detail: "Not Found: <html>not here</html>",
    });
  });
});

describe("an unreachable server", () => {
  it("gives a SteadfastConnectionError naming the URL and `steadfast serve`", async () => {
    const { createServer } = await import("node:net");
    // A port that was free a moment ago: nothing listens there now.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const { port } = probe.address() as { port: number };
    await new Promise<void>((resolve) => probe.close(() => resolve()));

    const client = createClient({ baseUrl: `http://127.0.0.1:${port}`, apiKey: KEY_ONE });
    const error = await rejection(client.get("call_00000000000000000000000000"));
    expect(error).toBeInstanceOf(SteadfastConnectionError);
    expect(isSteadfastConnectionError(error)).toBe(true);
    expect((error as Error).message).toBe(
      `cannot reach Steadfast at http://127.0.0.1:${port} (connect ECONNREFUSED 127.0.0.1:${port}): is \`steadfast serve\` running, and is the URL right?`,
    );
  });
});

describe("destinations", () => {
  it("lists, shows, limits and resets destinations, by origin or host[:port]", async () => {
    const call = await t1.fetch({ url: `${harness.upstreamUrl}/ok` }, { waitSeconds: 10 });
    expect(call.status).toBe("succeeded");
    const origin = harness.upstreamUrl;
    const listed = await t1.destinations();
    expect(listed.map((d) => d.destination)).toContain(origin);
    // Destinations are shared by every tenant: only operator tenants (t1 here) may see them.
    await expect(t2.destinations()).rejects.toMatchObject({ status: 403, code: "forbidden" });
    const shown = await t1.destination(origin);
    expect(shown).toMatchObject({
      destination: origin,
      breaker: { state: "closed" },
      limits: { rateLimitPerSecond: null, maxConcurrency: null },
    });
    expect(shown.health.requests).toBeGreaterThanOrEqual(1);

    const limited = await t1.setDestinationLimits(origin, { rateLimitPerSecond: 50 });
    expect(limited.limits).toEqual({ rateLimitPerSecond: 50, maxConcurrency: null });
    const cleared = await t1.setDestinationLimits(origin, { rateLimitPerSecond: null });
    expect(cleared.limits.rateLimitPerSecond).toBeNull();
    expect((await t1.resetDestination(origin)).breaker.state).toBe("closed");

    const byHost = await t1.setDestinationLimits("api.example.com", { maxConcurrency: 3 });
    expect(byHost.destination).toBe("https://api.example.com");
    expect((await t1.destination("https://api.example.com:443")).limits.maxConcurrency).toBe(3);
  });

  it("throws the API's problems: unknown, not an origin, invalid limits", async () => {
    expect(await rejection(t1.destination("https://never.example"))).toMatchObject({
      status: 404,
      code: "not_found",
    });
    expect(await rejection(t1.destination("https://a.example/path"))).toMatchObject({
      status: 422,
      errors: [{ field: "destination" }],
    });
    const invalid = await rejection(
      t1.setDestinationLimits("a.example", { maxConcurrency: 0, rateLimitPerSecond: -1 }),
    );
    expect(isSteadfastApiError(invalid)).toBe(true);
    expect((invalid as SteadfastApiError).errors?.map((e) => e.field).sort()).toEqual([
      "maxConcurrency",
      "rateLimitPerSecond",
    ]);
  });
});

describe("API keys", () => {
  it("creates a key shown once, lists it by id and prefix, and revokes it for good", async () => {
    const created = await t1.createApiKey({ tenant: "t3", name: "reports" });
    expect(created).toMatchObject({ tenant: "t3", name: "reports", source: "api" });
    expect(created.key).toMatch(/^sf_/);
    expect(created.prefix).toBe(created.key.slice(0, 8));
    const t3 = createClient({ baseUrl: harness.serverUrl, apiKey: created.key });
    expect((await t3.list()).calls).toEqual([]);

    const listed = await t1.apiKeys({ tenant: "t3" });
    expect(listed.map((k) => k.id)).toEqual([created.id]);
    expect(JSON.stringify(await t1.apiKeys())).not.toContain(created.key);
    // Keys are operator business: t2 is not an operator tenant.
    expect(await rejection(t2.apiKeys())).toMatchObject({ status: 403, code: "forbidden" });

    const revoked = await t1.revokeApiKey(created.id);
    expect(revoked.revokedAt).toBeDefined();
    expect(await rejection(t3.list())).toMatchObject({ status: 401, code: "unauthorized" });
    expect(await t1.apiKey(created.id)).toMatchObject({ revokedAt: revoked.revokedAt });
    expect(await t1.apiKeys({ tenant: "t3" })).toEqual([]);
    expect((await t1.apiKeys({ tenant: "t3", includeRevoked: true })).map((k) => k.id)).toEqual([
      created.id,
    ]);
  });

  it("throws the API's problems: unknown key, bad tenant, the last operator key", async () => {
    expect(await rejection(t1.apiKey("key_00000000000000000000000000"))).toMatchObject({
      status: 404,
      code: "not_found",
    });
    expect(await rejection(t1.createApiKey({ tenant: "no spaces" }))).toMatchObject({
      status: 422,
      errors: [{ field: "tenant" }],
    });
    const [own] = await t1.apiKeys({ tenant: "t1" });
    expect(await rejection(t1.revokeApiKey(own!.id))).toMatchObject({
      status: 409,
      code: "invalid_state",
    });
  });
});
