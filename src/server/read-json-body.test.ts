import { describe, expect, it } from "vitest";
import { isSteadfastError } from "../core/errors.ts";
import { readJsonBody } from "./read-json-body.ts";

const post = (
  body: BodyInit | null,
  headers: Record<string, string> = { "content-type": "application/json" },
): Request =>
  new Request("http://localhost/v1/fetch", {
    method: "POST",
    body,
    headers,
    ...(body instanceof ReadableStream ? { duplex: "half" } : {}),
  });

async function errorOf(promise: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await promise;
  } catch (error) {
    if (isSteadfastError(error)) return { code: error.code, message: error.message };
    throw error;
  }
  throw new Error("expected a rejection");
}

describe("readJsonBody", () => {
  it("parses JSON up to exactly the limit", async () => {
    const text = JSON.stringify({ url: "https://a.example/", body: "x".repeat(50) });
    expect(await readJsonBody(post(text), text.length)).toEqual(JSON.parse(text));
    expect(await errorOf(readJsonBody(post(text), text.length - 1))).toMatchObject({
      code: "payload_too_large",
    });
  });

  it("counts streamed bytes when Content-Length lies or is absent", async () => {
    const chunks = ['{"a":"', "y".repeat(100), '"}'];
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const chunk of chunks) controller.enqueue(new TextEncoder().encode(chunk));
        controller.close();
      },
    });
    const error = await errorOf(readJsonBody(post(stream), 64));
    expect(error.code).toBe("payload_too_large");
    expect(error.message).toContain("64 bytes");
  });

  it("names line and column of a syntax error, and the end of a truncated body", async () => {
    expect((await errorOf(readJsonBody(post('{\n  "a": 1,\n  "b" 2\n}')))).message).toBe(
      "Request body is not valid JSON: Expected ':' after property name at line 3, column 7",
    );
    expect((await errorOf(readJsonBody(post('{"a": [1, 2')))).message).toBe(
      "Request body is not valid JSON: Expected ',' or ']' after array element at line 1, column 12",
    );
    expect((await errorOf(readJsonBody(post('{"a":\n')))).message).toBe(
      "Request body is not valid JSON: Unexpected end of JSON input at line 2, column 1",
    );
  });

  it("refuses invalid UTF-8 as invalid_json", async () => {
    const error = await errorOf(readJsonBody(post(new Uint8Array([0x7b, 0x22, 0xff, 0x22, 0x7d]))));
    expect(error).toMatchObject({ code: "invalid_json" });
    expect(error.message).toContain("UTF-8");
  });

  it("reads JSON that curl -d labelled as a form, and explains real form data", async () => {
    const form = { "content-type": "application/x-www-form-urlencoded" };
    expect(await readJsonBody(post(' {"url":"https://a.example"}', form))).toEqual({
      url: "https://a.example",
    });
    const error = await errorOf(readJsonBody(post("url=https%3A%2F%2Fa.example", form)));
    expect(error).toMatchObject({ code: "unsupported_media_type" });
    expect(error.message).toContain("add -H 'content-type: application/json'");
  });

  it("accepts JSON media types and a missing Content-Type; refuses others", async () => {
    expect(
      await readJsonBody(post("{}", { "content-type": "application/json; charset=UTF-8" })),
    ).toEqual({});
    expect(
      await readJsonBody(post("{}", { "content-type": "application/merge-patch+json" })),
    ).toEqual({});
    expect(await readJsonBody(post(new TextEncoder().encode("{}"), {}))).toEqual({});
    for (const type of ["text/plain", "multipart/form-data; boundary=x", "application/jsonx"]) {
      expect(await errorOf(readJsonBody(post("{}", { "content-type": type })))).toMatchObject({
        code: "unsupported_media_type",
      });
    }
  });
});
