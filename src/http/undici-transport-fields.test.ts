/**
 * What the door accepts, the transport can send (issue 10, item 2): every request that passes
 * `parseFetchInput` and `toCallSpec` goes through `UndiciTransport` to a real loopback upstream
 * and gets an answer, never our client's refusal; and what our client refuses comes back as
 * `invalid_request`, unsent.
 */
import fc from "fast-check";
import type { IncomingHttpHeaders } from "node:http";
import { describe, expect, it } from "vitest";
import { isSteadfastError } from "../core/errors.ts";
import { parseFetchInput, toCallSpec } from "../core/fetch-input.ts";
import { REFUSED_HEADERS } from "../core/http-fields.ts";
import type { CallSpec } from "../core/call.ts";
import { FakeClock } from "../testing/fake-clock.ts";
import { createDestinationGuard } from "./destination-guard.ts";
import { closeAfterEach, ROOMY, startHttpUpstream } from "./loopback-upstream.test-support.ts";
import { UndiciTransport } from "./undici-transport.ts";

const closing = closeAfterEach();

interface Seen {
  method: string;
  headers: IncomingHttpHeaders;
  bodyBytes: number;
}

async function setUp(): Promise<{ sender: UndiciTransport; origin: string; last: () => Seen }> {
  let seen: Seen | undefined;
  const upstream = closing.upstream(
    await startHttpUpstream((request, response) => {
      let bodyBytes = 0;
      request.on("data", (chunk: Buffer) => (bodyBytes += chunk.length));
      request.on("end", () => {
        seen = { method: request.method ?? "", headers: request.headers, bodyBytes };
        response.end("ok");
      });
    }),
  );
  const sender = closing.transport(
    new UndiciTransport({
      clock: new FakeClock(0),
      guard: createDestinationGuard({ allowPrivateNetworks: true }),
    }),
  );
  return {
    sender,
    origin: upstream.origin,
    last: () => {
      if (seen === undefined) throw new Error("the upstream saw no request");
      return seen;
    },
  };
}

/** The spec the door stores for `input`, or `undefined` when the door refuses it. */
function accepted(input: unknown): CallSpec | undefined {
  try {
    return toCallSpec(parseFetchInput(input));
  } catch (error) {
    if (isSteadfastError(error) && error.code === "invalid_request") return undefined;
    throw error;
  }
}

const latin1 = (from: number, to: number) =>
  fc.integer({ min: from, max: to }).map((code) => String.fromCharCode(code));

/** Header value characters: mostly sendable ones, with every kind of refused one now and then. */
const valueCharacter = fc.oneof(
  { weight: 30, arbitrary: latin1(0x20, 0x7e) },
  { weight: 5, arbitrary: latin1(0x80, 0xff) },
  { weight: 4, arbitrary: fc.constantFrom(" ", "\t") },
  { weight: 1, arbitrary: latin1(0x00, 0x1f) },
  { weight: 1, arbitrary: fc.constant("\x7f") },
  { weight: 1, arbitrary: latin1(0x100, 0xd7ff) },
  { weight: 1, arbitrary: fc.constantFrom("\u{1F600}", "\u2028", "\ufeff") },
);

const headerName = fc.oneof(
  { weight: 10, arbitrary: fc.stringMatching(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,24}$/) },
  { weight: 1, arbitrary: fc.constantFrom(...REFUSED_HEADERS.keys(), "Expect", "HOST") },
  { weight: 1, arbitrary: fc.constantFrom("Content-Type", "Accept", "Idempotency-Key") },
);

const method = fc.oneof(
  fc.constantFrom("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE"),
  fc.constantFrom("CONNECT", "connect", "get", "Post"),
  fc.stringMatching(/^[A-Za-z]{1,16}$/),
);

const fetchInput = fc.record(
  {
    method,
    headers: fc.dictionary(headerName, fc.string({ unit: valueCharacter, maxLength: 48 }), {
      maxKeys: 6,
    }),
    body: fc.oneof(fc.string({ maxLength: 200 }), fc.jsonValue({ maxDepth: 6 })),
  },
  { requiredKeys: [] },
);

/** What Node's HTTP parser makes of a value we send: optional whitespace around it is dropped. */
function received(value: string): string {
  return value.replace(/^[ \t]+|[ \t]+$/g, "");
}

describe("UndiciTransport sends whatever the door accepts", () => {
  it("answers every accepted request with a response, carrying its headers as given", async () => {
    const { sender, origin, last } = await setUp();
    let sent = 0;
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(fetchInput, async (input) => {
        const spec = accepted({ url: `${origin}/echo`, ...input });
        if (spec === undefined) {
          refused++;
          return;
        }
        sent++;
        const { request } = spec;
        const headers = { ...request.headers, "idempotency-key": "fixed-key" };
        const result = await sender.send(
          {
            url: request.url,
            method: request.method,
            headers,
            ...(request.body === undefined ? {} : { body: request.body }),
          },
          ROOMY,
        );
        if (result.type !== "response")
          throw new Error(`${request.method} ${JSON.stringify(headers)} failed: ${result.message}`);
        // Node's parser answers 400 to methods it does not know; the others reach the handler.
        if (result.status !== 200) return;
        const seen = last();
        expect(seen.method).toBe(request.method);
        for (const [name, value] of Object.entries(headers))
          expect([name, seen.headers[name]]).toEqual([name, received(value)]);
        expect(seen.bodyBytes).toBe(Buffer.byteLength(request.body ?? ""));
      }),
      { numRuns: 300, seed: 10 },
    );
    // The generators exercise both sides of the door.
    expect(sent).toBeGreaterThan(50);
    expect(refused).toBeGreaterThan(50);
  });

  it("reports a request our client refuses as invalid_request, unsent, without connecting", async () => {
    const { sender, origin } = await setUp();
    for (const [headers, method] of [
      [{ "x-bad": "\0" }, "GET"],
      [{ "x-bad": "a\r\nInjected: 1" }, "GET"],
      [{ expect: "100-continue" }, "POST"],
      [{}, "CONNECT"],
    ] as const) {
      const result = await sender.send({ url: `${origin}/x`, method, headers }, ROOMY);
      expect(result).toMatchObject({ type: "error", code: "invalid_request", sent: false });
    }
  });
});
