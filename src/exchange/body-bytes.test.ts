import { describe, expect, it } from "vitest";
import { bodyContent, bytesResponse, readCapped, type BodyContent } from "./body-bytes.ts";

const encoder = new TextEncoder();
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

async function streamed(content: BodyContent): Promise<string> {
  if (content.type !== "stream") throw new Error(`expected a stream, got ${content.type}`);
  return await new Response(content.stream).text();
}

describe("bodyContent", () => {
  it("knows the bytes of a bytesResponse without reading its stream", async () => {
    const response = bytesResponse('{"a":1}', { headers: { "content-type": "application/json" } });
    const content = await bodyContent(response);
    expect(content.type === "bytes" && text(content.bytes)).toBe('{"a":1}');
    expect(response.bodyUsed).toBe(false);
    expect(await bodyContent(bytesResponse(null, { status: 204 }))).toEqual({ type: "none" });
  });

  it("answers a complete body as bytes: Response.json, a string, bytes, a closed stream of several chunks", async () => {
    const closed = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(encoder.encode("one "));
        controller.enqueue(encoder.encode("two"));
        controller.close();
      },
    });
    for (const [response, expected] of [
      [Response.json({ a: 1 }), '{"a":1}'],
      [new Response("hello"), "hello"],
      [new Response(encoder.encode("bytes")), "bytes"],
      [new Response(closed), "one two"],
    ] as const) {
      const content = await bodyContent(response);
      expect(content.type === "bytes" && text(content.bytes)).toBe(expected);
    }
    expect(await bodyContent(new Response(null))).toEqual({ type: "none" });
  });

  it("answers a body still being produced as a stream, the chunks read while looking first", async () => {
    let held: ReadableStreamDefaultController<Uint8Array> | undefined;
    const open = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(encoder.encode("first "));
        held = controller;
      },
    });
    const content = await bodyContent(new Response(open));
    expect(content.type).toBe("stream");
    const reading = streamed(content);
    held!.enqueue(encoder.encode("last"));
    held!.close();
    expect(await reading).toBe("first last");

    // Pulled on demand, each chunk a turn later: nothing is there when the body is looked at.
    let pulls = 0;
    const later = new ReadableStream<Uint8Array>(
      {
        async pull(controller) {
          await Promise.resolve();
          if (pulls++ === 0) controller.enqueue(encoder.encode("later"));
          else controller.close();
        },
      },
      { highWaterMark: 0 },
    );
    expect(await streamed(await bodyContent(new Response(later)))).toBe("later");
  });

  it("answers a body whose chunks never end, each there at once, as a stream", async () => {
    let pulled = 0;
    const endless = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled++;
        controller.enqueue(encoder.encode("x"));
      },
    });
    const content = await bodyContent(new Response(endless));
    expect(content.type).toBe("stream");
    expect(pulled).toBeLessThan(100);
    if (content.type === "stream") await content.stream.cancel();
  });
});

describe("readCapped", () => {
  const tooLarge = () => new Error("too large");

  it("reads a web stream or a Node-style iterable to the end", async () => {
    expect(text(await readCapped(new Response("abc").body!, 3, tooLarge))).toBe("abc");
    async function* chunks() {
      await Promise.resolve();
      yield encoder.encode("ab");
      yield encoder.encode("cd");
    }
    expect(text(await readCapped(chunks(), 4, tooLarge))).toBe("abcd");
  });

  it("stops as soon as the bytes pass the cap, cancelling the stream, and reads nothing more", async () => {
    let cancelled = false;
    let pulls = 0;
    const endless = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulls++;
        controller.enqueue(encoder.encode("0123456789"));
      },
      cancel() {
        cancelled = true;
      },
    });
    await expect(readCapped(endless, 25, tooLarge)).rejects.toThrow("too large");
    expect(cancelled).toBe(true);
    expect(pulls).toBeLessThanOrEqual(4);
  });

  it("refuses a chunk that is not bytes, naming the fix", async () => {
    const strings = new ReadableStream<unknown>({
      start(controller) {
        controller.enqueue("text");
        controller.close();
      },
    }) as ReadableStream<Uint8Array>;
    await expect(readCapped(strings, 100, tooLarge)).rejects.toThrow(/TextEncoder/);
  });
});
