import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { tenantId } from "../core/ids.ts";
import { appHarness, expectProblem, type AppHarness } from "./app-harness.test-support.ts";
import { waitUntil } from "../testing/wait-until.ts";
import { CallViewSchema } from "./schemas.ts";

let h: AppHarness;
beforeEach(async () => {
  h = await appHarness({ maxBodyBytes: 2_048 });
});
afterEach(async () => {
  await h.close();
});

const valid = { url: "https://api.example.com/v1/charges", method: "POST", body: { amount: 2000 } };

describe("POST /v1/fetch", () => {
  it("accepts a call: 202, Location, the call view, committed", async () => {
    const res = await h.submit(valid);
    expect(res.status).toBe(202);
    const body = CallViewSchema.parse(await res.json());
    expect(body.status).toBe("queued");
    expect(body.request).toEqual({
      url: valid.url,
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"amount":2000}',
    });
    expect(res.headers.get("location")).toBe(`/v1/calls/${body.id}`);
    expect(res.headers.get("idempotent-replayed")).toBeNull();
    expect(res.headers.get("x-request-id")).toMatch(/^req-\d+$/);
    // "Accepted" means committed: a fresh read from the store sees it.
    const stored = await h.request(`/v1/calls/${body.id}`);
    expect(stored.status).toBe(200);
  });

  it("redacts secrets in the returned request", async () => {
    const res = await h.submit({
      url: "https://api.example.com/?api_key=abc&x=1",
      headers: { Authorization: "Bearer s3cret", "X-Trace": "t" },
    });
    const body = CallViewSchema.parse(await res.json());
    expect(body.request.headers).toEqual({ authorization: "[redacted]", "x-trace": "t" });
    expect(body.request.url).not.toContain("abc");
  });

  it("answers 400 invalid_json for malformed JSON, saying where", async () => {
    const res = await h.request("/v1/fetch", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"url": "https://a.example",\n "method" "GET"}',
    });
    const problem = await expectProblem(res, 400, "invalid_json");
    expect(problem.detail).toMatch(/line 2, column \d+/);
  });

  it("answers 400 invalid_json for an empty body", async () => {
    const res = await h.request("/v1/fetch", {
      method: "POST",
      headers: { "content-type": "application/json" },
    });
    const problem = await expectProblem(res, 400, "invalid_json");
    expect(problem.detail).toMatch(/empty/);
  });

  it("answers 422 when the body is not an object", async () => {
    const res = await h.request("/v1/fetch", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "[1,2]",
    });
    const problem = await expectProblem(res, 422, "invalid_request");
    expect(problem.errors).toEqual([
      { field: "(body)", message: "must be a JSON object; got an array" },
    ]);
  });

  it("answers 413 naming the limit when Content-Length is over it, before reading", async () => {
    const res = await h.request("/v1/fetch", {
      method: "POST",
      headers: { "content-type": "application/json", "content-length": "4096" },
      body: JSON.stringify({ url: "https://a.example/", body: "x".repeat(4_000) }),
    });
    const problem = await expectProblem(res, 413, "payload_too_large");
    expect(problem.detail).toContain("2048 bytes (2 KiB)");
  });

  it("answers 413 for a chunked body that grows over the limit (no Content-Length)", async () => {
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent > 10_000) return controller.close();
        sent += 1_000;
        controller.enqueue(new TextEncoder().encode(" ".repeat(1_000)));
      },
    });
    const res = await h.request("/v1/fetch", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: stream,
      duplex: "half",
    } as RequestInit);
    await expectProblem(res, 413, "payload_too_large");
    expect(sent).toBeLessThan(10_000);
  });

  it("accepts the README's curl -d example, which labels its JSON as a form", async () => {
    const res = await h.request("/v1/fetch", {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        "idempotency-key": "order-42",
      },
      body: JSON.stringify({ ...valid, method: "POST", body: { amount: 2000 } }),
    });
    expect(res.status).toBe(202);
  });

  it("answers 415 for a non-JSON Content-Type, and accepts +json and a missing one", async () => {
    const text = await h.request("/v1/fetch", {
      method: "POST",
      headers: { "content-type": "text/plain" },
      body: JSON.stringify(valid),
    });
    await expectProblem(text, 415, "unsupported_media_type");
    const latin1 = await h.request("/v1/fetch", {
      method: "POST",
      headers: { "content-type": "application/json; charset=iso-8859-1" },
      body: JSON.stringify(valid),
    });
    await expectProblem(latin1, 415, "unsupported_media_type");
    const plusJson = await h.request("/v1/fetch", {
      method: "POST",
      headers: { "content-type": "application/vnd.steadfast+json; charset=utf-8" },
      body: JSON.stringify(valid),
    });
    expect(plusJson.status).toBe(202);
    const none = await h.request("/v1/fetch", {
      method: "POST",
      body: new TextEncoder().encode(JSON.stringify(valid)),
    });
    expect(none.status).toBe(202);
  });

  it("answers 422 naming each invalid field", async () => {
    const res = await h.submit({ method: "GET", retry: { maxAttempts: 0 }, retyr: {} });
    const problem = await expectProblem(res, 422, "invalid_request");
    const fields = problem.errors!.map((e) => e.field);
    expect(fields).toContain("url");
    expect(fields).toContain("retry.maxAttempts");
    expect(fields).toContain("retyr");
    expect(problem.errors!.find((e) => e.field === "retyr")!.message).toMatch(/unknown field/);
  });

  it("answers 422 for a wrongly typed nested field and for cross-field rules", async () => {
    const typed = await expectProblem(
      await h.submit({ url: "https://a.example/", timeout: { readMs: "10s" } }),
      422,
      "invalid_request",
    );
    expect(typed.errors!.map((e) => e.field)).toEqual(["timeout.readMs"]);
    const cross = await expectProblem(
      await h.submit({
        url: "https://a.example/",
        retry: { initialDelayMs: 5_000, maxDelayMs: 10 },
      }),
      422,
      "invalid_request",
    );
    expect(cross.errors!.map((e) => e.field)).toEqual(["retry.maxDelayMs"]);
    const reserved = await expectProblem(
      await h.submit({ url: "https://a.example/", headers: { Host: "x" } }),
      422,
      "invalid_request",
    );
    expect(reserved.errors!.map((e) => e.field)).toEqual(["headers.Host"]);
  });

  it("answers 422 invalid_url for a non-http(s) URL", async () => {
    for (const url of ["ftp://files.example.com/a", "file:///etc/passwd", "not a url"]) {
      const problem = await expectProblem(await h.submit({ url }), 422, "invalid_url");
      expect(problem.errors!.map((e) => e.field)).toEqual(["url"]);
    }
  });

  it("answers 422 blocked_destination for private, loopback and metadata addresses", async () => {
    for (const url of [
      "http://127.0.0.1:8080/",
      "http://10.0.0.5/",
      "http://169.254.169.254/latest/meta-data",
      "http://[::1]/",
      "http://localhost/",
    ]) {
      const problem = await expectProblem(await h.submit({ url }), 422, "blocked_destination");
      expect(problem.errors!.map((e) => e.field)).toEqual(["url"]);
    }
    const callback = await expectProblem(
      await h.submit({ url: "https://a.example/", callback: { url: "http://192.168.1.1/hook" } }),
      422,
      "blocked_destination",
    );
    expect(callback.errors!.map((e) => e.field)).toEqual(["callback.url"]);
  });

  describe("Idempotency-Key", () => {
    it("returns the same call for the same key and request, and creates no second call", async () => {
      const first = await h.submit(valid, { "idempotency-key": "order-42" });
      expect(first.status).toBe(202);
      const a = CallViewSchema.parse(await first.json());
      // Same request, keys in another order: the same request by its canonical JSON.
      const again = await h.submit(
        { body: { amount: 2000 }, method: "POST", url: valid.url },
        { "idempotency-key": "order-42" },
      );
      expect(again.status).toBe(202);
      expect(again.headers.get("idempotent-replayed")).toBe("true");
      const b = CallViewSchema.parse(await again.json());
      expect(b.id).toBe(a.id);
      expect(again.headers.get("location")).toBe(`/v1/calls/${a.id}`);
      const list = (await (await h.request("/v1/calls")).json()) as { calls: unknown[] };
      expect(list.calls).toHaveLength(1);
    });

    it("treats the quoted Structured Field form as the same key", async () => {
      const a = CallViewSchema.parse(
        await (await h.submit(valid, { "idempotency-key": "k-1" })).json(),
      );
      const again = await h.submit(valid, { "idempotency-key": '"k-1"' });
      expect(again.headers.get("idempotent-replayed")).toBe("true");
      expect(CallViewSchema.parse(await again.json()).id).toBe(a.id);
    });

    it("answers 422 idempotency_key_reused for the same key with a different request", async () => {
      await h.submit(valid, { "idempotency-key": "order-43" });
      const res = await h.submit(
        { ...valid, body: { amount: 9999 } },
        { "idempotency-key": "order-43" },
      );
      const problem = await expectProblem(res, 422, "idempotency_key_reused");
      expect(problem.errors).toEqual([
        { field: "Idempotency-Key", message: "already used with a different request" },
      ]);
    });

    it("scopes keys per tenant", async () => {
      const a = CallViewSchema.parse(
        await (await h.submit(valid, { "idempotency-key": "shared" })).json(),
      );
      const res = await h.request("/v1/fetch", {
        method: "POST",
        key: "other_key_0123456789abcdef",
        headers: { "content-type": "application/json", "idempotency-key": "shared" },
        body: JSON.stringify({ url: "https://b.example/" }),
      });
      expect(res.status).toBe(202);
      expect(res.headers.get("idempotent-replayed")).toBeNull();
      expect(CallViewSchema.parse(await res.json()).id).not.toBe(a.id);
    });

    it("answers 422 for an empty or over-long key", async () => {
      const empty = await expectProblem(
        await h.submit(valid, { "idempotency-key": '""' }),
        422,
        "invalid_request",
      );
      expect(empty.errors![0]!.field).toBe("Idempotency-Key");
      const long = await expectProblem(
        await h.submit(valid, { "idempotency-key": "k".repeat(256) }),
        422,
        "invalid_request",
      );
      expect(long.errors![0]!.field).toBe("Idempotency-Key");
    });
  });

  describe("Prefer: wait", () => {
    it("answers 202 with the call as it is when the wait runs out", async () => {
      const pending = h.submit(valid, { prefer: "wait=5" });
      await waitUntil(() => h.clock.pendingSleeps > 0);
      await h.clock.advance(5_000);
      const res = await pending;
      expect(res.status).toBe(202);
      expect(res.headers.get("preference-applied")).toBe("wait=5");
      expect(CallViewSchema.parse(await res.json()).status).toBe("queued");
    });

    it("answers 200 with the final call when it ends within the wait", async () => {
      const pending = h.submit(valid, { prefer: "respond-async, wait=30" });
      await waitUntil(() => h.clock.pendingSleeps > 0);
      const page = (await (await h.request("/v1/calls")).json()) as { calls: { id: string }[] };
      expect(
        (await h.request(`/v1/calls/${page.calls[0]!.id}/cancel`, { method: "POST" })).status,
      ).toBe(200);
      await h.clock.advance(30_000);
      const res = await pending;
      expect(res.status).toBe(200);
      expect(res.headers.get("preference-applied")).toBe("wait=30");
      expect(CallViewSchema.parse(await res.json()).status).toBe("cancelled");
    });

    it("caps the wait at 60 s", async () => {
      const pending = h.submit(valid, { prefer: "wait=3600" });
      await waitUntil(() => h.clock.pendingSleeps > 0);
      await h.clock.advance(60_000);
      const res = await pending;
      expect(res.status).toBe(202);
      expect(res.headers.get("preference-applied")).toBe("wait=60");
    });

    it.each(["wait=soon", "wait=-1", "wait=1e9"])(
      "refuses %j with 422 naming the header, before accepting anything",
      async (prefer) => {
        const problem = await expectProblem(
          await h.submit(valid, { prefer }),
          422,
          "invalid_request",
        );
        expect(problem.errors).toEqual([
          { field: "Prefer", message: expect.stringContaining("such as wait=10") as string },
        ]);
        expect(problem.detail).toMatch(/^Prefer: wait must be whole seconds from 0 to 60/);
        expect((await h.calls.list(tenantId("acme"))).calls).toEqual([]);
      },
    );

    it("ignores an unusable wait with handling=lenient (RFC 7240 section 2), applying none", async () => {
      const res = await h.submit(valid, { prefer: "handling=lenient, wait=soon" });
      expect(res.status).toBe(202);
      expect(res.headers.get("preference-applied")).toBeNull();
    });

    it("ends the wait when the client goes away, leaving no timer behind", async () => {
      const client = new AbortController();
      const pending = h.request("/v1/fetch", {
        method: "POST",
        headers: { "content-type": "application/json", prefer: "wait=60" },
        body: JSON.stringify(valid),
        signal: client.signal,
      });
      await waitUntil(() => h.clock.pendingSleeps > 0);
      client.abort();
      await pending.catch(() => undefined);
      await waitUntil(() => h.clock.pendingSleeps === 0);
      expect((await h.calls.list(tenantId("acme"))).calls).toHaveLength(1);
    });
  });
});
