import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  appHarness,
  expectProblem,
  KEY_OTHER,
  type AppHarness,
} from "./app-harness.test-support.ts";
import {
  AttemptListSchema,
  CallPageSchema,
  CallViewSchema,
  SigningSecretSchema,
} from "./schemas.ts";

let h: AppHarness;
beforeEach(async () => {
  h = await appHarness();
});
afterEach(async () => {
  await h.close();
});

async function submit(url = "https://api.example.com/"): Promise<string> {
  const res = await h.submit({ url });
  expect(res.status).toBe(202);
  return CallViewSchema.parse(await res.json()).id;
}

const attempt = (...args: Parameters<AppHarness["recordAttempt"]>): Promise<void> =>
  h.recordAttempt(...args);
const fail = (id: string): Promise<void> => h.failCall(id);

describe("GET /v1/calls/:id", () => {
  it("answers the call", async () => {
    const id = await submit();
    const res = await h.request(`/v1/calls/${id}`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    const call = CallViewSchema.parse(await res.json());
    expect(call).toMatchObject({
      id,
      status: "queued",
      attempts: 0,
      createdAt: "2026-01-01T00:00:00.000Z",
      nextAttemptAt: "2026-01-01T00:00:00.000Z",
    });
  });

  it("answers 404 for another tenant's call, an unknown id and a malformed id", async () => {
    const id = await submit();
    await expectProblem(await h.request(`/v1/calls/${id}`, { key: KEY_OTHER }), 404, "not_found");
    await expectProblem(
      await h.request(`/v1/calls/${id}/attempts`, { key: KEY_OTHER }),
      404,
      "not_found",
    );
    await expectProblem(
      await h.request(`/v1/calls/${id}/cancel`, { method: "POST", key: KEY_OTHER }),
      404,
      "not_found",
    );
    await expectProblem(
      await h.request(`/v1/calls/${id}/retry`, { method: "POST", key: KEY_OTHER }),
      404,
      "not_found",
    );
    await expectProblem(
      await h.request("/v1/calls/call_01JD6Z2K8Q7X1Y0ZV3R5T9W2MN"),
      404,
      "not_found",
    );
    const malformed = await expectProblem(await h.request("/v1/calls/nope"), 404, "not_found");
    expect(malformed.detail).toContain("nope");
    // The owner still sees it.
    expect((await h.request(`/v1/calls/${id}`)).status).toBe(200);
  });
});

describe("GET /v1/calls/:id/attempts", () => {
  it("redacts a URL quoted in an attempt's error message and in the call's error (issue 10, item 3)", async () => {
    const url = "https://api.example.com/x?api_key=SECRET1&sig=SECRET2&page=2";
    const id = await submit(url);
    // undici's messages can quote the request's URL.
    const message = `request to ${url} failed: invalid header value`;
    await attempt(
      id,
      { type: "error", code: "unknown", message },
      { type: "fail", code: "not_retryable", reason: `${message} is not retryable` },
      {
        status: "failed",
        error: { code: "not_retryable", message },
        idempotencyExpiresAt: h.clock.now() + 86_400_000,
      },
    );
    const attempts = await (await h.request(`/v1/calls/${id}/attempts`)).text();
    const call = await (await h.request(`/v1/calls/${id}`)).text();
    expect(attempts + call).not.toMatch(/SECRET/);
    const shown = "https://api.example.com/x?api_key=[redacted]&sig=[redacted]&page=2";
    expect(AttemptListSchema.parse(JSON.parse(attempts)).attempts[0]?.outcome).toEqual({
      type: "error",
      code: "unknown",
      message: `request to ${shown} failed: invalid header value`,
    });
    expect(CallViewSchema.parse(JSON.parse(call)).error?.message).toBe(
      `request to ${shown} failed: invalid header value`,
    );
  });

  it("answers the attempts, oldest first, in the documented shape", async () => {
    const id = await submit();
    expect(
      AttemptListSchema.parse(await (await h.request(`/v1/calls/${id}/attempts`)).json()),
    ).toEqual({ attempts: [] });
    await attempt(
      id,
      { type: "error", code: "connect_refused", message: "connection refused" },
      { type: "retry", delayMs: 0, reason: "network error" },
      { status: "waiting", runAt: h.clock.now(), reason: "retry" },
    );
    await fail(id);
    const res = await h.request(`/v1/calls/${id}/attempts`);
    expect(res.status).toBe(200);
    const { attempts } = AttemptListSchema.parse(await res.json());
    expect(attempts.map((a) => [a.number, a.outcome.type, a.decision.type])).toEqual([
      [1, "error", "retry"],
      [2, "response", "fail"],
    ]);
    expect(attempts[0]).toMatchObject({
      startedAt: "2026-01-01T00:00:00.000Z",
      durationMs: 12.5,
      connectMs: 1,
      firstByteMs: 10,
      sent: true,
    });
  });
});

describe("GET /v1/calls", () => {
  it("lists newest first with a cursor, and filters by status", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push(await submit(`https://api.example.com/${i}`));
      await h.clock.advance(1);
    }
    await fail(ids[1]!);
    const first = CallPageSchema.parse(await (await h.request("/v1/calls?limit=2")).json());
    expect(first.calls.map((c) => c.id)).toEqual([ids[4], ids[3]]);
    expect(first.nextCursor).toBe(ids[3]);
    const second = CallPageSchema.parse(
      await (await h.request(`/v1/calls?limit=2&cursor=${first.nextCursor}`)).json(),
    );
    expect(second.calls.map((c) => c.id)).toEqual([ids[2], ids[1]]);
    const last = CallPageSchema.parse(
      await (await h.request(`/v1/calls?limit=2&cursor=${second.nextCursor}`)).json(),
    );
    expect(last.calls.map((c) => c.id)).toEqual([ids[0]]);
    expect(last.nextCursor).toBeUndefined();

    const failed = CallPageSchema.parse(await (await h.request("/v1/calls?status=failed")).json());
    expect(failed.calls.map((c) => c.id)).toEqual([ids[1]]);
    expect(failed.calls[0]!.error).toEqual({ code: "http_400", message: "upstream answered 400" });
    const others = CallPageSchema.parse(
      await (await h.request("/v1/calls", { key: KEY_OTHER })).json(),
    );
    expect(others).toEqual({ calls: [] });
  });

  it("answers 422 for a bad status, naming it and the valid values", async () => {
    const problem = await expectProblem(
      await h.request("/v1/calls?status=done"),
      422,
      "invalid_request",
    );
    expect(problem.errors).toEqual([
      {
        field: "status",
        message: "must be one of queued, running, waiting, succeeded, failed, cancelled",
      },
    ]);
  });

  it("answers 422 for a limit out of 1..500 or not an integer", async () => {
    for (const limit of ["0", "501", "abc", "2.5", "-1"]) {
      const problem = await expectProblem(
        await h.request(`/v1/calls?limit=${limit}`),
        422,
        "invalid_request",
      );
      expect(problem.errors).toEqual([
        { field: "limit", message: "must be an integer from 1 to 500" },
      ]);
    }
    expect((await h.request("/v1/calls?limit=500")).status).toBe(200);
  });

  it("answers 422 for an invalid cursor and an unknown parameter", async () => {
    const cursor = await expectProblem(
      await h.request("/v1/calls?cursor=garbage"),
      422,
      "invalid_request",
    );
    expect(cursor.errors!.map((e) => e.field)).toEqual(["cursor"]);
    const unknown = await expectProblem(
      await h.request("/v1/calls?statu=failed"),
      422,
      "invalid_request",
    );
    expect(unknown.errors!.map((e) => e.field)).toEqual(["statu"]);
  });
});

describe("POST /v1/calls/:id/cancel", () => {
  it("cancels a queued call, then answers 409 because it has ended", async () => {
    const id = await submit();
    const res = await h.request(`/v1/calls/${id}/cancel`, { method: "POST" });
    expect(res.status).toBe(200);
    const call = CallViewSchema.parse(await res.json());
    expect(call.status).toBe("cancelled");
    expect(call.completedAt).toBe("2026-01-01T00:00:00.000Z");
    const again = await expectProblem(
      await h.request(`/v1/calls/${id}/cancel`, { method: "POST" }),
      409,
      "invalid_state",
    );
    expect(again.detail).toContain(id);
  });

  it("answers 409 for a failed call", async () => {
    const id = await submit();
    await fail(id);
    await expectProblem(
      await h.request(`/v1/calls/${id}/cancel`, { method: "POST" }),
      409,
      "invalid_state",
    );
  });
});

describe("POST /v1/calls/:id/retry", () => {
  it("redrives a failed call: 202, queued again", async () => {
    const id = await submit();
    await fail(id);
    const res = await h.request(`/v1/calls/${id}/retry`, { method: "POST" });
    expect(res.status).toBe(202);
    expect(res.headers.get("location")).toBe(`/v1/calls/${id}`);
    expect(CallViewSchema.parse(await res.json()).status).toBe("queued");
  });

  it("makes a waiting call due now: 202, still waiting, next attempt now", async () => {
    const id = await submit();
    await attempt(
      id,
      { type: "response", status: 503 },
      { type: "retry", delayMs: 60_000, reason: "503 is retried" },
      { status: "waiting", runAt: h.clock.now() + 60_000, reason: "retry after 503" },
    );
    const before = CallViewSchema.parse(await (await h.request(`/v1/calls/${id}`)).json());
    expect(before.waitingFor).toEqual({
      reason: "retry_scheduled",
      message: "retry after 503",
      until: "2026-01-01T00:01:00.000Z",
    });
    await h.clock.advance(5_000);
    const res = await h.request(`/v1/calls/${id}/retry`, { method: "POST" });
    expect(res.status).toBe(202);
    const call = CallViewSchema.parse(await res.json());
    expect(call.nextAttemptAt).toBe("2026-01-01T00:00:05.000Z");
  });

  it("answers 409 for a queued or cancelled call", async () => {
    const id = await submit();
    await expectProblem(
      await h.request(`/v1/calls/${id}/retry`, { method: "POST" }),
      409,
      "invalid_state",
    );
    await h.request(`/v1/calls/${id}/cancel`, { method: "POST" });
    await expectProblem(
      await h.request(`/v1/calls/${id}/retry`, { method: "POST" }),
      409,
      "invalid_state",
    );
  });
});

describe("GET /v1/signing-secret", () => {
  it("answers one stable secret per tenant, different across tenants", async () => {
    const first = SigningSecretSchema.parse(await (await h.request("/v1/signing-secret")).json());
    const again = SigningSecretSchema.parse(await (await h.request("/v1/signing-secret")).json());
    const other = SigningSecretSchema.parse(
      await (await h.request("/v1/signing-secret", { key: KEY_OTHER })).json(),
    );
    expect(again.secret).toBe(first.secret);
    expect(other.secret).not.toBe(first.secret);
    await expectProblem(
      await h.request("/v1/signing-secret", { key: "nope-nope-nope-nope" }),
      401,
      "unauthorized",
    );
  });
});
