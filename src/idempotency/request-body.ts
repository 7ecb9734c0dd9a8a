/**
 * Reading a request's body with a limit (issue 13): the body is part of the fingerprint and is
 * handed to the handler again, so it is read once, into memory. A body over the limit is refused
 * before anything is stored: by its `Content-Length` without reading it, or as soon as the bytes
 * read pass the limit (a chunked body), the rest left unread.
 */
import { SteadfastError } from "../core/errors.ts";
import { readCapped } from "../exchange/body-bytes.ts";

/** A body read in full, or refused for its size. */
export type BodyReading =
  | { readonly kind: "read"; readonly bytes: Uint8Array }
  | { readonly kind: "too-large"; readonly declaredBytes: number | undefined };

/** Reads `request`'s body, at most `maxBytes` bytes (`readCapped`, the one capped reader). */
export async function readBodyUpTo(request: Request, maxBytes: number): Promise<BodyReading> {
  const declared = Number(request.headers.get("content-length") ?? Number.NaN);
  if (Number.isFinite(declared) && declared > maxBytes) {
    await request.body?.cancel().catch(() => undefined);
    return { kind: "too-large", declaredBytes: declared };
  }
  if (request.body === null) return { kind: "read", bytes: new Uint8Array() };
  let tooLarge: SteadfastError | undefined;
  const refuse = (): SteadfastError =>
    (tooLarge = new SteadfastError("payload_too_large", `over ${maxBytes} bytes`));
  try {
    return { kind: "read", bytes: await readCapped(request.body, maxBytes, refuse) };
  } catch (error) {
    if (error !== undefined && error === tooLarge) {
      return { kind: "too-large", declaredBytes: undefined };
    }
    throw error;
  }
}

/** `request` again, with `body` (already read from it) as its body, for the handler. */
export function withBody(request: Request, body: Uint8Array): Request {
  const init: RequestInit = {
    method: request.method,
    headers: request.headers,
    signal: request.signal,
  };
  if (request.method !== "GET" && request.method !== "HEAD") init.body = new Uint8Array(body);
  return new Request(request.url, init);
}
