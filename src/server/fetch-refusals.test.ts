/**
 * `POST /v1/fetch` over real HTTP refuses at the door what could never be sent, and what nests
 * too deeply to handle (issue 10, items 2 and 7): `422` problem+json naming the field, never a
 * `202` followed by failures on every attempt, never a `500`.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_JSON_DEPTH } from "../core/json-depth.ts";
import { expectProblem } from "./app-harness.test-support.ts";
import { CallViewSchema } from "./schemas.ts";
import { startServer, type RunningServer } from "./start-server.ts";

const KEY = "acme_key_0123456789abcdef";
const URL_OK = "https://api.example.com/v1/orders";

let dir: string;
let server: RunningServer;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "steadfast-refusals-"));
  server = await startServer(
    {
      port: 0,
      host: "127.0.0.1",
      db: `sqlite:${join(dir, "steadfast.db")}`,
      dataDir: join(dir, "data"),
      apiKeys: `acme:${KEY}`,
      allowPrivateNetworks: false,
      allowedCidrs: [],
      concurrency: 4,
      maxBodyBytes: 1_048_576,
      logLevel: "silent",
      // Nothing is sent: these tests are about what the door accepts.
      startEngine: false,
    },
    { logger: pino({ level: "silent" }), print: () => undefined },
  );
});
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

/** POST /v1/fetch with `text` as the body, as a client would send it. */
function post(text: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${server.url}/v1/fetch`, {
    method: "POST",
    headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json", ...headers },
    body: text,
  });
}

/** `{"url": ..., "body": [[[...]]]}` with the body nested `levels` deep, as text. */
function nestedBody(levels: number, field = "body"): string {
  return `{"url":"${URL_OK}","${field}":${"[".repeat(levels)}${"]".repeat(levels)}}`;
}

async function expectAccepted(response: Response): Promise<void> {
  const text = await response.text();
  expect([response.status, text]).toEqual([202, expect.any(String)]);
  CallViewSchema.parse(JSON.parse(text));
}

describe("POST /v1/fetch refuses requests our HTTP client could never send", () => {
  it.each([
    ["a NUL", "\0", "a NUL character, U+0000, at position 0"],
    ["a CR", "a\rb", "a carriage return (CR), U+000D, at position 1"],
    ["a LF", "a\nb", "a line feed (LF), U+000A, at position 1"],
    ["a DEL", "a\x7f", "a DEL character, U+007F, at position 1"],
    ["a control character", "\x07", "a control character (U+0007) at position 0"],
    ["a character outside Latin-1", "\u2603", "a character outside Latin-1 (U+2603) at position 0"],
  ])("a header value with %s: 422 naming the header", async (_what, value, found) => {
    const response = await post(JSON.stringify({ url: URL_OK, headers: { "X-Bad": value } }));
    const problem = await expectProblem(response, 422, "invalid_request");
    expect(problem.errors).toEqual([
      {
        field: "headers.X-Bad",
        message: `contains ${found}; a header value may hold only visible ASCII, spaces, tabs and Latin-1 characters (encode other text, for example as percent-encoding or base64)`,
      },
    ]);
  });

  it("a whitespace-only header value: 422", async () => {
    const response = await post(JSON.stringify({ url: URL_OK, headers: { "X-Blank": " \t " } }));
    const problem = await expectProblem(response, 422, "invalid_request");
    expect(problem.errors).toEqual([
      {
        field: "headers.X-Blank",
        message:
          'is only whitespace, which the receiver reads as an empty value; send "" or remove the header',
      },
    ]);
  });

  it.each([
    ["Expect", "100-continue", "is not supported by Steadfast's HTTP client"],
    ["Host", "internal.example", "comes from the url"],
    ["Content-Length", "5", "is computed from the body"],
    ["Transfer-Encoding", "chunked", "is chosen by Steadfast's HTTP client"],
    ["Connection", "close", "is a hop-by-hop header"],
    ["Upgrade", "websocket", "is a hop-by-hop header"],
  ])("the header %s: 422 saying why", async (name, value, why) => {
    const response = await post(JSON.stringify({ url: URL_OK, headers: { [name]: value } }));
    const problem = await expectProblem(response, 422, "invalid_request");
    expect(problem.errors).toEqual([
      { field: `headers.${name}`, message: expect.stringContaining(why) as string },
    ]);
  });

  it("method CONNECT, in any case: 422", async () => {
    for (const method of ["CONNECT", "Connect"]) {
      const response = await post(JSON.stringify({ url: URL_OK, method }));
      const problem = await expectProblem(response, 422, "invalid_request");
      expect(problem.errors).toEqual([
        {
          field: "method",
          message: "CONNECT opens a tunnel, which a durable call cannot make; use another method",
        },
      ]);
    }
  });

  it("timeouts under 100 ms: 422 naming each", async () => {
    const response = await post(
      JSON.stringify({ url: URL_OK, timeout: { connectMs: 1, totalMs: 1 } }),
    );
    const problem = await expectProblem(response, 422, "invalid_request");
    expect(problem.errors?.map((e) => e.field)).toEqual(["timeout.connectMs", "timeout.totalMs"]);
  });

  it("accepts what can be sent: Latin-1, tabs inside, an empty value, 100 ms timeouts", async () => {
    await expectAccepted(
      await post(
        JSON.stringify({
          url: URL_OK,
          method: "patch",
          headers: { "X-Name": "Jos\u00e9\tGarc\u00eda", "X-Empty": "", Accept: "*/*" },
          timeout: { connectMs: 100, readMs: 100, totalMs: 100 },
        }),
      ),
    );
  });
});

describe("POST /v1/fetch limits how deeply a request nests", () => {
  const limit = MAX_JSON_DEPTH;

  it.each([
    ["without", {}],
    ["with", { "idempotency-key": "deep-ok" }],
  ])(`accepts a body nested ${limit} levels, %s an Idempotency-Key`, async (_with, headers) => {
    await expectAccepted(await post(nestedBody(limit), headers));
    await expectAccepted(await post(nestedBody(limit - 1), {}));
  });

  it.each([
    ["without", {}],
    ["with", { "idempotency-key": "deep-1" }],
  ])(
    `refuses ${limit + 1} and 100,000 levels %s an Idempotency-Key: 422 naming the field and the limit`,
    async (_with, headers) => {
      for (const levels of [limit + 1, 2_000, 5_000, 100_000]) {
        const response = await post(nestedBody(levels), headers);
        const problem = await expectProblem(response, 422, "invalid_request");
        expect(problem.errors).toEqual([
          {
            field: "body",
            message: `nests arrays and objects deeper than ${limit} levels, the limit; flatten it, or send it as a string`,
          },
        ]);
      }
    },
  );

  it("refuses deep nesting in any other field, 100,000 levels included", async () => {
    for (const field of ["headers", "retry", "timeout", "callback", "extra"]) {
      const response = await post(nestedBody(100_000, field), { "idempotency-key": `k-${field}` });
      const problem = await expectProblem(response, 422, "invalid_request");
      expect(problem.errors?.map((e) => e.field)).toEqual([field]);
    }
  });

  it("still serves after the deepest request the body limit allows", async () => {
    // 1 MiB of brackets around a body: about half a million levels.
    const levels = Math.floor((1_048_576 - 100) / 2);
    const response = await post(nestedBody(levels), { "idempotency-key": "deepest" });
    await expectProblem(response, 422, "invalid_request");
    await expectAccepted(await post(JSON.stringify({ url: URL_OK })));
  });
});
