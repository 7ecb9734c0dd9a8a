import { afterEach, describe, expect, it } from "vitest";
import type { AttemptView, CallView } from "../core/call-view.ts";
import { tenantId } from "../core/ids.ts";
import { harness, type Harness } from "../engine/engine-harness.test-support.ts";
import type { AttemptRecord } from "../core/call.ts";
import { callDetail } from "../cli/format.ts";
import { startFlakyUpstream, type FlakyUpstream } from "../testing/flaky-upstream.ts";
import { appHarness, type AppHarness } from "./app-harness.test-support.ts";
import { createApp } from "./app.ts";
import { doc, documentSchema, expectDocumented } from "./openapi-document.test-support.ts";

const KEY = "default_key_0123456789abcdef";

let h: Harness | undefined;
let receiver: FlakyUpstream | undefined;
let bare: AppHarness | undefined;
afterEach(async () => {
  await receiver?.close();
  await h?.cleanup();
  await bare?.close();
  h = undefined;
  receiver = undefined;
  bare = undefined;
});

/**
 * The real engine on a fake clock, the HTTP API over it, and a loopback callback receiver that
 * answers `500` to its first `failures` requests and `204` after.
 */
async function setUp(failures: number) {
  const engine = await harness([{ status: 200, body: '{"ok":true}' }]);
  h = engine;
  const hook = await startFlakyUpstream((request) =>
    request.n <= failures ? { status: 500, body: "receiver down" } : { status: 204 },
  );
  receiver = hook;
  await engine.sf.keys.configure([{ tenantId: tenantId("default"), key: KEY }]);
  const app = createApp({ calls: engine.sf.calls, runs: engine.sf.runs, keys: engine.sf.keys });
  const request = (path: string, init: RequestInit = {}) =>
    app.request(path, {
      ...init,
      headers: { authorization: `Bearer ${KEY}`, ...(init.headers as Record<string, string>) },
    });
  const get = async (id: string) => (await (await request(`/v1/calls/${id}`)).json()) as CallView;
  /** Resolves with the next attempt the engine records for a callback delivery. */
  const nextDeliveryAttempt = () =>
    engine.next("attempt:recorded", (p) => p.call.kind === "callback").then((p) => p.attempt);
  return { engine, hook, request, get, nextDeliveryAttempt };
}

/** Advances the fake clock past a retry decided after `attempt`. */
async function advancePast(engine: Harness, attempt: AttemptRecord): Promise<void> {
  if (attempt.decision.type !== "retry") throw new Error("expected a retry decision");
  await engine.clock.advance(attempt.decision.delayMs);
}

describe("a call's callback delivery, shown on the call", () => {
  it("is pending until the call ends, retrying while the receiver fails, then delivered", async () => {
    const { engine, hook, request, get, nextDeliveryAttempt } = await setUp(3);
    let recorded = nextDeliveryAttempt();
    const accepted = await request("/v1/fetch", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        url: engine.upstream.url,
        callback: { url: `${hook.url}/hooks?token=s3cret` },
      }),
    });
    expect(accepted.status).toBe(202);
    const submitted = (await accepted.clone().json()) as CallView;
    expect(submitted.callback).toEqual({
      url: `${hook.url}/hooks?token=[redacted]`,
      status: "pending",
      attempts: 0,
    });
    await expectDocumented(accepted, "/v1/fetch", "post");

    for (let failed = 1; failed <= 3; failed++) {
      const attempt = await recorded;
      expect(attempt.outcome).toEqual({ type: "response", status: 500 });
      const call = await get(submitted.id);
      expect(call.status).toBe("succeeded");
      expect(call.callback).toMatchObject({
        status: "retrying",
        attempts: failed,
        lastAttemptAt: new Date(attempt.startedAt).toISOString(),
        lastError: { code: "http_status", status: 500 },
      });
      expect(call.callback?.lastError?.message).toMatch(/^status 500; /);
      expect(Date.parse(call.callback!.nextAttemptAt!)).toBeGreaterThan(engine.clock.now());
      await expectDocumented(await request(`/v1/calls/${submitted.id}`), "/v1/calls/{id}", "get");
      recorded = nextDeliveryAttempt();
      await advancePast(engine, attempt);
    }
    const last = await recorded;
    expect(last.decision).toEqual({ type: "succeed" });

    const delivered = await get(submitted.id);
    expect(delivered.callback).toEqual({
      url: `${hook.url}/hooks?token=[redacted]`,
      status: "delivered",
      attempts: 4,
      webhookId: hook.requests[0]!.headers["webhook-id"],
      lastAttemptAt: new Date(last.startedAt).toISOString(),
      deliveredAt: new Date(engine.clock.now()).toISOString(),
    });
    expect(hook.requests.map((r) => r.headers["webhook-id"])).toEqual(
      Array(4).fill(delivered.callback?.webhookId),
    );

    const attemptsRes = await request(`/v1/calls/${submitted.id}/callback/attempts`);
    const { attempts } = (await attemptsRes.clone().json()) as { attempts: AttemptView[] };
    expect(attempts.map((a) => a.outcome)).toEqual([
      { type: "response", status: 500 },
      { type: "response", status: 500 },
      { type: "response", status: 500 },
      { type: "response", status: 204 },
    ]);
    await expectDocumented(attemptsRes, "/v1/calls/{id}/callback/attempts", "get");
    // The call's own attempts are not the delivery's.
    const own = (await (await request(`/v1/calls/${submitted.id}/attempts`)).json()) as {
      attempts: AttemptView[];
    };
    expect(own.attempts).toHaveLength(1);
    // Lists carry no callback: a page costs no read per call.
    const page = (await (await request("/v1/calls")).json()) as { calls: CallView[] };
    expect(page.calls.map((c) => [c.id, c.callback])).toEqual([[submitted.id, undefined]]);
  });

  it("sends what the webhooks section of the OpenAPI document describes", async () => {
    const { engine, hook, nextDeliveryAttempt } = await setUp(0);
    const recorded = nextDeliveryAttempt();
    const call = await engine.sf.fetch({ url: engine.upstream.url, callback: { url: hook.url } });
    await call.result();
    await recorded;
    const [delivery] = hook.requests;
    const webhook = doc.webhooks.callEnded!.post!;
    const bodySchema = documentSchema(webhook.requestBody.content["application/json"]!.schema.$ref);
    const parsed = bodySchema.safeParse(JSON.parse(delivery!.body));
    expect(parsed.error?.issues).toBeUndefined();
    expect(JSON.parse(delivery!.body)).toMatchObject({
      type: "call.succeeded",
      data: { call: { id: call.id, status: "succeeded" }, attempts: [{ number: 1 }] },
    });
    const headers = webhook.parameters.filter((p) => p.in === "header");
    expect(headers.map((p) => p.name).sort()).toEqual([
      "webhook-id",
      "webhook-signature",
      "webhook-timestamp",
    ]);
    for (const header of headers) {
      expect(delivery!.headers[header.name]).toMatch(new RegExp(header.schema.pattern));
    }
  });

  it("shows a callback that failed for good, with its last error, and sends it again", async () => {
    const { engine, hook, request, get, nextDeliveryAttempt } = await setUp(10);
    let recorded = nextDeliveryAttempt();
    const call = await engine.sf.fetch({
      url: engine.upstream.url,
      callback: { url: `${hook.url}/hooks` },
    });
    await call.result();
    for (let n = 1; n < 10; n++) {
      const attempt = await recorded;
      recorded = nextDeliveryAttempt();
      await advancePast(engine, attempt);
    }
    const tenth = await recorded;
    expect(tenth.decision).toMatchObject({ type: "fail", code: "attempts_exhausted" });

    const failed = await get(call.id);
    expect(failed.callback).toMatchObject({
      status: "failed",
      attempts: 10,
      lastError: {
        code: "http_status",
        status: 500,
        message: "status 500; maxAttempts (10) reached",
      },
    });
    expect(failed.callback?.nextAttemptAt).toBeUndefined();
    const detail = callDetail(failed);
    expect(detail).toMatch(
      new RegExp(`^callback +failed after 10 attempts  ${hook.url}/hooks$`, "m"),
    );
    expect(detail).toMatch(/^ {2}last error +status 500; maxAttempts \(10\) reached \(2026-/m);
    expect(detail).toMatch(
      new RegExp(`^  send again +steadfast calls retry ${call.id} --callback$`, "m"),
    );

    recorded = nextDeliveryAttempt();
    const retried = await request(`/v1/calls/${call.id}/callback/retry`, { method: "POST" });
    expect(retried.status).toBe(202);
    expect(((await retried.clone().json()) as CallView).callback).toMatchObject({
      status: "delivering",
      attempts: 10,
    });
    await expectDocumented(retried, "/v1/calls/{id}/callback/retry", "post");
    expect((await recorded).decision).toEqual({ type: "succeed" });
    const delivered = await get(call.id);
    expect(delivered.callback).toMatchObject({ status: "delivered", attempts: 11 });
    expect(new Set(hook.requests.map((r) => r.headers["webhook-id"])).size).toBe(1);

    const again = await request(`/v1/calls/${call.id}/callback/retry`, { method: "POST" });
    expect(again.status).toBe(409);
    expect(((await again.json()) as { detail: string }).detail).toMatch(/was delivered/);
  });
});

describe("a call's callback, before and without a delivery", () => {
  it("is absent without a callback URL, pending before the end, skipped when cancelled", async () => {
    bare = await appHarness();
    const submit = async (body: object) =>
      ((await (await bare!.submit(body)).json()) as CallView).id;
    const plain = await submit({ url: "https://api.example.com/" });
    const plainView = (await (await bare.request(`/v1/calls/${plain}`)).json()) as CallView;
    expect(plainView).not.toHaveProperty("callback");
    for (const [method, path] of [
      ["GET", "attempts"],
      ["POST", "retry"],
    ] as const) {
      const res = await bare.request(`/v1/calls/${plain}/callback/${path}`, { method });
      expect(res.status).toBe(404);
      expect(((await res.clone().json()) as { detail: string }).detail).toMatch(
        /submitted without callback\.url/,
      );
      await expectDocumented(res, `/v1/calls/{id}/callback/${path}`, method.toLowerCase());
    }

    const hooked = await submit({
      url: "https://api.example.com/",
      callback: { url: "https://hooks.example.com/x" },
    });
    const pending = (await (await bare.request(`/v1/calls/${hooked}`)).json()) as CallView;
    expect(pending.callback).toEqual({
      url: "https://hooks.example.com/x",
      status: "pending",
      attempts: 0,
    });
    const none = await bare.request(`/v1/calls/${hooked}/callback/attempts`);
    expect(await none.json()).toEqual({ attempts: [] });
    const early = await bare.request(`/v1/calls/${hooked}/callback/retry`, { method: "POST" });
    expect(early.status).toBe(409);
    expect(((await early.clone().json()) as { detail: string }).detail).toMatch(
      /is queued: its callback is sent when it ends/,
    );
    await expectDocumented(early, "/v1/calls/{id}/callback/retry", "post");

    const cancelled = await bare.request(`/v1/calls/${hooked}/cancel`, { method: "POST" });
    expect(((await cancelled.json()) as CallView).callback).toEqual({
      url: "https://hooks.example.com/x",
      status: "skipped",
      attempts: 0,
    });
    const late = await bare.request(`/v1/calls/${hooked}/callback/retry`, { method: "POST" });
    expect(late.status).toBe(409);
  });
});
