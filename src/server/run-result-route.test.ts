import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { tenantId } from "../core/ids.ts";
import type { RunView } from "../core/run-view.ts";
import type { DurableEndpoint } from "../engine/endpoints/durable-endpoint.ts";
import { seedRun } from "../engine/workflows/run-fixtures.test-support.ts";
import { NonRetriableError } from "../core/workflow/workflow-errors.ts";
import { createSteadfast, type Steadfast } from "../steadfast.ts";
import { SeededRandom } from "../testing/seeded-random.ts";
import { waitUntil } from "../testing/wait-until.ts";
import {
  appHarness,
  expectProblem,
  KEY_OTHER,
  type AppHarness,
} from "./app-harness.test-support.ts";
import { expectDocumented } from "./openapi-document.test-support.ts";

let h: AppHarness;
let sf: Steadfast;
let chat: DurableEndpoint;
/** Attempts of the `answer` step so far; the first `failing` fail. */
let answers = 0;
let failing = 0;
const acme = tenantId("acme");

// The server (the app harness) and a Steadfast with an endpoint of tenant acme, on one SQLite
// file and one fake clock: the endpoint stores its runs, the server answers them.
beforeEach(async () => {
  h = await appHarness();
  sf = await createSteadfast({
    db: `sqlite:${h.dbPath}`,
    clock: h.clock,
    random: new SeededRandom(1),
    workerTimeoutMs: 86_400_000,
  });
  answers = 0;
  failing = 0;
  chat = sf.endpoint(
    "chat",
    async (req, { step }) => {
      const { question } = (await req.json()) as { question: string };
      if (question === "fail") throw new NonRetriableError("no answer for secret s3cret");
      const answer = await step.run("answer", () => {
        answers++;
        if (answers <= failing) throw new Error("llm down");
        return `${question}: 42`;
      });
      return Response.json(
        { answer },
        { status: 201, headers: { etag: '"a"', "set-cookie": "sid=1", "x-private": "no" } },
      );
    },
    { tenantId: "acme" },
  );
  // Until its engine has registered, an endpoint queues its requests (a handoff would hold them).
  await waitUntil(
    async () =>
      sf.engine.canSend && (await sf.store.listWorkers()).some((w) => w.id === sf.engine.workerId),
    { what: "the engine to register" },
  );
});
afterEach(async () => {
  await sf.close();
  await h.close();
});

const ask = (question: string, key: string, url = "http://127.0.0.1/chat") =>
  chat(
    new Request(url, {
      method: "POST",
      headers: { "content-type": "application/json", "idempotency-key": key },
      body: JSON.stringify({ question }),
    }),
  );
const result = (id: string, query = "", key?: string) =>
  h.request(`/v1/runs/${encodeURIComponent(id)}/result${query}`, key === undefined ? {} : { key });

describe("GET /v1/runs/:id/result", () => {
  it("answers an ended endpoint run's stored response: status, kept headers, body", async () => {
    expect((await ask("life", "q1")).status).toBe(201);
    // The happy path answers as soon as the handler returns: the run's end is committed after.
    await waitUntil(
      async () => (await sf.store.getRun(acme, "chat:q1"))?.run.status === "succeeded",
      { what: "the run's end to be committed" },
    );
    const res = await result("chat:q1");
    expect(res.status).toBe(201);
    expect(await res.json()).toEqual({ answer: "life: 42" });
    expect(res.headers.get("etag")).toBe('"a"');
    expect(res.headers.get("content-type")).toContain("application/json");
    expect(res.headers.get("set-cookie")).toBeNull();
    expect(res.headers.get("x-private")).toBeNull();
    expect(answers).toBe(1);
  });

  it("answers 202 with Location and Retry-After while the run has not ended, holds up to ?wait=, then the response", async () => {
    failing = 1;
    expect((await ask("life", "q2")).status).toBe(202);
    const pending = await result("chat:q2", "?wait=0");
    expect(pending.status).toBe(202);
    const location = "/v1/runs/chat%3Aq2/result";
    expect(pending.headers.get("location")).toBe(location);
    expect(Number(pending.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(await pending.clone().json()).toEqual({ runId: "chat:q2", location });
    await expectDocumented(pending, "/v1/runs/{id}/result", "get");

    // Held (wait 10 s): the retry's backoff ends, the engine runs it, the held request reads the
    // store at its next poll (1 s on the fake clock) and answers the stored response.
    const held = result("chat:q2", "?wait=10");
    await h.clock.advance(1_000);
    await waitUntil(
      async () => (await sf.store.getRun(acme, "chat:q2"))?.run.status === "succeeded",
      { what: "the retry to run" },
    );
    await h.clock.advance(1_000);
    const res = await held;
    expect(res.status).toBe(201);
    expect(await res.json()).toEqual({ answer: "life: 42" });
    expect(answers).toBe(2);
  });

  it("answers 202 at once when the client goes away while it holds (no time passes)", async () => {
    failing = 1;
    expect((await ask("life", "q7")).status).toBe(202);
    const gone = new AbortController();
    // The engine sleeps on the same clock: the held request adds one sleep to its.
    const sleeping = h.clock.pendingSleeps;
    const held = h.request("/v1/runs/chat%3Aq7/result?wait=30", { signal: gone.signal });
    await waitUntil(() => h.clock.pendingSleeps > sleeping, { what: "the request to be held" });
    const start = h.clock.now();
    gone.abort();
    const res = await held;
    expect(res.status).toBe(202);
    expect(res.headers.get("location")).toBe("/v1/runs/chat%3Aq7/result");
    expect(h.clock.now()).toBe(start);
  });

  it("answers a failed run 500 run_failed without its message, a cancelled one 409 run_cancelled", async () => {
    expect((await ask("fail", "q3")).status).toBe(500);
    await waitUntil(async () => (await sf.store.getRun(acme, "chat:q3"))?.run.status === "failed", {
      what: "the run's end to be committed",
    });
    const failedRes = await result("chat:q3");
    const failed = await expectProblem(failedRes.clone(), 500, "run_failed");
    await expectDocumented(failedRes, "/v1/runs/{id}/result", "get");
    expect(failed.detail).toContain("NonRetriableError");
    expect(JSON.stringify(failed)).not.toContain("s3cret");

    failing = 1;
    expect((await ask("life", "q4")).status).toBe(202);
    expect((await h.request("/v1/runs/chat%3Aq4/cancel", { method: "POST" })).status).toBe(200);
    const cancelled = await result("chat:q4");
    await expectProblem(cancelled.clone(), 409, "run_cancelled");
    await expectDocumented(cancelled, "/v1/runs/{id}/result", "get");
  });

  it("is 404 for an unknown run and another tenant's, 409 for a workflow run, 422 for a bad wait", async () => {
    expect((await ask("life", "q5")).status).toBe(201);
    const missing = await result("nope");
    await expectProblem(missing.clone(), 404, "not_found");
    await expectDocumented(missing, "/v1/runs/{id}/result", "get");
    await expectProblem(await result("chat:q5", "", KEY_OTHER), 404, "not_found");

    await seedRun({
      store: h.store,
      random: new SeededRandom(3),
      now: h.clock.now(),
      tenantId: acme,
      id: "order-1",
      state: "succeeded",
    });
    const plain = await result("order-1");
    const problem = await expectProblem(plain.clone(), 409, "invalid_state");
    expect(problem.detail).toContain("not of a durable endpoint");
    await expectDocumented(plain, "/v1/runs/{id}/result", "get");

    for (const wait of ["-1", "56", "1.5", "soon"]) {
      await expectProblem(await result("chat:q5", `?wait=${wait}`), 422, "invalid_request");
    }
  });
});

describe("GET /v1/runs/:id of an endpoint run", () => {
  it("shows the stored request with the credentials in its URL redacted (stored as sent)", async () => {
    const url = "http://127.0.0.1/chat?token=tok-123&api_key=key-456&lang=en";
    expect((await ask("life", "q6", url)).status).toBe(201);
    const res = await h.request("/v1/runs/chat%3Aq6");
    const run = (await res.json()) as RunView;
    const input = run.input as { url: string; method: string };
    expect(input.method).toBe("POST");
    expect(input.url).toBe("http://127.0.0.1/chat?token=[redacted]&api_key=[redacted]&lang=en");
    expect(JSON.stringify(run)).not.toMatch(/tok-123|key-456/);
    // What is stored is the URL as sent: the handler replays it.
    const stored = await sf.store.getRun(acme, "chat:q6");
    expect(stored?.run.input).toContain("tok-123");
  });
});
