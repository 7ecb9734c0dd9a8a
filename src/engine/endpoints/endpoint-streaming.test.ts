// Issue 12, "Streaming": a ReadableStream response body passes through on the happy path (the
// client reads a chunk before the handler's stream has ended), the run stores the whole body when
// it ends, over `maxResponseBytes` the run fails with the named error (the client still gets its
// stream), a replay reads the body whole under the same cap, a complete body is answered with
// its Content-Length, and a client that goes away mid-stream leaves the run to store it all.
import type { Server } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import type { EndpointResponse } from "../../core/endpoint/endpoint-exchange.ts";
import { tenantId } from "../../core/ids.ts";
import type { RunRecord } from "../../core/run-log.ts";
import { waitUntil } from "../../testing/wait-until.ts";
import type { Harness } from "../engine-harness.test-support.ts";
import { storedValueCodec } from "../workflows/stored-value-codec.ts";
import type { EndpointHandler, EndpointOptions } from "./durable-endpoint.ts";
import {
  closeEndpointBed,
  ENDPOINT_STORES,
  serveEndpointServer,
} from "./endpoint-bed.test-support.ts";

let h: Harness | undefined;
let server: Server | undefined;
afterEach(async () => {
  h = undefined;
  server = undefined;
  await closeEndpointBed();
});

const tenant = tenantId("default");
const encoder = new TextEncoder();
const text = (bytes: Uint8Array | undefined) => new TextDecoder().decode(bytes);

/** A stream whose first chunk is there at once and whose rest the test writes (`controller`). */
function heldStream(first: string): {
  stream: ReadableStream<Uint8Array>;
  controller: () => ReadableStreamDefaultController<Uint8Array>;
} {
  let held: ReadableStreamDefaultController<Uint8Array> | undefined;
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(encoder.encode(first));
      held = controller;
    },
  });
  return { stream, controller: () => held! };
}

/** Serves endpoint `name` of `handler` over node:http on 127.0.0.1, port 0; its URL. */
async function serve(name: string, handler: EndpointHandler, options: EndpointOptions = {}) {
  h = await ENDPOINT_STORES[0]![1]();
  const served = await serveEndpointServer(h.sf.endpoint(name, handler, options));
  server = served.server;
  return `${served.base}/${name}`;
}

function post(url: string, key: string): Promise<Response> {
  return fetch(url, { method: "POST", headers: { "idempotency-key": key }, body: "{}" });
}

/** The run `runId` once it has ended. */
async function ended(runId: string): Promise<RunRecord> {
  let run: RunRecord | undefined;
  await waitUntil(
    async () => {
      run = (await h!.sf.store.getRun(tenant, runId))?.run;
      return run?.status === "succeeded" || run?.status === "failed";
    },
    { what: `run ${runId} to end` },
  );
  return run!;
}

function storedOutput(run: RunRecord): EndpointResponse {
  return storedValueCodec.decode(run.output ?? "") as EndpointResponse;
}

describe("durable endpoint responses", () => {
  it("streams the handler's body to the client as it is produced, and stores the whole of it when it ends", async () => {
    const held = heldStream("first ");
    const url = await serve("stream", async (_req, { step }) => {
      const plan = await step.run("plan", () => "planned");
      return new Response(held.stream, {
        status: 201,
        headers: { "content-type": "text/plain", "x-private": "no", etag: `"${plan}"` },
      });
    });
    const response = await post(url, "s-1");
    expect(response.status).toBe(201);
    expect(response.headers.get("content-type")).toBe("text/plain");
    expect(response.headers.get("etag")).toBe('"planned"');
    expect(response.headers.get("x-private")).toBeNull();
    expect(response.headers.get("transfer-encoding")).toBe("chunked");
    const reader = response.body!.getReader();
    // The first chunk reaches the client while the handler's stream is still open.
    expect(text((await reader.read()).value)).toBe("first ");
    expect((await h!.sf.store.getRun(tenant, "stream:s-1"))?.run.status).toBe("running");
    held.controller().enqueue(encoder.encode("second"));
    held.controller().close();
    let rest = "";
    for (let read = await reader.read(); !read.done; read = await reader.read()) {
      rest += text(read.value);
    }
    expect(rest).toBe("second");

    const run = await ended("stream:s-1");
    expect(run.status).toBe("succeeded");
    const stored = storedOutput(run);
    expect(stored.status).toBe(201);
    expect(text(stored.body)).toBe("first second");
    expect(stored.headers).toEqual([
      ["content-type", "text/plain"],
      ["etag", '"planned"'],
    ]);
    // A retry with the key answers the stored response, whole, with its length.
    const again = await post(url, "s-1");
    expect(again.headers.get("content-length")).toBe("12");
    expect(await again.text()).toBe("first second");
  });

  it("answers a complete body in one write with its Content-Length, not chunked", async () => {
    const url = await serve("buffered", () => Response.json({ answer: 42 }, { status: 201 }));
    const response = await post(url, "b-1");
    expect(response.status).toBe(201);
    expect(response.headers.get("content-length")).toBe(String('{"answer":42}'.length));
    expect(response.headers.get("transfer-encoding")).toBeNull();
    expect(await response.json()).toEqual({ answer: 42 });
    expect(text(storedOutput(await ended("buffered:b-1")).body)).toBe('{"answer":42}');
  });

  it("over maxResponseBytes: the client still gets its whole stream, the run fails naming the option", async () => {
    const held = heldStream("0123456789");
    const url = await serve("big", () => new Response(held.stream), { maxResponseBytes: 10 });
    const response = await post(url, "c-1");
    expect(response.status).toBe(200);
    const reader = response.body!.getReader();
    expect(text((await reader.read()).value)).toBe("0123456789");
    held.controller().enqueue(encoder.encode("abcdef"));
    const run = await ended("big:c-1");
    expect(run.status).toBe("failed");
    expect(run.error).toMatchObject({ name: "ResponseTooLargeError", code: "response_too_large" });
    expect(run.error?.message).toContain("maxResponseBytes");
    // The run has failed; the client reads on to the end of the handler's stream.
    held.controller().enqueue(encoder.encode("ghij"));
    held.controller().close();
    let rest = "";
    for (let read = await reader.read(); !read.done; read = await reader.read()) {
      rest += text(read.value);
    }
    expect(rest).toBe("abcdefghij");
    const location = await fetch(`${url}?steadfast_run=big%3Ac-1`);
    expect(location.status).toBe(500);
    expect(await location.json()).toMatchObject({
      code: "run_failed",
      detail: expect.stringContaining("maxResponseBytes") as unknown,
    });
  });

  it("on a replay after a handoff reads the body whole under maxResponseBytes; over it the location answers the problem", async () => {
    const failed = new Set<number>();
    const url = await serve(
      "replayed",
      async (req, { step }) => {
        const size = Number(new URL(req.url).searchParams.get("size"));
        await step.run("answer", () => {
          if (failed.has(size)) return "ok";
          failed.add(size);
          throw new Error("llm down");
        });
        // A body produced a chunk at a time, each a turn later (not complete when returned).
        let sent = 0;
        const body = new ReadableStream<Uint8Array>(
          {
            async pull(controller) {
              await Promise.resolve();
              if (sent >= size) controller.close();
              else controller.enqueue(encoder.encode("abcd"));
              sent += 4;
            },
          },
          { highWaterMark: 0 },
        );
        return new Response(body, { headers: { "content-type": "text/plain" } });
      },
      { maxResponseBytes: 16 },
    );
    const fits = await post(`${url}?size=16`, "r-1");
    expect(fits.status).toBe(202);
    const over = await post(`${url}?size=20`, "r-2");
    expect(over.status).toBe(202);
    await h!.clock.advance(1_000);

    const stored = await fetch(fits.headers.get("location")!);
    expect(stored.status).toBe(200);
    expect(stored.headers.get("content-length")).toBe("16");
    expect(await stored.text()).toBe("abcd".repeat(4));
    const problem = await fetch(over.headers.get("location")!);
    expect(problem.status).toBe(500);
    expect(problem.headers.get("content-type")).toBe("application/problem+json");
    expect(await problem.json()).toMatchObject({
      code: "run_failed",
      runId: "replayed:r-2",
      detail: expect.stringContaining("maxResponseBytes") as unknown,
    });
    expect((await ended("replayed:r-2")).error?.code).toBe("response_too_large");
  });

  it("cuts the client's answer when the handler's stream fails mid-way, and fails the run", async () => {
    const held = heldStream("partial ");
    const url = await serve("cut", () => new Response(held.stream));
    const response = await post(url, "x-1");
    const reader = response.body!.getReader();
    expect(text((await reader.read()).value)).toBe("partial ");
    held.controller().error(new Error("llm connection reset"));
    // Not a clean end: the client cannot take the partial body for the whole answer.
    await expect(reader.read()).rejects.toThrow();
    const run = await ended("cut:x-1");
    expect(run.status).toBe("failed");
    expect(run.error?.message).toBe("llm connection reset");
  });

  it("stores the whole body when the client goes away mid-stream, and goes on serving", async () => {
    const held = heldStream("one ");
    const url = await serve("gone", () => new Response(held.stream));
    let closed = 0;
    server!.on("request", (_incoming, outgoing: { once(event: "close", f: () => void): void }) => {
      outgoing.once("close", () => closed++);
    });
    const abort = new AbortController();
    const response = await fetch(url, {
      method: "POST",
      headers: { "idempotency-key": "g-1" },
      body: "{}",
      signal: abort.signal,
    });
    const reader = response.body!.getReader();
    expect(text((await reader.read()).value)).toBe("one ");
    abort.abort();
    await waitUntil(() => closed === 1, { what: "the server to see the client go" });
    held.controller().enqueue(encoder.encode("two"));
    held.controller().close();
    const run = await ended("gone:g-1");
    expect(run.status).toBe("succeeded");
    expect(text(storedOutput(run).body)).toBe("one two");
    // Nothing broke: the location answers the whole stored response.
    const stored = await fetch(`${url}?steadfast_run=gone%3Ag-1`);
    expect(await stored.text()).toBe("one two");
  });
});
