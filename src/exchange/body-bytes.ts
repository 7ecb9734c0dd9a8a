/**
 * The one owner of how durable endpoints, the middleware and their adapters read HTTP bodies
 * (issues 12 and 13):
 *
 * - `bytesResponse` makes a `Response` whose body is bytes already in hand, and records them, so
 *   a writer (`bodyContent`) sends them in one write instead of through the body's stream;
 * - `bodyContent` tells a body that is already complete (`Response.json(...)`,
 *   `new Response("text")`: every chunk is there and the stream is closed) from a real stream
 *   (a token-streaming LLM answer), without waiting on either;
 * - `readCapped` reads a body to its end, refusing it past a number of bytes (a request's
 *   `maxBodyBytes`, a response's `maxResponseBytes`) as soon as it goes past.
 */

import { TerminalError } from "../core/errors.ts";

/** A body as a writer should send it: none, bytes in one write, or a stream to pipe. */
export type BodyContent =
  | { type: "none" }
  | { type: "bytes"; bytes: Uint8Array<ArrayBuffer> }
  | { type: "stream"; stream: ReadableStream<Uint8Array> };

const NONE: BodyContent = { type: "none" };

/** The bytes of the responses made by `bytesResponse`, while the response lives. */
const knownBodies = new WeakMap<Response, Uint8Array<ArrayBuffer>>();

/**
 * A `Response` of `body` (bytes, or a string as UTF-8; `null`: no body) whose bytes
 * `bodyContent` knows without reading its stream.
 *
 * @example bytesResponse(JSON.stringify({ ok: true }), { headers: { "content-type": "application/json" } })
 */
export function bytesResponse(
  body: Uint8Array<ArrayBuffer> | string | null,
  init: ResponseInit,
): Response {
  const bytes = typeof body === "string" ? new TextEncoder().encode(body) : body;
  const response = new Response(bytes, init);
  if (bytes !== null) knownBodies.set(response, bytes);
  return response;
}

/** Most chunks read while looking for the end of a body that may be complete (see `bodyContent`). */
const MAX_PROBED_CHUNKS = 64;
const PENDING = Symbol("pending");
const NOT_YET: Promise<typeof PENDING> = Promise.resolve(PENDING);

/**
 * How to send `response`'s body: `bytes` when it is complete (made by `bytesResponse`, or a
 * body whose chunks are all queued and whose stream is closed, as `Response.json`, a string or
 * bytes give), `stream` otherwise (the chunks read while looking come first in it), `none` for
 * no body. It never waits for the body's producer: a read that is not already resolved means a
 * stream. The body is taken (`bodyUsed`) unless its bytes were known.
 */
export async function bodyContent(response: Response): Promise<BodyContent> {
  const known = knownBodies.get(response);
  if (known !== undefined && !response.bodyUsed) return { type: "bytes", bytes: known };
  const body = response.body;
  if (body === null) return NONE;
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  for (let probed = 0; probed < MAX_PROBED_CHUNKS; probed++) {
    const read = reader.read();
    // An already-resolved read settles the race first (its reaction was queued first): the
    // chunk or the end was there; otherwise the producer has not made it yet.
    const result = await Promise.race([read, NOT_YET]);
    if (result === PENDING) return { type: "stream", stream: resumed(reader, chunks, read) };
    if (result.done) return { type: "bytes", bytes: concat(chunks) };
    chunks.push(result.value);
  }
  // Chunks without end, each there at once (a producer enqueueing in `pull`): a stream.
  return { type: "stream", stream: resumed(reader, chunks) };
}

/**
 * The stream of `reader`'s chunks after `read` ones already taken from it (and a `pending` read
 * under way): pulled only as its consumer reads (high-water mark 0: the producer's backpressure
 * goes through); cancelling it cancels the reader's stream.
 */
function resumed(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  read: Uint8Array[],
  pending?: Promise<ReadableStreamReadResult<Uint8Array>>,
): ReadableStream<Uint8Array> {
  let next = pending;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const chunk = read.shift();
        if (chunk !== undefined) {
          controller.enqueue(chunk);
          return;
        }
        const result = await (next ?? reader.read());
        next = undefined;
        if (result.done) controller.close();
        else controller.enqueue(result.value);
      },
      cancel(reason) {
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
}

/**
 * Reads `body` to the end into one array. Past `maxBytes` it stops at once, without reading
 * more (a web stream is cancelled; a Node stream iterated with `destroyOnReturn: false` is left
 * as it is), and throws `tooLarge()`. A chunk that is not bytes throws `internal`.
 */
export async function readCapped(
  body: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>,
  maxBytes: number,
  tooLarge: () => Error,
): Promise<Uint8Array<ArrayBuffer>> {
  const chunks = body instanceof ReadableStream ? webChunks(body) : body;
  const read: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of chunks as AsyncIterable<unknown>) {
    if (!(chunk instanceof Uint8Array)) {
      throw new TerminalError(
        "internal",
        `A body's stream gave a chunk that is a ${typeof chunk}, not bytes: enqueue Uint8Array chunks (TextEncoder encodes text; TextEncoderStream a stream of text).`,
      );
    }
    total += chunk.byteLength;
    if (total > maxBytes) throw tooLarge();
    read.push(chunk);
  }
  return concat(read, total);
}

/** The chunks of web stream `stream`; it is cancelled when they are not read to the end. */
async function* webChunks(stream: ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array> {
  const reader = stream.getReader();
  let ended = false;
  try {
    for (;;) {
      const result = await reader.read();
      if (result.done) {
        ended = true;
        return;
      }
      yield result.value;
    }
  } finally {
    // Not awaited: cancelling one branch of a tee settles only when the other branch is
    // cancelled or the source ends (the client's branch may read on for long).
    if (!ended) void reader.cancel().catch(() => undefined);
  }
}

/** One array of `chunks` (the one chunk itself when it is the only one and fits). */
function concat(chunks: readonly Uint8Array[], total?: number): Uint8Array<ArrayBuffer> {
  const only = chunks.length === 1 ? chunks[0]! : undefined;
  if (only !== undefined && only.buffer instanceof ArrayBuffer) {
    return only as Uint8Array<ArrayBuffer>;
  }
  const bytes = new Uint8Array(total ?? chunks.reduce((sum, c) => sum + c.byteLength, 0));
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}
