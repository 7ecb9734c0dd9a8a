import { Validator } from "@seriousme/openapi-schema-validator";
import { afterEach, beforeEach, describe, expect, expectTypeOf, it } from "vitest";
import { z } from "zod";
import type { ApiKeyView } from "../core/api-key.ts";
import type { AttemptView, CallView } from "../core/call-view.ts";
import { FetchInputSchema } from "../core/fetch-input.ts";
import { tenantId, type WorkerId } from "../core/ids.ts";
import { appHarness, KEY_OTHER, type AppHarness } from "./app-harness.test-support.ts";
import type { ApiKeyViewSchema } from "./api-key-schemas.ts";
import { buildOpenApiDocument } from "./openapi.ts";
import {
  doc,
  documentSchema,
  expectDocumented,
  type Document,
} from "./openapi-document.test-support.ts";
import { PROBLEM_KINDS, type Problem } from "./problem.ts";
import type { DestinationView } from "../engine/destinations/destination-view.ts";
import type {
  AttemptViewSchema,
  CallViewSchema,
  DestinationViewSchema,
  ProblemSchema,
} from "./schemas.ts";
import { ProblemCodes } from "./schemas.ts";

let h: AppHarness;
beforeEach(async () => {
  h = await appHarness({ maxBodyBytes: 4_096 });
});
afterEach(async () => {
  await h.close();
});

describe("openapi.json", () => {
  it("is an OpenAPI 3.1 document with bearer security, served as JSON without auth", async () => {
    const res = await h.request("/openapi.json", { key: null });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/json");
    const served = (await res.json()) as Document;
    expect(served.openapi).toBe("3.1.0");
    expect(served.components.securitySchemes.bearer).toMatchObject({
      type: "http",
      scheme: "bearer",
    });
    expect(served).toEqual(
      JSON.parse(JSON.stringify(buildOpenApiDocument({ maxBodyBytes: 4_096 }))) as Document,
    );
  });

  it("is valid against the OpenAPI 3.1 specification's own schema, webhooks included", async () => {
    const validator = new Validator();
    const result = await validator.validate(buildOpenApiDocument({ maxBodyBytes: 4_096 }));
    expect(result.errors).toBeUndefined();
    expect(result.valid).toBe(true);
    expect(validator.version).toBe("3.1");
    // The callback POST: its payload and the three Standard Webhooks headers.
    const callEnded = doc.webhooks.callEnded?.post;
    expect(callEnded?.requestBody.content["application/json"]?.schema.$ref).toBe(
      "#/components/schemas/CallbackPayload",
    );
    expect(callEnded?.parameters.map((p) => [p.name, p.in, p.required])).toEqual([
      ["webhook-id", "header", true],
      ["webhook-timestamp", "header", true],
      ["webhook-signature", "header", true],
    ]);
  });

  it("documents exactly the routes the app has", () => {
    const routes = new Set(
      h.app.routes
        .filter((r) => r.method !== "ALL")
        .map((r) => `${r.method} ${r.path.replace(/:(\w+)/g, "{$1}")}`),
    );
    const documented = new Set(
      Object.entries(doc.paths).flatMap(([path, ops]) =>
        Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`),
      ),
    );
    expect(documented).toEqual(routes);
  });

  it("describes the request body with the schema that validates it", () => {
    const { $schema: _s, ...direct } = z.toJSONSchema(FetchInputSchema, { io: "input" });
    expect(doc.components.schemas.FetchInput).toEqual(direct);
    const validator = documentSchema("#/components/schemas/FetchInput");
    for (const body of [
      { url: "https://a.example/" },
      { url: "x", retyr: 1 },
      { url: "x", retry: { maxAttempts: 0 } },
      { url: "x", body: [1, { a: null }] },
    ]) {
      expect(validator.safeParse(body).success).toBe(FetchInputSchema.safeParse(body).success);
    }
  });

  it("lists a documented problem type for every code", () => {
    expect(new Set(ProblemCodes)).toEqual(new Set(Object.keys(PROBLEM_KINDS)));
  });

  it("documents the attempt a takeover cut off: interrupted, sent unknown", async () => {
    const accepted = await h.submit({ url: "https://api.example.com/", method: "PUT" });
    const { id } = (await accepted.json()) as { id: string };
    // A process claims the call and dies: the next claim (recordAttempt's) takes it over.
    await h.store.claimDue({
      now: h.clock.now(),
      limit: 1,
      leaseMs: 1,
      workerId: "worker_dead" as WorkerId,
    });
    await h.clock.advance(1);
    await h.failCall(id);
    const res = await h.request(`/v1/calls/${id}/attempts`);
    const { attempts } = (await res.clone().json()) as { attempts: AttemptView[] };
    expect(attempts.map((a) => [a.outcome.type, a.sent])).toEqual([
      ["interrupted", "unknown"],
      ["response", true],
    ]);
    await expectDocumented(res, "/v1/calls/{id}/attempts", "get");
  });

  it("matches real responses: calls, pages, attempts and problems", async () => {
    const accepted = await h.submit({
      url: "https://api.example.com/",
      method: "POST",
      body: { a: 1 },
      callback: { url: "https://hooks.example.com/x?token=t" },
    });
    const id = ((await accepted.clone().json()) as { id: string }).id;
    await expectDocumented(accepted, "/v1/fetch", "post");
    await h.recordAttempt(
      id,
      { type: "error", code: "read_timeout", message: "no bytes for 30000 ms" },
      { type: "retry", delayMs: 1_000, reason: "read_timeout is retried" },
      { status: "waiting", runAt: h.clock.now() + 1_000, reason: "retry after read_timeout" },
    );
    await expectDocumented(await h.request(`/v1/calls/${id}`), "/v1/calls/{id}", "get");
    await h.clock.advance(1_000);
    await h.recordAttempt(
      id,
      { type: "response", status: 200 },
      { type: "succeed" },
      {
        status: "succeeded",
        response: {
          status: 200,
          headers: { "set-cookie": "s=1", "content-type": "text/plain" },
          body: "aGk=",
          bodyEncoding: "base64",
          bodyTruncated: true,
          bodyBytes: 2,
        },
        idempotencyExpiresAt: h.clock.now() + 86_400_000,
      },
    );
    await expectDocumented(await h.request(`/v1/calls/${id}`), "/v1/calls/{id}", "get");
    await expectDocumented(
      await h.request(`/v1/calls/${id}/attempts`),
      "/v1/calls/{id}/attempts",
      "get",
    );
    await expectDocumented(await h.request("/v1/calls?limit=1"), "/v1/calls", "get");
    await expectDocumented(
      await h.request(`/v1/calls/${id}/cancel`, { method: "POST" }),
      "/v1/calls/{id}/cancel",
      "post",
    );
    const second = (
      (await (await h.submit({ url: "https://api.example.com/2" })).json()) as { id: string }
    ).id;
    await expectDocumented(
      await h.request(`/v1/calls/${second}/cancel`, { method: "POST" }),
      "/v1/calls/{id}/cancel",
      "post",
    );
    await h.failCall(
      ((await (await h.submit({ url: "https://api.example.com/3" })).json()) as { id: string }).id,
    );
    const failed = (
      (await (await h.request("/v1/calls?status=failed")).json()) as { calls: { id: string }[] }
    ).calls[0]!.id;
    await expectDocumented(
      await h.request(`/v1/calls/${failed}/retry`, { method: "POST" }),
      "/v1/calls/{id}/retry",
      "post",
    );
    await expectDocumented(await h.request("/healthz"), "/healthz", "get");

    const post = (
      body: string,
      headers: Record<string, string> = {},
      key?: string,
    ): Promise<Response> =>
      h.request("/v1/fetch", {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body,
        ...(key === undefined ? {} : { key }),
      });
    await expectDocumented(await post("{"), "/v1/fetch", "post");
    await expectDocumented(await post("{}", { "content-type": "text/csv" }), "/v1/fetch", "post");
    await expectDocumented(
      await post(JSON.stringify({ url: "x".repeat(5_000) })),
      "/v1/fetch",
      "post",
    );
    await expectDocumented(await post(JSON.stringify({ url: 1 })), "/v1/fetch", "post");
    await expectDocumented(await post(JSON.stringify({ url: "gopher://x" })), "/v1/fetch", "post");
    await expectDocumented(
      await post(JSON.stringify({ url: "http://10.1.2.3/" })),
      "/v1/fetch",
      "post",
    );
    await post(JSON.stringify({ url: "https://a.example/" }), { "idempotency-key": "k" });
    await expectDocumented(
      await post(JSON.stringify({ url: "https://b.example/" }), { "idempotency-key": "k" }),
      "/v1/fetch",
      "post",
    );
    await expectDocumented(await post("{}", {}, "wrong_wrong_wrong_wrong"), "/v1/fetch", "post");
    await expectDocumented(
      await h.request(`/v1/calls/${id}`, { key: KEY_OTHER }),
      "/v1/calls/{id}",
      "get",
    );
    await expectDocumented(
      await h.request(`/v1/calls/${id}/retry`, { method: "POST" }),
      "/v1/calls/{id}/retry",
      "post",
    );
    await expectDocumented(await h.request("/v1/calls?status=nope"), "/v1/calls", "get");
  });

  it("matches real destination responses: list, each breaker state, pause, limits, problems", async () => {
    const acme = tenantId("acme");
    const send = async (url: string, status: number, headers: Record<string, string> = {}) => {
      const { call } = await h.calls.submit(acme, { url });
      const admission = await h.gate.admit(call, h.clock.now());
      if (admission.type !== "proceed") return admission.type;
      h.gate.observe(
        admission.ticket,
        {
          type: "response",
          status,
          headers,
          body: new Uint8Array(),
          bodyTruncated: false,
          bodyBytes: 0,
          timings: { startedAt: h.clock.now(), durationMs: 12 },
        },
        h.clock.now(),
        { connectTimeoutMs: 10_000, readTimeoutMs: 30_000, totalTimeoutMs: 60_000 },
      );
      h.gate.release(admission.ticket);
      return admission.type;
    };
    for (let i = 0; i < 20; i++) await send("https://down.example/x", 503);
    await send("https://slow.example/x", 429, { "retry-after": "30" });
    await h.gate.idle();
    const path = "/v1/destinations/{destination}";
    await expectDocumented(await h.request("/v1/destinations"), "/v1/destinations", "get");
    for (const name of ["down.example", "slow.example"])
      await expectDocumented(await h.request(`/v1/destinations/${name}`), path, "get");
    await h.clock.advance(60_000);
    expect(await send("https://down.example/x", 200)).toBe("proceed");
    await expectDocumented(await h.request("/v1/destinations/down.example"), path, "get");
    const put = (name: string, body: string) =>
      h.request(`/v1/destinations/${name}`, {
        method: "PUT",
        headers: { "content-type": "application/json" },
        body,
      });
    await expectDocumented(await put("a.example", '{"rateLimitPerSecond":5}'), path, "put");
    await expectDocumented(await put("a.example", '{"maxConcurrency":0}'), path, "put");
    await expectDocumented(await put("a.example", "{"), path, "put");
    await expectDocumented(await h.request("/v1/destinations/nope.example"), path, "get");
    await expectDocumented(await h.request("/v1/destinations/ftp%3A%2F%2Fx"), path, "get");
    await expectDocumented(
      await h.request("/v1/destinations/down.example/reset", { method: "POST" }),
      "/v1/destinations/{destination}/reset",
      "post",
    );
  });

  it("matches real key responses: list, create, show, revoke, problems", async () => {
    const create = (body: string) =>
      h.request("/v1/keys", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
      });
    const created = await create('{"tenant":"newco","name":"billing"}');
    const { id } = (await created.clone().json()) as { id: string };
    await expectDocumented(created, "/v1/keys", "post");
    await expectDocumented(await create('{"tenant":"a b"}'), "/v1/keys", "post");
    await expectDocumented(await create("{"), "/v1/keys", "post");
    await expectDocumented(await h.request("/v1/keys"), "/v1/keys", "get");
    await expectDocumented(await h.request("/v1/keys?includeRevoked=maybe"), "/v1/keys", "get");
    await expectDocumented(await h.request(`/v1/keys/${id}`), "/v1/keys/{id}", "get");
    await expectDocumented(await h.request("/v1/keys/key_nope"), "/v1/keys/{id}", "get");
    const revoke = (keyId: string) => h.request(`/v1/keys/${keyId}/revoke`, { method: "POST" });
    await expectDocumented(await revoke(id), "/v1/keys/{id}/revoke", "post");
    await h.close();
    h = await appHarness({ operatorTenants: ["acme"] });
    const [acmeKey] = await h.keys.list({ tenantId: tenantId("acme") });
    await expectDocumented(await revoke(acmeKey!.id), "/v1/keys/{id}/revoke", "post");
    await expectDocumented(
      await h.request(`/v1/keys/${acmeKey!.id}/revoke`, { method: "POST", key: KEY_OTHER }),
      "/v1/keys/{id}/revoke",
      "post",
    );
  });

  it("has response schemas that accept exactly the core view types", () => {
    expectTypeOf<CallView>().toExtend<z.infer<typeof CallViewSchema>>();
    expectTypeOf<AttemptView>().toExtend<z.infer<typeof AttemptViewSchema>>();
    expectTypeOf<Problem>().toExtend<z.infer<typeof ProblemSchema>>();
    expectTypeOf<DestinationView>().toExtend<z.infer<typeof DestinationViewSchema>>();
    expectTypeOf<ApiKeyView>().toExtend<z.infer<typeof ApiKeyViewSchema>>();
  });
});
