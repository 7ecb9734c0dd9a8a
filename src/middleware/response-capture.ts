/**
 * What a route writes to a node:http `ServerResponse`, captured as a web `Response` (issue 13).
 * An Express route or a node:http listener runs after the middleware and answers by writing to
 * the response (`res.json`, `res.end`, `stream.pipe(res)`), while the middleware's `next` wants
 * a `Response` to keep or change. So while the route runs, its response's `writeHead`, `write`,
 * `end` and `flushHeaders` are replaced: the head the route sends (its status and every header
 * set so far, on `writeHead`, the first `write`, or `end`) makes the `Response`, and the chunks it
 * writes after stream into that `Response`'s body, with backpressure (`write` answers `false`
 * past 64 KiB queued, and `drain` is emitted when the body is read on). Nothing reaches the client
 * until the middleware's final answer is written through `sink`, which calls the response's own
 * methods (those of a middleware mounted before, such as `compression`, included).
 */
import type { ServerResponse } from "node:http";
import type { NodeResponseSink } from "../exchange/node-exchange.ts";

/** A route's answer being captured; see `captureResponse`. */
export interface ResponseCapture {
  /**
   * Resolves with the route's answer once it sends its head; its body streams what the route
   * writes after. Rejects with what `fail` is given before that.
   */
  readonly response: Promise<Response>;
  /** Writes the real response, past the capture. */
  readonly sink: NodeResponseSink;
  /** The route failed: rejects `response`, or errors its body if the head was sent. */
  fail(error: unknown): void;
  /**
   * Puts the response's own methods back, once the final answer is written (or will not be):
   * until then what the route still calls (a second `end`) is kept from the client.
   */
  release(): void;
}

type Callback = (error?: Error | null) => void;

// RFC 9110 section 6.4.1: no content with these statuses.
const BODILESS: ReadonlySet<number> = new Set([204, 205, 304]);
/** Body bytes queued before the route's `write` answers `false`. */
const HIGH_WATER_BYTES = 65_536;
const OVERRIDDEN = ["writeHead", "write", "end", "flushHeaders", "headersSent"] as const;

/**
 * Starts capturing what is written to `outgoing` (see the file's comment), until `release()`.
 */
export function captureResponse(outgoing: ServerResponse): ResponseCapture {
  const own = {
    writeHead: outgoing.writeHead.bind(outgoing) as (
      status: number,
      headers: Record<string, string | string[]>,
    ) => unknown,
    write: outgoing.write.bind(outgoing) as (chunk: Uint8Array) => boolean,
    end: outgoing.end.bind(outgoing) as (chunk?: Uint8Array) => unknown,
  };
  // Express and node:http keep these on prototypes; a middleware before (compression) may have
  // set its own on the instance: put back exactly what was there.
  const saved = OVERRIDDEN.map(
    (name) => [name, Object.getOwnPropertyDescriptor(outgoing, name)] as const,
  );
  let resolve: (response: Response) => void = () => undefined;
  let reject: (error: unknown) => void = () => undefined;
  const response = new Promise<Response>((res, rej) => ((resolve = res), (reject = rej)));
  let body!: ReadableStreamDefaultController<Uint8Array>;
  let headSent = false;
  let ended = false;
  let cancelled = false;
  let bodiless = false;
  let drainWanted = false;
  const stream = new ReadableStream<Uint8Array>(
    {
      start: (controller) => void (body = controller),
      pull: () => {
        if (!drainWanted) return;
        drainWanted = false;
        outgoing.emit("drain");
      },
      cancel: () => void (cancelled = true),
    },
    new ByteLengthQueuingStrategy({ highWaterMark: HIGH_WATER_BYTES }),
  );

  const restore = (): void => {
    for (const [name, descriptor] of saved) {
      if (descriptor === undefined) Reflect.deleteProperty(outgoing, name);
      else Object.defineProperty(outgoing, name, descriptor);
    }
  };
  const sendHead = (): void => {
    if (headSent) return;
    headSent = true;
    const status = outgoing.statusCode;
    bodiless = BODILESS.has(status) || outgoing.req?.method === "HEAD";
    try {
      resolve(new Response(bodiless ? null : stream, { status, headers: headersOf(outgoing) }));
    } catch (error) {
      // A status a web Response cannot have (below 200, over 599).
      reject(error);
    }
  };
  const push = (chunk: unknown, encoding: string | undefined): boolean => {
    if (chunk === undefined || chunk === null || ended || cancelled || bodiless) return !cancelled;
    const bytes =
      typeof chunk === "string"
        ? Buffer.from(chunk, (encoding ?? "utf8") as BufferEncoding)
        : chunk;
    if (!(bytes instanceof Uint8Array) || bytes.byteLength === 0) return true;
    body.enqueue(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    if ((body.desiredSize ?? 0) > 0) return true;
    drainWanted = true;
    return false;
  };

  const writeHead = (status: number, reason?: unknown, headers?: unknown): ServerResponse => {
    if (headSent) return outgoing;
    if (typeof reason === "string") outgoing.statusMessage = reason;
    outgoing.statusCode = status;
    setHeaders(outgoing, typeof reason === "string" ? headers : reason);
    sendHead();
    return outgoing;
  };
  const write = (chunk: unknown, encoding?: unknown, callback?: unknown): boolean => {
    const done = typeof encoding === "function" ? encoding : callback;
    sendHead();
    const accepted = push(chunk, typeof encoding === "string" ? encoding : undefined);
    if (typeof done === "function") process.nextTick(done, null);
    return accepted;
  };
  const end = (chunk?: unknown, encoding?: unknown, callback?: unknown): ServerResponse => {
    const done = [chunk, encoding, callback].find((arg) => typeof arg === "function");
    // node:http calls it once the response is finished: the real one, written after.
    if (done !== undefined) outgoing.once("finish", () => (done as Callback)());
    if (ended) return outgoing;
    sendHead();
    push(chunk, typeof encoding === "string" ? encoding : undefined);
    ended = true;
    if (!cancelled) body.close();
    return outgoing;
  };
  const install = (name: string, value: unknown): void =>
    void Object.defineProperty(outgoing, name, { value, configurable: true, writable: true });
  install("writeHead", writeHead);
  install("write", write);
  install("end", end);
  install("flushHeaders", sendHead);
  Object.defineProperty(outgoing, "headersSent", { get: () => headSent, configurable: true });

  const sink: NodeResponseSink = {
    writeHead: (status, headers) => {
      // The middleware's answer is the whole response: the route's headers are in it already.
      for (const name of outgoing.getHeaderNames()) outgoing.removeHeader(name);
      return own.writeHead(status, headers);
    },
    write: (chunk) => own.write(chunk),
    end: (chunk) => (chunk === undefined ? own.end() : own.end(chunk)),
    destroy: () => outgoing.destroy(),
    get destroyed() {
      return outgoing.destroyed;
    },
    on: (event, listener) => outgoing.on(event, listener),
    off: (event, listener) => outgoing.off(event, listener),
  };
  return {
    response,
    sink,
    fail(error) {
      if (!headSent) reject(error);
      else if (!ended && !cancelled) body.error(error);
      ended = true;
    },
    release: restore,
  };
}

/** The headers set on `outgoing`, as web `Headers` (framing ones left to the final writer). */
function headersOf(outgoing: ServerResponse): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(outgoing.getHeaders())) {
    if (value === undefined || name === "transfer-encoding") continue;
    for (const one of Array.isArray(value) ? value : [value]) headers.append(name, String(one));
  }
  return headers;
}

/**
 * Sets the fields given to `writeHead` as node:http does: an object's replace what was set; a
 * list of `[name, value]` pairs is appended; a flat raw list replaces its names, duplicates kept.
 */
function setHeaders(outgoing: ServerResponse, fields: unknown): void {
  if (fields === undefined || fields === null) return;
  if (!Array.isArray(fields)) {
    for (const [name, value] of Object.entries(fields as Record<string, unknown>)) {
      if (value !== undefined) outgoing.setHeader(name, value as string | number | string[]);
    }
    return;
  }
  if (fields.length > 0 && Array.isArray(fields[0])) {
    for (const [name, value] of fields as [string, string | string[]][]) {
      outgoing.appendHeader(name, value);
    }
    return;
  }
  const flat = fields as string[];
  for (let i = 0; i + 1 < flat.length; i += 2) outgoing.removeHeader(flat[i]!);
  for (let i = 0; i + 1 < flat.length; i += 2) outgoing.appendHeader(flat[i]!, flat[i + 1]!);
}
