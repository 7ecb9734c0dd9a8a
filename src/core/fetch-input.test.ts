import { describe, expect, it } from "vitest";
import { isSteadfastError } from "./errors.ts";
import { MIN_TIMEOUT_MS, parseFetchInput, toCallSpec } from "./fetch-input.ts";
import { MAX_JSON_DEPTH } from "./json-depth.ts";

function problemsOf(fn: () => unknown): { field: string; message: string }[] {
  try {
    fn();
  } catch (error) {
    if (isSteadfastError(error) && error.code === "invalid_request") return [...error.issues];
    throw error;
  }
  throw new Error("expected a validation error");
}

function issuesOf(fn: () => unknown): string[] {
  return problemsOf(fn).map((i) => i.field);
}

/** What submit runs on an input: validation, then the stored spec. */
const accept = (input: unknown) => toCallSpec(parseFetchInput(input));

/** `levels` arrays nested in one another, built without recursion. */
function nested(levels: number): unknown {
  let value: unknown = [];
  for (let i = 1; i < levels; i++) value = [value];
  return value;
}

describe("fetch input", () => {
  it("applies defaults and serialises a JSON body", () => {
    const spec = toCallSpec(
      parseFetchInput({
        url: "https://api.example.com/x",
        method: "post",
        headers: { "X-Trace": "1" },
        body: { amount: 2000 },
      }),
    );
    expect(spec.request).toEqual({
      url: "https://api.example.com/x",
      method: "POST",
      headers: { "x-trace": "1", "content-type": "application/json" },
      body: '{"amount":2000}',
    });
    expect(spec.retry).toEqual({
      maxAttempts: 5,
      backoff: "exponential",
      initialDelayMs: 1_000,
      maxDelayMs: 60_000,
    });
    expect(spec.timeout).toEqual({ connectMs: 10_000, readMs: 30_000, totalMs: 60_000 });
  });

  it("keeps a string body and the caller's content type", () => {
    const spec = toCallSpec(
      parseFetchInput({
        url: "https://a.example",
        body: "a=1",
        headers: { "content-type": "text/plain" },
      }),
    );
    expect(spec.request.body).toBe("a=1");
    expect(spec.request.headers["content-type"]).toBe("text/plain");
  });

  it("names every bad field, nested and unknown ones included", () => {
    expect(
      issuesOf(() => parseFetchInput({ url: 5, retry: { maxAttempts: 0 }, retyr: {} })),
    ).toEqual(expect.arrayContaining(["url", "retry.maxAttempts", "retyr"]));
    expect(issuesOf(() => parseFetchInput({}))).toContain("url");
    expect(
      issuesOf(() =>
        toCallSpec(parseFetchInput({ url: "https://a.example", headers: { Host: "evil" } })),
      ),
    ).toEqual(["headers.Host"]);
    expect(
      issuesOf(() =>
        toCallSpec(
          parseFetchInput({
            url: "https://a.example",
            retry: { initialDelayMs: 5_000, maxDelayMs: 10 },
          }),
        ),
      ),
    ).toEqual(["retry.maxDelayMs"]);
  });

  it("shrinks phase timeouts to a smaller total", () => {
    const spec = toCallSpec(
      parseFetchInput({ url: "https://a.example", timeout: { totalMs: 500 } }),
    );
    expect(spec.timeout).toEqual({ connectMs: 500, readMs: 500, totalMs: 500 });
  });

  it("refuses header values our HTTP client cannot send, naming the header and not the value", () => {
    const problems = problemsOf(() =>
      accept({
        url: "https://a.example",
        headers: {
          "X-Cr": "a\rb",
          "X-Lf": "secret\nInjected: 1",
          "X-Nul": "\0",
          "X-Del": "\x7f",
          "X-Esc": "\x1b",
          "X-Blank": "  ",
          "X-Euro": "\u20ac",
          "X-Fine": "caf\u00e9 \t ok",
          "X-Empty": "",
        },
      }),
    );
    expect(problems.map((p) => p.field)).toEqual([
      "headers.X-Cr",
      "headers.X-Lf",
      "headers.X-Nul",
      "headers.X-Del",
      "headers.X-Esc",
      "headers.X-Blank",
      "headers.X-Euro",
    ]);
    expect(problems[1]?.message).toMatch(/^contains a line feed \(LF\), U\+000A, at position 6;/);
    expect(JSON.stringify(problems)).not.toContain("secret");
  });

  it("refuses the headers Steadfast's client manages or refuses, and a header given twice", () => {
    const refused = [
      "Host",
      "Content-Length",
      "Transfer-Encoding",
      "Expect",
      "Connection",
      "Keep-Alive",
      "Upgrade",
      "TE",
      "Trailer",
      "Proxy-Connection",
    ];
    const headers = Object.fromEntries(refused.map((name) => [name, "1"]));
    expect(issuesOf(() => accept({ url: "https://a.example", headers }))).toEqual(
      refused.map((name) => `headers.${name}`),
    );
    expect(
      problemsOf(() =>
        accept({ url: "https://a.example", headers: { "X-Trace": "1", "x-trace": "2" } }),
      ),
    ).toEqual([
      {
        field: "headers.x-trace",
        message:
          'repeats headers.X-Trace (header names ignore case); join the values with ", " in one header',
      },
    ]);
  });

  it("refuses CONNECT in any case, and methods that are not plain words", () => {
    for (const method of ["CONNECT", "connect"])
      expect(problemsOf(() => accept({ url: "https://a.example", method }))).toEqual([
        {
          field: "method",
          message: "CONNECT opens a tunnel, which a durable call cannot make; use another method",
        },
      ]);
    expect(issuesOf(() => accept({ url: "https://a.example", method: "GET /x" }))).toEqual([
      "method",
    ]);
    expect(accept({ url: "https://a.example", method: "propfind" }).request.method).toBe(
      "PROPFIND",
    );
  });

  it("refuses timeouts under 100 ms and accepts 100 ms", () => {
    expect(
      issuesOf(() =>
        accept({ url: "https://a.example", timeout: { connectMs: 1, readMs: 99, totalMs: 0 } }),
      ),
    ).toEqual(["timeout.connectMs", "timeout.readMs", "timeout.totalMs"]);
    const floor = MIN_TIMEOUT_MS;
    expect(
      accept({
        url: "https://a.example",
        timeout: { connectMs: floor, readMs: floor, totalMs: floor },
      }).timeout,
    ).toEqual({ connectMs: 100, readMs: 100, totalMs: 100 });
  });

  it(`accepts a body nested ${MAX_JSON_DEPTH} levels and refuses one level more, naming the field`, () => {
    expect(accept({ url: "https://a.example", body: nested(MAX_JSON_DEPTH) }).request.body).toBe(
      "[".repeat(MAX_JSON_DEPTH) + "]".repeat(MAX_JSON_DEPTH),
    );
    expect(problemsOf(() => accept({ url: "https://a.example", body: nested(65) }))).toEqual([
      {
        field: "body",
        message:
          "nests arrays and objects deeper than 64 levels, the limit; flatten it, or send it as a string",
      },
    ]);
  });

  it("refuses a value nested 100,000 levels in any field, without recursing", () => {
    const deep = nested(100_000);
    for (const field of ["body", "headers", "retry", "callback", "unknownField"])
      expect(issuesOf(() => accept({ url: "https://a.example", [field]: deep }))).toEqual([field]);
  });

  it("refuses, from the in-process API, a body that contains itself or is not JSON", () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    expect(issuesOf(() => accept({ url: "https://a.example", body: cyclic }))).toEqual(["body"]);
    expect(problemsOf(() => accept({ url: "https://a.example", body: { n: 10n } }))).toEqual([
      {
        field: "body",
        message:
          "cannot be serialised as JSON (Do not know how to serialize a BigInt); send a JSON value or a string",
      },
    ]);
  });
});
