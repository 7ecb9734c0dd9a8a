import { afterEach, describe, expect, it } from "vitest";
import { tenantId } from "../../core/ids.ts";
import type { RunRecord } from "../../core/run-log.ts";
import { isFinalRunStatus } from "../../core/workflow/run-state.ts";
import type { Steadfast } from "../../steadfast.ts";
import { NonRetriableError } from "../../core/workflow/workflow-errors.ts";
import { waitUntil } from "../../testing/wait-until.ts";
import type { Harness } from "../engine-harness.test-support.ts";
import { storedValueCodec } from "../workflows/stored-value-codec.ts";
import {
  closeEndpointBed,
  ENDPOINT_STORES,
  serveEndpoint,
  type OpenHarness,
} from "./endpoint-bed.test-support.ts";

let h: Harness | undefined;
afterEach(async () => {
  h = undefined;
  await closeEndpointBed();
});

function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
}

const tenant = tenantId("default");

/** The endpoint's runs once `count` of them have ended in the store (written behind). */
async function storedRuns(sf: Steadfast, workflow: string, count: number): Promise<RunRecord[]> {
  let runs: RunRecord[] = [];
  await waitUntil(
    async () => {
      runs = await sf.store.listRuns({ tenantId: tenant, workflow, limit: 100 });
      return runs.filter((run) => isFinalRunStatus(run.status)).length >= count;
    },
    { what: () => `${count} ended runs of ${workflow} in the store (${runs.length} there)` },
  );
  return runs;
}

/** A "chat" endpoint of two steps, counting each step's runs; `failAnswer` first attempts fail. */
async function chat(
  open: OpenHarness,
  options: { failAnswer?: number; resultWaitMs?: number } = {},
) {
  h = await open();
  const ran = { plan: 0, answer: 0 };
  const seen: (string | null)[] = [];
  const endpoint = h.sf.endpoint(
    "chat",
    async (req, { step }) => {
      seen.push(req.headers.get("authorization"));
      const { question } = (await req.json()) as { question: string };
      const plan = await step.run("plan", () => {
        ran.plan++;
        return `plan for ${question}`;
      });
      const answer = await step.run("answer", () => {
        ran.answer++;
        if (ran.answer <= (options.failAnswer ?? 0)) throw new Error(`llm down ${ran.answer}`);
        return `${plan}: 42`;
      });
      return Response.json(
        { answer },
        { status: 201, headers: { "x-private": "no", etag: '"a"' } },
      );
    },
    options.resultWaitMs === undefined ? {} : { resultWaitMs: options.resultWaitMs },
  );
  const base = await serveEndpoint(endpoint);
  return { sf: h.sf, clock: h.clock, ran, seen, url: `${base}/chat?lang=en` };
}

describe.each(ENDPOINT_STORES)("durable endpoints over node:http (%s)", (_name, open) => {
  it("answers a POST with a JSON body inline, after two steps, and stores the request without its secrets", async () => {
    const { sf, ran, seen, url } = await chat(open);
    const response = await post(url, { question: "life" }, { authorization: "Bearer s3cret" });
    expect(response.status).toBe(201);
    expect(await response.json()).toEqual({ answer: "plan for life: 42" });
    expect(response.headers.get("content-type")).toBe("application/json");
    expect(response.headers.get("etag")).toBe('"a"');
    // Not on the allow-list: a stored response keeps only what describes its body.
    expect(response.headers.get("x-private")).toBeNull();
    expect(ran).toEqual({ plan: 1, answer: 1 });
    // The inline invocation saw the secret header; the store never got it.
    expect(seen).toEqual(["Bearer s3cret"]);
    // Answered before its run was written (write-behind); written within moments.
    const runs = await storedRuns(sf, "chat", 1);
    expect(runs.map((r) => r.status)).toEqual(["succeeded"]);
    const detail = await sf.store.getRun(tenant, runs[0]!.id);
    const input = storedValueCodec.decode(detail!.run.input) as {
      method: string;
      url: string;
      headers: [string, string][];
      body: Uint8Array;
    };
    expect(input.method).toBe("POST");
    expect(input.url).toBe(url);
    expect(new TextDecoder().decode(input.body)).toBe('{"question":"life"}');
    expect(input.headers.map(([name]) => name)).not.toContain("authorization");
    expect(detail!.run.input).not.toContain("s3cret");
    expect(detail!.checkpoints.map((c) => [c.stepId, c.status])).toEqual([
      ["plan", "completed"],
      ["answer", "completed"],
    ]);
  });

  it("hands a failing step off with 202 and a Location that answers the final response, the first step not run again", async () => {
    const { sf, clock, ran, seen, url } = await chat(open, { failAnswer: 1 });
    const handed = await post(url, { question: "life" }, { authorization: "Bearer s3cret" });
    expect(handed.status).toBe(202);
    const location = handed.headers.get("location")!;
    expect(location).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/chat\?lang=en&steadfast_run=run_/);
    expect(Number(handed.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    const runId = new URL(location).searchParams.get("steadfast_run")!;
    expect(await handed.json()).toEqual({ runId, location });
    expect((await sf.store.getRun(tenant, runId))?.run.status).toBe("waiting");
    expect(ran).toEqual({ plan: 1, answer: 1 });

    // The retry backoff (full jitter from 1 s) ends on the fake clock; the engine runs the retry
    // and the GET of the location answers the stored response.
    await clock.advance(1_000);
    const final = await fetch(location);
    expect(final.status).toBe(201);
    expect(await final.json()).toEqual({ answer: "plan for life: 42" });
    expect(final.headers.get("etag")).toBe('"a"');
    expect(ran).toEqual({ plan: 1, answer: 2 });
    // The replay rebuilt the request from the store (its body read again), without the secret.
    expect(seen).toEqual(["Bearer s3cret", null]);
    // Asked again: the same stored response, nothing run.
    const again = await fetch(location);
    expect(await again.json()).toEqual({ answer: "plan for life: 42" });
    expect(ran).toEqual({ plan: 1, answer: 2 });
  });

  it("answers 202 again from the location while the run has not ended (after resultWaitMs)", async () => {
    const { url } = await chat(open, { failAnswer: 1, resultWaitMs: 0 });
    const handed = await post(url, { question: "life" });
    const location = handed.headers.get("location")!;
    const pending = await fetch(location);
    expect(pending.status).toBe(202);
    expect(pending.headers.get("location")).toBe(location);
    expect(Number(pending.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
  });

  it("replays a request with the same Idempotency-Key without running its steps again", async () => {
    const { sf, ran, url } = await chat(open);
    const first = await post(url, { question: "life" }, { "idempotency-key": "k-1" });
    expect(first.status).toBe(201);
    const second = await post(url, { question: "life" }, { "idempotency-key": "k-1" });
    expect(second.status).toBe(201);
    expect(await second.json()).toEqual({ answer: "plan for life: 42" });
    expect(ran).toEqual({ plan: 1, answer: 1 });
    expect((await sf.store.getRun(tenant, "chat:k-1"))?.run.status).toBe("succeeded");
  });

  it("gives a request retried with its key while handed off the same location, then the response", async () => {
    const { clock, ran, url } = await chat(open, { failAnswer: 1 });
    const first = await post(url, { question: "life" }, { "idempotency-key": "k-2" });
    expect(first.status).toBe(202);
    expect(first.headers.get("location")).toBe(`${url}&steadfast_run=chat%3Ak-2`);
    await clock.advance(1_000);
    const retried = await post(url, { question: "life" }, { "idempotency-key": "k-2" });
    expect(retried.status).toBe(201);
    expect(await retried.json()).toEqual({ answer: "plan for life: 42" });
    expect(ran).toEqual({ plan: 1, answer: 2 });
  });

  it("refuses another body with the same Idempotency-Key with 422 problem+json", async () => {
    const { ran, url } = await chat(open);
    expect((await post(url, { question: "life" }, { "idempotency-key": "k-3" })).status).toBe(201);
    const reused = await post(url, { question: "death" }, { "idempotency-key": "k-3" });
    expect(reused.status).toBe(422);
    expect(reused.headers.get("content-type")).toBe("application/problem+json");
    expect(await reused.json()).toMatchObject({
      code: "idempotency_key_reused",
      status: 422,
      runId: "chat:k-3",
    });
    expect(ran).toEqual({ plan: 1, answer: 1 });
  });

  it("takes the same JSON sent again with other spacing or member order for the same request", async () => {
    const { ran, url } = await chat(open);
    const send = (body: string) =>
      fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json", "idempotency-key": "k-4" },
        body,
      });
    expect((await send('{"question":"life","n":1}')).status).toBe(201);
    const again = await send('{ "n": 1.0, "question": "life" }');
    expect(again.status).toBe(201);
    expect(await again.json()).toEqual({ answer: "plan for life: 42" });
    expect(ran).toEqual({ plan: 1, answer: 1 });
  });

  it("without a key, runs each request as a run of its own", async () => {
    const { sf, ran, url } = await chat(open);
    await post(url, { question: "a" });
    await post(url, { question: "a" });
    expect(ran).toEqual({ plan: 2, answer: 2 });
    expect(await storedRuns(sf, "chat", 2)).toHaveLength(2);
  });

  it("holds a request that finds no free slot until the engine has run it", async () => {
    h = await open();
    let release = (): void => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    const order: string[] = [];
    const endpoint = h.sf.endpoint(
      "slow",
      async (req, { step }) => {
        const { n } = (await req.json()) as { n: number };
        await step.run("work", async () => {
          order.push(`start ${n}`);
          if (n === 1) await held;
          return n;
        });
        return Response.json({ n });
      },
      { concurrency: 1 },
    );
    const base = await serveEndpoint(endpoint);
    const first = post(`${base}/slow`, { n: 1 });
    await waitUntil(() => order.length === 1, { what: "the first request's step to start" });
    const second = post(`${base}/slow`, { n: 2 });
    await waitUntil(
      async () =>
        (await h!.sf.store.listRuns({ tenantId: tenant, workflow: "slow", limit: 10 })).length ===
        2,
      { what: "the second request's run to be stored" },
    );
    expect(order).toEqual(["start 1"]);
    release();
    expect(await (await first).json()).toEqual({ n: 1 });
    const answered = await second;
    expect(answered.status).toBe(200);
    expect(await answered.json()).toEqual({ n: 2 });
    expect(order).toEqual(["start 1", "start 2"]);
  });

  it("answers a run that failed with 500 problem+json naming the error, not its message", async () => {
    h = await open();
    const endpoint = h.sf.endpoint("charge", async (req, { step }) => {
      await step.run("charge", () => {
        throw new NonRetriableError("card 4242424242424242 declined for token tok_secret");
      });
      return new Response(await req.text());
    });
    const base = await serveEndpoint(endpoint);
    const response = await post(`${base}/charge`, { amount: 1 });
    expect(response.status).toBe(500);
    expect(response.headers.get("content-type")).toBe("application/problem+json");
    const problem = (await response.json()) as { code: string; detail: string; runId: string };
    expect(problem.code).toBe("run_failed");
    expect(problem.detail).toContain("StepFailedError");
    expect(problem.detail).not.toContain("tok_secret");
    expect(problem.detail).toContain(problem.runId);
  });

  it("answers 404 for a location of a run it does not have (or another endpoint's), and 422 for a malformed key", async () => {
    const { sf, url } = await chat(open);
    const unknown = await fetch(`${url}&steadfast_run=run_nope`);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ code: "not_found" });
    const other = sf.endpoint("other", () => new Response("other's answer"));
    const mine = await other(
      new Request("http://h/other", { headers: { "idempotency-key": "o" } }),
    );
    expect(await mine.text()).toBe("other's answer");
    const foreign = await fetch(`${url}&steadfast_run=other%3Ao`);
    expect(foreign.status).toBe(404);
    const malformed = await post(url, { question: "x" }, { "idempotency-key": '"unterminated' });
    expect(malformed.status).toBe(422);
    expect(await malformed.json()).toMatchObject({ code: "invalid_request" });
  });
});
