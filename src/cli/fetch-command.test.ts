import { describe, expect, it } from "vitest";
import { buildFetchRequest, DEFAULT_WAIT_SECONDS } from "./fetch-command.ts";

const files: Record<string, string> = { "body.json": '{"sku":"A-1"}', "note.txt": "plain text\n" };
const readFile = (path: string): string => {
  const text = files[path];
  if (text === undefined) throw Object.assign(new Error(`ENOENT: ${path}`), { code: "ENOENT" });
  return text;
};

describe("buildFetchRequest", () => {
  it("sends a bare URL as a GET with server defaults", () => {
    expect(buildFetchRequest("https://api.example.com/x", {}, readFile)).toEqual({
      input: { url: "https://api.example.com/x" },
    });
  });

  it("defaults to POST with -d and sends a JSON body as JSON", () => {
    const { input } = buildFetchRequest("https://x", { data: '{"a":[1,2]}' }, readFile);
    expect(input).toEqual({ url: "https://x", method: "POST", body: { a: [1, 2] } });
  });

  it("sends a body that is not JSON as text", () => {
    expect(buildFetchRequest("https://x", { data: "a=1&b=2" }, readFile).input.body).toBe(
      "a=1&b=2",
    );
  });

  it("keeps the body as text when a non-JSON Content-Type is given", () => {
    const { input } = buildFetchRequest(
      "https://x",
      { data: '{"a":1}', header: ["Content-Type: text/plain"] },
      readFile,
    );
    expect(input.body).toBe('{"a":1}');
    expect(input.headers).toEqual({ "Content-Type": "text/plain" });
  });

  it("reads -d @file", () => {
    expect(buildFetchRequest("https://x", { data: "@body.json" }, readFile).input.body).toEqual({
      sku: "A-1",
    });
    expect(buildFetchRequest("https://x", { data: "@note.txt" }, readFile).input.body).toBe(
      "plain text\n",
    );
    expect(() => buildFetchRequest("https://x", { data: "@missing.json" }, readFile)).toThrow(
      "-d @missing.json: cannot read the file (ENOENT); check the path",
    );
    expect(() => buildFetchRequest("https://x", { data: "@" }, readFile)).toThrow(
      "-d @ needs a file name",
    );
  });

  it("maps -X, -H, --retries, --idempotency-key and --wait", () => {
    expect(
      buildFetchRequest(
        "https://x",
        {
          request: "put",
          header: ["X-Team: core", "Accept:application/json", "X-Empty:"],
          retries: "3",
          idempotencyKey: "order-42",
          wait: "10",
        },
        readFile,
      ),
    ).toEqual({
      input: {
        url: "https://x",
        method: "PUT",
        headers: { "X-Team": "core", Accept: "application/json", "X-Empty": "" },
        retry: { maxAttempts: 4 },
      },
      idempotencyKey: "order-42",
      waitSeconds: 10,
    });
    expect(buildFetchRequest("https://x", { retries: "0" }, readFile).input.retry).toEqual({
      maxAttempts: 1,
    });
    expect(buildFetchRequest("https://x", { wait: true }, readFile).waitSeconds).toBe(
      DEFAULT_WAIT_SECONDS,
    );
  });

  it.each([
    [{ header: ["NoColon"] }, `-H "NoColon" is not valid: expected 'Name: value'`],
    [{ header: ["Bad Name: v"] }, `-H "Bad Name: v" is not valid`],
    [{ header: ["Authorization Bearer SECRET1"] }, `-H "Authorization [redacted]" is not valid`],
    [{ request: "GET /" }, `-X "GET /" is not valid: must be an HTTP method such as GET`],
    [{ request: "connect" }, `-X "connect" is not valid: CONNECT opens a tunnel`],
    [{ retries: "-1" }, `--retries "-1" is not valid: expected a whole number from 0 to 99`],
    [{ retries: "100" }, `--retries "100" is not valid`],
    [{ wait: "soon" }, `--wait "soon" is not valid: expected a whole number from 0 to 3600`],
    [{ idempotencyKey: "" }, "--idempotency-key is empty"],
  ] as [Parameters<typeof buildFetchRequest>[1], string][])("rejects %o", (flags, expected) => {
    expect(() => buildFetchRequest("https://x", flags, readFile)).toThrow(expected);
  });
});
