/**
 * The `Transport` port: sends one HTTP request, never throws, and says whether the request may
 * have reached the upstream (`sent`). The undici implementation lives in `src/http/`.
 */
import type { TransportErrorCode } from "./call.ts";

/** A request to send. */
export interface OutgoingRequest {
  url: string;
  method: string;
  /** Header names lower-cased. */
  headers: Record<string, string>;
  body?: string | Uint8Array;
}

/** Limits for one send. */
export interface SendOptions {
  /** Time to open the connection. */
  connectTimeoutMs: number;
  /** Longest silence while waiting for headers or body bytes. */
  readTimeoutMs: number;
  /** Whole exchange, connect to last body byte. */
  totalTimeoutMs: number;
  /** Body bytes kept; the rest is discarded and `bodyTruncated` set. */
  maxResponseBytes: number;
  /** Aborts the exchange (shutdown, cancellation): the result is an `aborted` error. */
  signal?: AbortSignal;
}

/** Phase timings of one exchange, in ms from its start. */
export interface Timings {
  /** Epoch ms at which the send started (from the transport's clock). */
  startedAt: number;
  durationMs: number;
  connectMs?: number;
  firstByteMs?: number;
}

/** What a send produced. */
export type SendResult =
  | {
      type: "response";
      status: number;
      /** Header names lower-cased; repeated headers joined with ", ". */
      headers: Record<string, string>;
      body: Uint8Array;
      bodyTruncated: boolean;
      /** Body bytes received (at least `maxResponseBytes` when truncated). */
      bodyBytes: number;
      timings: Timings;
    }
  | {
      type: "error";
      code: TransportErrorCode;
      message: string;
      /** False only when the request certainly did not reach the upstream. */
      sent: boolean;
      timings: Timings;
    };

/** Sends HTTP requests. */
export interface Transport {
  send(request: OutgoingRequest, options: SendOptions): Promise<SendResult>;
  /** Closes pooled connections. */
  close(): Promise<void>;
}
