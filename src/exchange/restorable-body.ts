/**
 * A node:http request's body as a web stream that gives it back (issue 13). A middleware in
 * front of an Express route or a node:http listener may read the body (the idempotency
 * middleware fingerprints it) or not (a rate limiter); either way the route after it reads the
 * body itself, from the node:http message. So the stream reads `incoming` only as it is pulled,
 * and when the reading stops (the end of the body, or a cancel) it puts what it read back at the
 * front of `incoming` with `unshift`: the route's body parser then reads the body as sent.
 *
 * `unshift` is refused once `incoming` has emitted `end`. A paused stream emits `end` on the
 * tick after a `read()` found it empty and ended; the message is complete (`incoming.complete`)
 * before its end is pushed. So the stream reads in paused mode, and when `read()` gives nothing
 * on a complete message it puts the bytes back in the same tick: `end` is not emitted, and is
 * emitted later, once the route has read them again.
 */
import type { IncomingMessage } from "node:http";
import { SteadfastError } from "../core/errors.ts";

/**
 * The body of `incoming` as a web stream, read from `incoming` only as the stream is pulled; what
 * was read is put back into `incoming` when the stream ends or is cancelled. A client that goes
 * away mid-body errors the stream.
 */
export function restorableBody(incoming: IncomingMessage): ReadableStream<Uint8Array> {
  const read: Buffer[] = [];
  let done = false;
  const putBack = (): void => {
    if (done) return;
    done = true;
    if (read.length > 0 && !incoming.readableEnded) incoming.unshift(Buffer.concat(read));
  };
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        for (;;) {
          const chunk = incoming.read() as Buffer | string | null;
          if (chunk !== null) {
            const bytes = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
            read.push(bytes);
            controller.enqueue(new Uint8Array(bytes));
            return;
          }
          if (incoming.complete) {
            putBack();
            controller.close();
            return;
          }
          await readableAgain(incoming);
        }
      },
      cancel() {
        putBack();
      },
    },
    { highWaterMark: 0 },
  );
}

/**
 * Resolves when `incoming` has more to read or has ended; rejects when it fails or closes before
 * its end (the client went away).
 */
function readableAgain(incoming: IncomingMessage): Promise<void> {
  return new Promise((resolve, reject) => {
    const settle = (error?: Error): void => {
      incoming.off("readable", ready);
      incoming.off("end", ready);
      incoming.off("error", failed);
      incoming.off("close", closed);
      if (error === undefined) resolve();
      else reject(error);
    };
    const ready = (): void => settle();
    const failed = (error: Error): void => settle(error);
    const closed = (): void =>
      settle(
        incoming.complete
          ? undefined
          : new SteadfastError<"request_aborted">(
              "request_aborted",
              "The client closed the connection before the end of the request body.",
            ),
      );
    incoming.on("readable", ready);
    incoming.on("end", ready);
    incoming.on("error", failed);
    incoming.on("close", closed);
  });
}
