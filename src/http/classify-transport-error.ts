/**
 * Maps what undici and Node's sockets throw to the transport error codes of ARCHITECTURE.md
 * section 3, and says whether the request may have reached the upstream. One pure function, so
 * every branch can be tested on a synthetic error.
 */
import type { TransportErrorCode } from "../core/call.ts";
import { isTerminalError } from "../core/errors.ts";

/** A classified transport failure. */
export interface TransportFailure {
  code: TransportErrorCode;
  /** False only when the request certainly did not reach the upstream. */
  sent: boolean;
  /** What happened, naming the origin, and what to check. */
  message: string;
}

/** What the classifier needs to know about the exchange that failed. */
export interface FailureContext {
  /** `scheme://host:port` of the request. */
  origin: string;
  /**
   * True once undici handed the request to a connection (from then on it may have been sent).
   * Before that nothing of the request was written, so `sent` is false whatever the error.
   */
  connected: boolean;
  /** The read timeout in ms, for the message of `read_timeout`. */
  readTimeoutMs?: number;
}

const DNS_CODES: ReadonlySet<string> = new Set([
  "ENOTFOUND",
  "EAI_AGAIN",
  "EAI_FAIL",
  "EAI_NODATA",
  "EAI_NONAME",
]);

const RESET_CODES: ReadonlySet<string> = new Set([
  "ECONNRESET",
  "EPIPE",
  "ECONNABORTED",
  "UND_ERR_SOCKET",
  "UND_ERR_INFO",
]);

/** OpenSSL certificate verification codes (node:tls `err.code`) and TLS protocol failures. */
const TLS_CODES: ReadonlySet<string> = new Set([
  "EPROTO",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "CERT_REVOKED",
  "CERT_UNTRUSTED",
  "CERT_REJECTED",
  "CERT_SIGNATURE_FAILURE",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_DECRYPT_CERT_SIGNATURE",
  "UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY",
  "INVALID_CA",
  "PATH_LENGTH_EXCEEDED",
  "INVALID_PURPOSE",
  "HOSTNAME_MISMATCH",
]);

const INVALID_RESPONSE_CODES: ReadonlySet<string> = new Set([
  "UND_ERR_RES_CONTENT_LENGTH_MISMATCH",
  "UND_ERR_HEADERS_OVERFLOW",
]);

/**
 * undici refusing the request as given: a header value with a control character, an `Expect`
 * header, a method it will not send, a body that does not match `Content-Length`. The request is
 * not sent and would be refused the same way on every attempt. Only undici's own refusals: Node's
 * `ERR_INVALID_ARG_TYPE` and the like come from code passing a wrong value, usually ours, and are
 * `internal` (issue 10).
 */
const CLIENT_REFUSAL_CODES: ReadonlySet<string> = new Set([
  "UND_ERR_INVALID_ARG",
  "UND_ERR_NOT_SUPPORTED",
  "UND_ERR_REQ_CONTENT_LENGTH_MISMATCH",
]);

/** Errors JavaScript raises for a bug (a wrong type, a value out of range), when they carry no code. */
const PROGRAMMING_ERROR_NAMES: ReadonlySet<string> = new Set([
  "TypeError",
  "RangeError",
  "ReferenceError",
  "SyntaxError",
]);

const ABORT_CODES: ReadonlySet<string> = new Set([
  "UND_ERR_ABORTED",
  "UND_ERR_ABORT",
  "UND_ERR_CLOSED",
  "UND_ERR_DESTROYED",
  "ABORT_ERR",
]);

/**
 * Classifies `error`, raised while sending to `context.origin`.
 *
 * - DNS failure (`ENOTFOUND`, `EAI_AGAIN`): `dns`. `ECONNREFUSED`: `connect_refused`. undici's
 *   connect timeout or a kernel `ETIMEDOUT` before connecting: `connect_timeout`. Certificate and
 *   handshake errors: `tls`. A guard refusal after DNS resolution: `blocked_destination`.
 * - undici refusing the request as given (`UND_ERR_INVALID_ARG` for a header value with a
 *   control character, `UND_ERR_NOT_SUPPORTED` for `Expect`...): `invalid_request`.
 * - undici's headers or body timeout: `read_timeout`. `ECONNRESET`, `EPIPE`, "other side
 *   closed": `reset`. A response that is not HTTP/1.1: `invalid_response`. Cancellation or a
 *   closed transport: `aborted`.
 * - A failure inside our own process, a bug rather than the request's or the destination's
 *   fault: Node's own `ERR_*` codes (`ERR_INVALID_ARG_TYPE`...; TLS's excepted), and a
 *   `TypeError`, `RangeError`... without a code: `internal`. The transport logs these.
 * - Anything else: `unknown`.
 *
 * `sent` is `context.connected`: connect-phase failures always happen before undici hands the
 * request to a connection, so they come out `sent: false`.
 */
export function classifyTransportError(error: unknown, context: FailureContext): TransportFailure {
  const { origin, connected } = context;
  const sent = connected;
  // By its brand and code (guarded-connector.ts): it may cross undici or another package copy.
  if (isTerminalError(error) && error.code === "blocked_destination") {
    return { code: "blocked_destination", sent: false, message: error.message };
  }
  const code = errorCode(error);
  const detail = errorMessage(error);
  if (CLIENT_REFUSAL_CODES.has(code)) {
    return {
      code: "invalid_request",
      sent,
      message: `Steadfast's HTTP client refused to send the request to ${origin} (${code}: ${detail}); ${sent ? "it may have been partly sent" : "it was not sent"}, and would be refused the same way on every attempt: fix the request (headers, method or body)`,
    };
  }
  if (DNS_CODES.has(code)) {
    return {
      code: "dns",
      sent: false,
      message: `DNS lookup of ${hostOf(origin)} failed (${code}): check the host name; ${code === "EAI_AGAIN" ? "the resolver did not answer in time" : "the name does not resolve"}`,
    };
  }
  if (code === "ECONNREFUSED") {
    return {
      code: "connect_refused",
      sent: false,
      message: `${origin} refused the connection (ECONNREFUSED): check that the upstream listens on that host and port`,
    };
  }
  if (code === "UND_ERR_CONNECT_TIMEOUT" || (code === "ETIMEDOUT" && !connected)) {
    return {
      code: "connect_timeout",
      sent: false,
      message: `connecting to ${origin} timed out (${code}): the host may be down or a firewall drops the packets`,
    };
  }
  if (TLS_CODES.has(code) || code.startsWith("ERR_TLS_") || code.startsWith("ERR_SSL_")) {
    return {
      code: "tls",
      sent,
      message: `TLS with ${origin} failed (${code}): ${detail}; check the certificate and that the port speaks TLS`,
    };
  }
  if (code === "UND_ERR_HEADERS_TIMEOUT" || code === "UND_ERR_BODY_TIMEOUT") {
    const what = code === "UND_ERR_HEADERS_TIMEOUT" ? "response headers" : "further body bytes";
    const limit = context.readTimeoutMs === undefined ? "" : ` within ${context.readTimeoutMs} ms`;
    return {
      code: "read_timeout",
      sent: true,
      message: `${origin} sent no ${what}${limit} (read timeout); raise timeout.readMs if the upstream is slow`,
    };
  }
  if (RESET_CODES.has(code) || (code === "ETIMEDOUT" && connected)) {
    const when = connected ? "after the request was handed to it" : "before the request was sent";
    return {
      code: "reset",
      sent,
      message: `the connection to ${origin} was closed or reset ${when} (${code}: ${detail})`,
    };
  }
  if (
    code.startsWith("HPE_") ||
    INVALID_RESPONSE_CODES.has(code) ||
    errorName(error) === "HTTPParserError"
  ) {
    return {
      code: "invalid_response",
      sent: true,
      message: `${origin} answered with something that is not a valid HTTP/1.1 response (${code || "parse error"}: ${detail})`,
    };
  }
  if (ABORT_CODES.has(code) || errorName(error) === "AbortError") {
    return { code: "aborted", sent, message: `the request to ${origin} was aborted: ${detail}` };
  }
  if (code.startsWith("ERR_") || (code === "" && PROGRAMMING_ERROR_NAMES.has(errorName(error)))) {
    return {
      code: "internal",
      sent,
      message: `Steadfast failed inside its own process sending to ${origin} (${code || errorName(error)}: ${detail}): not the request's fault nor the destination's; the error is logged${sent ? "; the request may have been sent" : "; the request was not sent"}`,
    };
  }
  return {
    code: "unknown",
    sent,
    message: `the request to ${origin} failed${code === "" ? "" : ` (${code})`}: ${detail}`,
  };
}

function errorCode(error: unknown): string {
  if (typeof error !== "object" || error === null) return "";
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string") return code;
  const cause = (error as { cause?: unknown }).cause;
  return cause === undefined || cause === error ? "" : errorCode(cause);
}

function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : "";
}

function hostOf(origin: string): string {
  const start = origin.indexOf("//");
  return start === -1 ? origin : origin.slice(start + 2);
}
