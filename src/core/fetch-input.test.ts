import { describe, expect, it } from "vitest";
import { isSteadfastError } from "./errors.ts";
import { parseFetchInput, toCallSpec } from "./fetch-input.ts";

function issuesOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (error) {
    if (isSteadfastError(error)) return error.issues.map((i) => i.field);
    throw error;
  }
  throw new Error("expected a validation error");
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
});
