import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildFetchRequest } from "../cli/fetch-command.ts";
import { createClient } from "../client/client.ts";
import { appHarness, KEY_ACME, type AppHarness } from "../server/app-harness.test-support.ts";
import { InvalidOptionError, isSteadfastError } from "./errors.ts";
import { tenantId } from "./ids.ts";
import {
  idempotencyKeyProblem,
  parseIdempotencyKeyHeader,
  readIdempotencyKeyHeader,
} from "./idempotency-key.ts";

describe("idempotencyKeyProblem", () => {
  it.each([["order-42"], ["k".repeat(255)], ["clé-42 (Latin-1)"], ["a b\tc"], ['"quoted"']])(
    "accepts %j",
    (key) => {
      expect(idempotencyKeyProblem(key)).toBeUndefined();
    },
  );

  it.each([
    ["", /is empty/],
    ["k".repeat(256), /is 256 characters; use at most 255/],
    ["   ", /only whitespace/],
    [" order-42", /begins or ends with a space or tab/],
    ["order-42\t", /begins or ends with a space or tab/],
    ["order\n42", /a line feed \(LF\)/],
    ["€uro", /outside Latin-1/],
  ])("refuses %j, never quoting it", (key, message) => {
    const problem = idempotencyKeyProblem(key);
    expect(problem).toMatch(message);
    if (key.trim() !== "") expect(problem).not.toContain(key.trim());
  });
});

describe("parseIdempotencyKeyHeader", () => {
  it.each([
    [undefined, undefined],
    ["order-42", "order-42"],
    ["  spaced  ", "spaced"],
    ['"quoted"', "quoted"],
    ['"with \\"escapes\\" \\\\ inside"', 'with "escapes" \\ inside'],
  ])("%j -> %j", (header, expected) => {
    expect(parseIdempotencyKeyHeader(header)).toBe(expected);
  });

  it.each([[""], ['""'], ['"unterminated'], ['"bad \\n escape"'], [`"${"k".repeat(256)}"`]])(
    "refuses %j naming the header",
    (header) => {
      let error: unknown;
      try {
        parseIdempotencyKeyHeader(header);
      } catch (caught) {
        error = caught;
      }
      expect(
        isSteadfastError(error) &&
          error.code === "invalid_request" &&
          error.issues[0]?.field === "Idempotency-Key",
      ).toBe(true);
    },
  );
});

describe("readIdempotencyKeyHeader (draft-ietf-httpapi-idempotency-key-header-06)", () => {
  it.each([
    [null, { kind: "absent" }],
    [
      '"8e03978e-40d5-43e8-bc93-6894a57f9324"',
      { kind: "key", key: "8e03978e-40d5-43e8-bc93-6894a57f9324" },
    ],
    ['  "k-1"  ', { kind: "key", key: "k-1" }],
    // RFC 8941 section 4.2: an Item's parameters are parsed and ignored (the draft defines none).
    ['"k-1";v=1', { kind: "key", key: "k-1" }],
    [
      '"k-1"; a; b=?0; c=tok/en:x; d=-1.5; e=:aGk=:; f="s"; g=@1700000000',
      { kind: "key", key: "k-1" },
    ],
    ['"a\\"b"', { kind: "key", key: 'a"b' }],
    ["k-1", { kind: "key", key: "k-1" }],
  ])("%j -> %j", (header, expected) => {
    expect(readIdempotencyKeyHeader(header)).toEqual(expected);
  });

  it.each([
    ['"a", "b"', /not a valid quoted string/], // a list: two keys
    ['"k-1";V=1', /not a valid quoted string/], // parameter keys are lower case
    ['"k-1";v=', /not a valid quoted string/],
    ['"k-1" x', /not a valid quoted string/],
    ['"clé"', /not a valid quoted string/], // sf-string is ASCII
    ['"\\t"', /not a valid quoted string/], // only \" and \\ escapes
    ['" k"', /begins or ends with a space/],
  ])("refuses %j", (header, problem) => {
    const reading = readIdempotencyKeyHeader(header);
    expect(reading.kind === "invalid" && reading.problem).toMatch(problem);
  });

  it("holds clients to the quoted form with bareKeys: false", () => {
    expect(readIdempotencyKeyHeader('"k-1"', { bareKeys: false })).toEqual({
      kind: "key",
      key: "k-1",
    });
    const bare = readIdempotencyKeyHeader("k-1", { bareKeys: false });
    expect(bare.kind === "invalid" && bare.problem).toMatch(/must be a quoted string/);
  });

  it("applies a configured key rule to the unquoted key", () => {
    const uuid = (key: string): string | undefined =>
      /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(key)
        ? undefined
        : "must be a UUID";
    expect(readIdempotencyKeyHeader('"k-1"', { keyProblem: uuid })).toEqual({
      kind: "invalid",
      problem: "must be a UUID",
    });
    const key = "8e03978e-40d5-43e8-bc93-6894a57f9324";
    expect(readIdempotencyKeyHeader(key, { keyProblem: uuid })).toEqual({ kind: "key", key });
  });
});

/**
 * Every entry point applies the one rule (issue 10): the HTTP API (a header), the in-process API,
 * the REST client and the CLI accept and refuse the same keys.
 */
describe("every entry point agrees on Idempotency-Key", () => {
  let h: AppHarness;
  beforeAll(async () => {
    h = await appHarness();
  });
  afterAll(async () => {
    await h.close();
  });
  const input = { url: "https://api.example.com/orders", method: "POST" };
  // `http`: whether an HTTP header can carry the key as it is (no control character, nothing
  // outside Latin-1, no space at either end: HTTP drops those).
  const keys: [label: string, key: string, valid: boolean, http: boolean][] = [
    ["order-42", "order-42", true, true],
    ["255 characters", "k".repeat(255), true, true],
    ["256 characters", "k".repeat(256), false, true],
    ["Latin-1", "clé-42", true, true],
    ["empty", "", false, false],
    ["whitespace only", "   ", false, false],
    ["a leading space", " order-42", false, false],
    ["a line feed", "order\n42", false, false],
    ["outside Latin-1", "€uro", false, false],
  ];

  it.each(keys)("%s: the same verdict everywhere", async (_label, key, valid, http) => {
    const inProcess = await h.calls.submit(tenantId("acme"), input, { idempotencyKey: key }).then(
      () => true,
      (error: unknown) => {
        if (isSteadfastError(error) && error.code === "invalid_request") return false;
        throw error;
      },
    );
    let cli = true;
    try {
      buildFetchRequest(input.url, { idempotencyKey: key }, () => "");
    } catch {
      cli = false;
    }
    const client = createClient({
      baseUrl: "http://steadfast.test",
      apiKey: KEY_ACME,
      // The client calls fetch with a URL string: handed to the app in process.
      fetch: (url, init) => Promise.resolve(h.app.request(url as string, init)),
    });
    const viaClient = await client.fetch(input, { idempotencyKey: key }).then(
      () => true,
      (error: unknown) => {
        if (error instanceof InvalidOptionError) return false;
        throw error;
      },
    );
    expect({ inProcess, cli, client: viaClient }).toEqual({
      inProcess: valid,
      cli: valid,
      client: valid,
    });
    if (http) {
      const res = await h.submit(input, { "idempotency-key": key });
      expect(res.status).toBe(valid ? 202 : 422);
    }
  });
});
