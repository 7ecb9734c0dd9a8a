// A raw HTTP/1.1 exchange over node:net, for tests that must send what fetch refuses to (control
// bytes in headers, odd methods, broken framing) and see the answer byte for byte.
import { connect } from "node:net";

/** An HTTP answer as read off the socket. */
export interface RawAnswer {
  /** The status of the final answer (1xx interim answers are skipped). */
  status: number;
  /** Header fields by lower-case name, repeated fields joined with `, `. */
  headers: Record<string, string>;
  /** The body, de-chunked. */
  body: Buffer;
  /** Every byte received, interim answers included. */
  raw: Buffer;
}

/** Options of `rawExchange`. */
export interface RawExchangeOptions {
  /** The request is a HEAD: the answer has no body whatever its headers say. Default false. */
  head?: boolean;
  /** Longest wait for a complete answer, ms. Default 10,000. */
  timeoutMs?: number;
}

/**
 * Sends `request` (bytes, sent as they are) to `127.0.0.1:port` on a fresh connection and
 * resolves with the first complete answer (by `Content-Length`, chunked encoding, or the server
 * closing), then closes the connection. Rejects when the server closes (or resets) before a
 * complete answer, or after `timeoutMs`.
 */
export function rawExchange(
  port: number,
  request: string | Buffer,
  options: RawExchangeOptions = {},
): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let settled = false;
    const socket = connect(port, "127.0.0.1", () => socket.write(request));
    const finish = (ended: boolean, error?: Error): void => {
      if (settled) return;
      const raw = Buffer.concat(chunks);
      let answer: RawAnswer | undefined;
      try {
        answer = parseAnswer(raw, options.head ?? false, ended);
      } catch (malformed) {
        settled = true;
        clearTimeout(timer);
        socket.destroy();
        reject(malformed instanceof Error ? malformed : new Error(String(malformed)));
        return;
      }
      if (answer === undefined && !ended) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (answer !== undefined) resolve(answer);
      else
        reject(
          new Error(
            `connection closed before a complete answer${error === undefined ? "" : ` (${error.message})`}; received ${JSON.stringify(raw.toString("latin1").slice(0, 500))}`,
          ),
        );
    };
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      socket.destroy();
      reject(
        new Error(
          `no complete answer within ${options.timeoutMs ?? 10_000} ms; received ${JSON.stringify(Buffer.concat(chunks).toString("latin1").slice(0, 500))}`,
        ),
      );
    }, options.timeoutMs ?? 10_000);
    socket.on("data", (chunk: Buffer) => {
      chunks.push(chunk);
      finish(false);
    });
    socket.on("end", () => finish(true));
    socket.on("close", () => finish(true));
    socket.on("error", (error) => finish(true, error));
  });
}

/** The first final answer in `raw`, or `undefined` while it is incomplete. */
function parseAnswer(raw: Buffer, head: boolean, ended: boolean): RawAnswer | undefined {
  let offset = 0;
  for (;;) {
    const end = raw.indexOf("\r\n\r\n", offset);
    if (end === -1) return undefined;
    const [statusLine = "", ...lines] = raw.subarray(offset, end).toString("latin1").split("\r\n");
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1]);
    if (!Number.isInteger(status)) throw new Error(`not an HTTP answer: ${statusLine}`);
    const bodyStart = end + 4;
    if (status >= 100 && status < 200 && status !== 101) {
      offset = bodyStart;
      continue;
    }
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(":");
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
    }
    const rest = raw.subarray(bodyStart);
    const answer = (body: Buffer): RawAnswer => ({ status, headers, body, raw });
    if (head || status === 204 || status === 304) return answer(Buffer.alloc(0));
    if (headers["transfer-encoding"]?.toLowerCase() === "chunked") {
      const body = dechunk(rest);
      return body === undefined ? undefined : answer(body);
    }
    if (headers["content-length"] !== undefined) {
      const length = Number(headers["content-length"]);
      return rest.length >= length ? answer(rest.subarray(0, length)) : undefined;
    }
    return ended ? answer(rest) : undefined;
  }
}

/** A chunked body decoded, or `undefined` until its last chunk has arrived. */
function dechunk(data: Buffer): Buffer | undefined {
  const parts: Buffer[] = [];
  let offset = 0;
  for (;;) {
    const lineEnd = data.indexOf("\r\n", offset);
    if (lineEnd === -1) return undefined;
    const size = parseInt(data.subarray(offset, lineEnd).toString("latin1"), 16);
    if (Number.isNaN(size)) throw new Error("malformed chunked answer");
    if (size === 0) return Buffer.concat(parts);
    const start = lineEnd + 2;
    if (data.length < start + size + 2) return undefined;
    parts.push(data.subarray(start, start + size));
    offset = start + size + 2;
  }
}
