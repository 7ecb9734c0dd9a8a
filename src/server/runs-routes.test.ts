import { afterEach, beforeEach, describe, expect, expectTypeOf, it } from "vitest";
import type { z } from "zod";
import { tenantId } from "../core/ids.ts";
import type { RunSummaryView, RunView } from "../core/run-view.ts";
import { seedRun, type SeededState } from "../engine/workflows/run-fixtures.test-support.ts";
import { SeededRandom } from "../testing/seeded-random.ts";
import {
  appHarness,
  expectProblem,
  KEY_OTHER,
  type AppHarness,
} from "./app-harness.test-support.ts";
import { expectDocumented } from "./openapi-document.test-support.ts";
import type { RunSummaryViewSchema, RunViewSchema } from "./run-schemas.ts";

let h: AppHarness;
const random = new SeededRandom(3);
beforeEach(async () => {
  h = await appHarness({ maxBodyBytes: 4_096 });
});
afterEach(async () => {
  await h.close();
});

const seed = (id: string, state: SeededState, tenant = "acme") =>
  seedRun({ store: h.store, random, now: h.clock.now(), tenantId: tenantId(tenant), id, state });

const post = (path: string, body?: unknown, init: { key?: string } = {}) =>
  h.request(path, {
    method: "POST",
    headers: { "content-type": "application/json" },
    ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
    ...init,
  });

describe("GET /v1/runs/:id", () => {
  it("answers the run with its steps and attempts, as documented", async () => {
    await seed("order/42 ü", "succeeded");
    const res = await h.request(`/v1/runs/${encodeURIComponent("order/42 ü")}`);
    expect(res.status).toBe(200);
    const run = (await res.clone().json()) as RunView;
    expect(run).toMatchObject({
      id: "order/42 ü",
      status: "succeeded",
      input: { orderId: "o-42", big: "42" },
      output: { receipt: "r-1" },
    });
    expect(run.steps[0]?.attemptLog.map((a) => a.outcome.type)).toEqual(["failed", "succeeded"]);
    await expectDocumented(res, "/v1/runs/{id}", "get");
    for (const state of ["failed", "compensated", "sleeping", "waiting_event"] as const) {
      await seed(state, state);
      await expectDocumented(await h.request(`/v1/runs/${state}`), "/v1/runs/{id}", "get");
    }
  });

  it("is 404 for an unknown run and for another tenant's", async () => {
    await seed("mine", "queued");
    const missing = await h.request("/v1/runs/nope");
    expect((await expectProblem(missing.clone(), 404, "not_found")).detail).toContain('"nope"');
    await expectDocumented(missing, "/v1/runs/{id}", "get");
    await expectProblem(await h.request("/v1/runs/mine", { key: KEY_OTHER }), 404, "not_found");
  });
});

describe("GET /v1/runs", () => {
  it("lists the tenant's runs newest first, filtered, paged, without inputs or steps", async () => {
    await seed("a", "queued");
    await h.clock.advance(1);
    await seed("b", "failed");
    await h.clock.advance(1);
    await seed("c", "succeeded");
    await seed("theirs", "queued", "other");
    const res = await h.request("/v1/runs?limit=2");
    const page = (await res.clone().json()) as { runs: RunSummaryView[]; nextCursor?: string };
    expect(page.runs.map((r) => r.id)).toEqual(["c", "b"]);
    expect(page.runs[0]).not.toHaveProperty("steps");
    expect(page.runs[0]).not.toHaveProperty("input");
    await expectDocumented(res, "/v1/runs", "get");
    const next = (await (await h.request(`/v1/runs?limit=2&cursor=${page.nextCursor}`)).json()) as {
      runs: RunSummaryView[];
      nextCursor?: string;
    };
    expect(next).toEqual({ runs: [expect.objectContaining({ id: "a" })] });
    const failed = (await (await h.request("/v1/runs?status=failed&workflow=checkout")).json()) as {
      runs: RunSummaryView[];
    };
    expect(failed.runs.map((r) => r.id)).toEqual(["b"]);
  });

  it("refuses bad parameters with 422 naming each one, never 5xx", async () => {
    for (const [query, field] of [
      ["status=nope", "status"],
      ["limit=0", "limit"],
      ["limit=501", "limit"],
      ["limit=x", "limit"],
      ["cursor=abc", "cursor"],
      ["workflow=", "workflow"],
      ["stauts=failed", "stauts"],
    ] as const) {
      const res = await h.request(`/v1/runs?${query}`);
      const problem = await expectProblem(res.clone(), 422, "invalid_request");
      expect(problem.errors?.map((e) => e.field)).toEqual([field]);
      await expectDocumented(res, "/v1/runs", "get");
    }
  });
});

describe("POST /v1/runs/:id/cancel and /retry", () => {
  it("cancels a parked run (200), then 409; 404 for another tenant", async () => {
    await seed("sleepy", "sleeping");
    await expectProblem(
      await post("/v1/runs/sleepy/cancel", undefined, { key: KEY_OTHER }),
      404,
      "not_found",
    );
    const res = await post("/v1/runs/sleepy/cancel");
    expect(res.status).toBe(200);
    expect(((await res.clone().json()) as RunView).status).toBe("cancelled");
    await expectDocumented(res, "/v1/runs/{id}/cancel", "post");
    const again = await post("/v1/runs/sleepy/cancel");
    await expectProblem(again.clone(), 409, "invalid_state");
    await expectDocumented(again, "/v1/runs/{id}/cancel", "post");
  });

  it("retries a failed run (202 with Location), 409 for one that did not fail", async () => {
    await seed("broken", "failed");
    const res = await post("/v1/runs/broken/retry");
    expect(res.status).toBe(202);
    expect(res.headers.get("location")).toBe("/v1/runs/broken");
    expect(((await res.clone().json()) as RunView).status).toBe("queued");
    expect(h.notified).toEqual([h.clock.now()]);
    await expectDocumented(res, "/v1/runs/{id}/retry", "post");
    const queued = await post("/v1/runs/broken/retry");
    expect((await expectProblem(queued.clone(), 409, "invalid_state")).detail).toContain(
      "only a failed run can be retried",
    );
    await expectDocumented(queued, "/v1/runs/{id}/retry", "post");
    await expectProblem(await post("/v1/runs/nope/retry"), 404, "not_found");
  });
});

describe("POST /v1/events", () => {
  it("records the event (202 with its id), deduplicates by id, wakes the waiting runs", async () => {
    await seed("waiting", "waiting_event");
    const res = await post("/v1/events", { name: "order.approved", data: { orderId: "o-42" } });
    expect(res.status).toBe(202);
    const sent = (await res.clone().json()) as { id: string; created: boolean };
    expect(sent).toMatchObject({ name: "order.approved", created: true });
    expect(sent.id).toMatch(/^evt_/);
    await expectDocumented(res, "/v1/events", "post");
    expect(h.notified).toEqual([h.clock.now()]);
    expect(((await (await h.request("/v1/runs/waiting")).json()) as RunView).runAt).toBe(
      new Date(h.clock.now()).toISOString(),
    );

    const body = { name: "order.approved", data: [1, 2], id: "e-1" };
    expect(((await (await post("/v1/events", body)).json()) as { created: boolean }).created).toBe(
      true,
    );
    const repeat = await post("/v1/events", body);
    expect(repeat.status).toBe(202);
    expect(((await repeat.json()) as { created: boolean }).created).toBe(false);
    const reused = await post("/v1/events", { ...body, data: [2, 1] });
    const problem = await expectProblem(reused.clone(), 409, "event_id_reused");
    expect(problem.errors).toEqual([{ field: "id", message: "already used with another data" }]);
    await expectDocumented(reused, "/v1/events", "post");
    // Another tenant's id space is its own.
    expect((await post("/v1/events", { ...body, data: 3 }, { key: KEY_OTHER })).status).toBe(202);
  });

  it("refuses bad bodies with problem+json naming the field, never 5xx", async () => {
    const cases: [unknown, number, string, string | undefined][] = [
      [{}, 422, "invalid_request", "name"],
      [{ name: "" }, 422, "invalid_request", "name"],
      [{ name: 1 }, 422, "invalid_request", "name"],
      [{ name: "a", id: "" }, 422, "invalid_request", "id"],
      [{ name: "a", id: 7 }, 422, "invalid_request", "id"],
      [{ name: "a", dat: 1 }, 422, "invalid_request", "dat"],
      [[1], 422, "invalid_request", "(body)"],
      ["null", 422, "invalid_request", "(body)"],
      ['"text"', 422, "invalid_request", "(body)"],
      [`{"name":"a","data":${"[".repeat(100)}${"]".repeat(100)}}`, 422, "invalid_request", "data"],
      ["{", 400, "invalid_json", undefined],
      [{ name: "a", data: "x".repeat(5_000) }, 413, "payload_too_large", undefined],
    ];
    for (const [body, status, code, field] of cases) {
      const res = await post("/v1/events", body);
      const problem = await expectProblem(res.clone(), status, code);
      if (field !== undefined) expect(problem.errors?.map((e) => e.field)).toEqual([field]);
      await expectDocumented(res, "/v1/events", "post");
    }
  });
});

it("has response schemas that accept exactly the core view types", () => {
  expectTypeOf<RunView>().toExtend<z.infer<typeof RunViewSchema>>();
  expectTypeOf<RunSummaryView>().toExtend<z.infer<typeof RunSummaryViewSchema>>();
});
