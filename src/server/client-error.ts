// Requests node:http refuses before any route sees them (the server's `clientError` event): a
// header section over the size limit, control bytes in a header, a space in the target, a method
// llhttp does not know, a broken chunked body, a request that took too long to arrive; and
// `CONNECT`, which node drops without an answer. Node's own answer is a bare `400`/`431`/`408`
// with no body; we answer the same statuses as `application/problem+json` from the one table, so
// every error of the API has one shape.
import { randomUUID } from "node:crypto";
import {
  STATUS_CODES,
  maxHeaderSize,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import type { Duplex } from "node:stream";
import type { Logger } from "pino";
import {
  PROBLEM_CONTENT_TYPE,
  PROBLEM_KINDS,
  problemDocument,
  redactedPath,
  type ProblemCode,
} from "./problem.ts";

/** How long a refused connection may stay half-closed so the client reads the answer, ms. */
const LINGER_MS = 1_000;

/** The answer to a parser error: its problem code and a detail naming the fix. */
export interface ClientErrorProblem {
  code: ProblemCode;
  detail: string;
}

const NOT_HTTP =
  "The request is not valid HTTP/1.1 and could not be read; send a request line `METHOD /path HTTP/1.1`, then header lines, each ending in CRLF";

/**
 * The problem to answer for a node:http `clientError`, by its `code` (llhttp's `HPE_*`, or
 * Node's `ERR_HTTP_REQUEST_TIMEOUT`); `undefined` for a connection that is gone (`ECONNRESET`,
 * `EPIPE`...), which is only closed. The detail never quotes the bytes received: they are what
 * the parser could not read, and may hold anything (a secret in a header, control bytes).
 */
export function clientErrorProblem(
  code: string | undefined,
  headerLimitBytes: number = maxHeaderSize,
): ClientErrorProblem | undefined {
  switch (code) {
    case "HPE_HEADER_OVERFLOW":
      return {
        code: "headers_too_large",
        detail: `The request line and headers are larger than this server's limit of ${headerLimitBytes} bytes; send fewer or shorter headers (large data belongs in the body)`,
      };
    case "HPE_CHUNK_EXTENSIONS_OVERFLOW":
      return {
        code: "payload_too_large",
        detail:
          "The chunk extensions of the chunked body are too large; send chunks without extensions",
      };
    case "ERR_HTTP_REQUEST_TIMEOUT":
      return {
        code: "request_timeout",
        detail:
          "The request was not received in full in time; send the headers and body without pausing, then retry",
      };
    case "HPE_INVALID_METHOD":
      return {
        code: "bad_request",
        detail:
          "The request method is not one HTTP defines; this API uses GET, POST and PUT (see GET /openapi.json)",
      };
    case "HPE_INVALID_URL":
      return {
        code: "bad_request",
        detail:
          "The request target is not a valid path; percent-encode spaces and control characters (RFC 3986)",
      };
    case "HPE_INVALID_HEADER_TOKEN":
      return {
        code: "bad_request",
        detail:
          "A header has a character HTTP does not allow (a control byte in a value, or a separator or space in a name; RFC 9110 section 5); remove it or percent-encode the value",
      };
    case "HPE_INVALID_CONSTANT":
    case "HPE_INVALID_VERSION":
      return {
        code: "bad_request",
        detail:
          "The request line is not `METHOD /path HTTP/1.1`; percent-encode spaces in the path (%20), and send HTTP/1.1 or HTTP/1.0",
      };
    case "HPE_INVALID_CONTENT_LENGTH":
    case "HPE_UNEXPECTED_CONTENT_LENGTH":
      return {
        code: "bad_request",
        detail:
          "Content-Length is not a single decimal number, or is sent with Transfer-Encoding; send one or the other (RFC 9112 section 6)",
      };
    case "HPE_INVALID_TRANSFER_ENCODING":
    case "HPE_INVALID_CHUNK_SIZE":
      return {
        code: "bad_request",
        detail:
          "The body's Transfer-Encoding is not chunked as RFC 9112 section 7.1 defines; send Content-Length with the body instead",
      };
    case "ECONNRESET":
    case "EPIPE":
    case "ERR_STREAM_DESTROYED":
    case undefined:
      return undefined;
    default:
      return code.startsWith("HPE_") ? { code: "bad_request", detail: NOT_HTTP } : undefined;
  }
}

/** A server-side socket, with the answer node:http is writing on it (if any). */
type HttpSocket = Duplex & { _httpMessage?: ServerResponse | null };

/**
 * Runs `then` once the answers of earlier, complete requests on `socket` are written (HTTP/1.1
 * pipelining: a request after them failed to parse, and its answer must come after theirs, or
 * the client would take it for one of them: a call accepted, read as refused). At once when
 * nothing is in flight, or when what is in flight is the failing request's own answer, not yet
 * started (its body failed to parse). `orElse` when the connection cannot carry an answer.
 */
function afterEarlierAnswers(socket: HttpSocket, then: () => void, orElse: () => void): void {
  if (!socket.writable) return orElse();
  // node:http's own default handler reads the same field (`socketOnError` in _http_server.js).
  const inFlight = socket._httpMessage;
  if (inFlight == null) return then();
  if (!inFlight.req.complete) return inFlight.headersSent ? orElse() : then();
  const next = (): void => {
    inFlight.off("finish", next);
    inFlight.off("close", next);
    // node hands the socket to the next queued answer on `finish`, after this listener's turn.
    setImmediate(() => afterEarlierAnswers(socket, then, orElse));
  };
  inFlight.once("finish", next);
  inFlight.once("close", next);
}

/** Options of `refuseMalformedRequests`. */
export interface MalformedRequestOptions {
  /** Each refused request is logged here at debug level (a client's mistake, not ours). */
  logger: Logger;
  /** Makes the correlation id of each answer. Default `crypto.randomUUID`. */
  newId?: () => string;
  /** The server's header size limit, bytes, for the `431` detail. Default node's `maxHeaderSize`. */
  headerLimitBytes?: number;
}

/**
 * Answers, on a node:http `server`, what never reaches a route, as `application/problem+json`
 * (status from the problem table, a correlation id in the body and `X-Request-Id`,
 * `Connection: close`), then closes the connection:
 * - a request the parser refused (`clientError`): see `clientErrorProblem`; answered after the
 *   answers of earlier requests on the connection (pipelining). A connection that is gone, or no
 *   longer writable, is destroyed unanswered;
 * - an `Expect` other than `100-continue` (`checkExpectation`): `417 expectation_failed`;
 * - a `CONNECT` (`connect`), which node hands to the server as a tunnel request and, with no
 *   listener, drops without a word: this server is not a proxy.
 */
export function refuseMalformedRequests(server: Server, options: MalformedRequestOptions): void {
  const newId = options.newId ?? randomUUID;
  const refuse = (socket: Duplex, problem: ClientErrorProblem, cause: string | undefined): void => {
    const correlationId = newId();
    const { status } = PROBLEM_KINDS[problem.code];
    options.logger.debug(
      { requestId: correlationId, code: cause, status },
      "malformed request refused",
    );
    const body = JSON.stringify(problemDocument(problem.code, problem.detail, { correlationId }));
    socket.end(
      [
        `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ""}`,
        `Content-Type: ${PROBLEM_CONTENT_TYPE}`,
        `Content-Length: ${Buffer.byteLength(body)}`,
        `X-Request-Id: ${correlationId}`,
        "Connection: close",
        "",
        body,
      ].join("\r\n"),
    );
    // Half-closed, so the client reads the answer before the connection goes (RFC 9112 section
    // 9.6); a client that neither reads nor closes is cut after LINGER_MS.
    const linger = setTimeout(() => socket.destroy(), LINGER_MS);
    linger.unref();
    socket.once("close", () => clearTimeout(linger));
  };
  // Sockets already being refused: the parser, once failed, fails again on any further bytes.
  const refusing = new WeakSet<Duplex>();
  server.on("clientError", (error: NodeJS.ErrnoException, socket: Duplex) => {
    if (refusing.has(socket)) return;
    const problem = clientErrorProblem(error.code, options.headerLimitBytes);
    if (problem === undefined) {
      socket.destroy();
      return;
    }
    refusing.add(socket);
    afterEarlierAnswers(
      socket,
      () => refuse(socket, problem, error.code),
      () => socket.destroy(),
    );
  });
  server.on("checkExpectation", (request: IncomingMessage, response: ServerResponse) => {
    // An `Expect` other than 100-continue (RFC 9110 section 10.1.1): node answers a bare 417.
    const correlationId = newId();
    options.logger.debug(
      { requestId: correlationId, status: 417 },
      "request with an unsupported Expect refused",
    );
    const body = JSON.stringify(
      problemDocument("expectation_failed", EXPECT_DETAIL, {
        correlationId,
        ...pathOf(request),
      }),
    );
    response.shouldKeepAlive = false;
    response.writeHead(417, {
      "Content-Type": PROBLEM_CONTENT_TYPE,
      "Content-Length": Buffer.byteLength(body),
      "X-Request-Id": correlationId,
    });
    response.end(body);
  });
  server.on("connect", (_request: IncomingMessage, socket: Duplex) => {
    // A tunnel's bytes may follow; nothing more is read from this connection.
    socket.on("error", () => undefined);
    refuse(socket, CONNECT_REFUSED, "CONNECT");
  });
}

const CONNECT_REFUSED: ClientErrorProblem = {
  code: "bad_request",
  detail:
    "CONNECT opens a tunnel through a proxy, and this server is not one; send GET, POST or PUT to the routes in GET /openapi.json",
};

const EXPECT_DETAIL =
  "The only expectation this server meets is Expect: 100-continue; remove the Expect header or send that";

/** `{ instance: <path> }` of a parsed request, redacted; never its query, which may hold a secret. */
function pathOf(request: IncomingMessage): { instance?: string } {
  const path = request.url?.split("?")[0];
  return path === undefined || !path.startsWith("/") ? {} : { instance: redactedPath(path) };
}
