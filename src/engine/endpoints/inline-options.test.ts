// Issue 12: how long a durable endpoint keeps its request (`inlineRetries`, `maxInlineMs`), and
// its writes behind it: the request is stored while its first step runs, not after it, and an
// answer given at once is stored whole moments later. SQLite and PostgreSQL.
import { afterEach, describe, expect, it } from "vitest";
import { tenantId } from "../../core/ids.ts";
import { waitUntil } from "../../testing/wait-until.ts";
import type { Harness } from "../engine-harness.test-support.ts";
import type { DurableEndpoint, EndpointOptions } from "./durable-endpoint.ts";
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

const tenant = tenantId("default");

async function serve(endpoint: DurableEndpoint): Promise<string> {
  return `${await serveEndpoint(endpoint)}/quote`;
}

function post(url: string): Promise<Response> {
  return fetch(url, { method: "POST", body: '{"item":"tea"}' });
}

/**
 * A `quote` endpoint of one step that fails its first `failures` attempts (retried after the
 * step's backoff) or, with `hold`, waits on it.
 */
async function quote(
  open: OpenHarness,
  options: EndpointOptions & { failures?: number; hold?: Promise<void> },
) {
  h = await open();
  const { failures = 0, hold, ...endpointOptions } = options;
  const attempts = { count: 0 };
  const endpoint = h.sf.endpoint(
    "quote",
    async (_req, { step }) => {
      const price = await step.run("price", async () => {
        attempts.count++;
        if (hold !== undefined) await hold;
        if (attempts.count <= failures) throw new Error(`pricing down (${attempts.count})`);
        return 42;
      });
      return Response.json({ price });
    },
    endpointOptions,
  );
  return { h, attempts, url: await serve(endpoint) };
}

describe.each(ENDPOINT_STORES)("durable endpoint inline options (%s)", (_name, open) => {
  it("hands off at the first failure by default (inlineRetries 0)", async () => {
    const { attempts, url } = await quote(open, { failures: 1 });
    const response = await post(url);
    expect(response.status).toBe(202);
    expect(attempts.count).toBe(1);
  });

  it("retries a failing step inline inlineRetries times, the request waiting, then answers", async () => {
    const { h, attempts, url } = await quote(open, { failures: 2, inlineRetries: 2 });
    const pending = post(url);
    // The step's backoffs pass on the fake clock (advanced until the third attempt has run: an
    // advance made before the retry's sleep began would be lost on it).
    await waitUntil(
      async () => {
        if (attempts.count < 3) await h.clock.advance(5_000);
        return attempts.count === 3;
      },
      { what: () => `the third attempt (${attempts.count} so far)` },
    );
    const response = await pending;
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ price: 42 });
    expect(attempts.count).toBe(3);
    await waitUntil(
      async () =>
        (await h.sf.store.listRuns({ tenantId: tenant, limit: 5 }))[0]?.status === "succeeded",
      {
        what: "the run to be stored succeeded",
      },
    );
    const [run] = await h.sf.store.listRuns({ tenantId: tenant, limit: 5 });
    const detail = await h.sf.store.getRun(tenant, run!.id);
    expect(detail?.attempts.map((a) => [a.stepId, a.number])).toEqual([
      ["price", 1],
      ["price", 2],
      ["price", 3],
    ]);
    expect(detail?.run.invocations).toBe(1);
  });

  it("hands off once its inline retries are spent", async () => {
    const { h, attempts, url } = await quote(open, { failures: 2, inlineRetries: 1 });
    let answered: Response | undefined;
    void post(url).then((response) => (answered = response));
    await waitUntil(
      async () => {
        if (answered === undefined) await h.clock.advance(5_000);
        return answered !== undefined;
      },
      { what: () => `the answer (${attempts.count} attempts so far)` },
    );
    expect(answered!.status).toBe(202);
    // Two here; the engine may have run the third already, the clock having gone on.
    expect(attempts.count).toBeGreaterThanOrEqual(2);
  });

  it("answers 202 after maxInlineMs while the run goes on here, and the location answers its response", async () => {
    let release = (): void => {};
    const hold = new Promise<void>((resolve) => (release = resolve));
    const { h, attempts, url } = await quote(open, { hold, maxInlineMs: 2_000 });
    const pending = post(url);
    await waitUntil(() => attempts.count === 1, { what: "the step to start" });
    // The request is stored while its first step runs (written behind it, not after it).
    await waitUntil(
      async () =>
        (await h.sf.store.listRuns({ tenantId: tenant, limit: 5 }))[0]?.status === "running",
      { what: "the run to be stored running" },
    );
    await h.clock.advance(2_000);
    const response = await pending;
    expect(response.status).toBe(202);
    const location = response.headers.get("location")!;
    expect(location).toContain("steadfast_run=");
    release();
    const final = await fetch(location);
    expect(final.status).toBe(200);
    expect(await final.json()).toEqual({ price: 42 });
    expect(attempts.count).toBe(1);
  });
});

describe("durable endpoint options", () => {
  it("refuses an option that is not an integer >= 0, naming it", async () => {
    h = await ENDPOINT_STORES[0]![1]();
    const handler = () => new Response("ok");
    expect(() => h!.sf.endpoint("a", handler, { inlineRetries: -1 })).toThrow(
      /"a": inlineRetries must be an integer >= 0, got -1/,
    );
    expect(() => h!.sf.endpoint("b", handler, { maxInlineMs: 1.5 })).toThrow(/maxInlineMs/);
  });
});
