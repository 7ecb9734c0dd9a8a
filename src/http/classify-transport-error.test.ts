import { errors } from "undici";
import { describe, expect, it } from "vitest";
import { classifyTransportError } from "./classify-transport-error.ts";
import { BlockedDestinationError } from "./guarded-connector.ts";

const origin = "https://api.example.com";

function withCode(code: string, message = code): Error {
  return Object.assign(new Error(message), { code });
}

describe("classifyTransportError", () => {
  it.each([
    [withCode("ENOTFOUND", "getaddrinfo ENOTFOUND api.example.com"), "dns"],
    [withCode("EAI_AGAIN"), "dns"],
    [withCode("ECONNREFUSED"), "connect_refused"],
    [new errors.ConnectTimeoutError(), "connect_timeout"],
    [withCode("ETIMEDOUT"), "connect_timeout"],
    [withCode("DEPTH_ZERO_SELF_SIGNED_CERT", "self-signed certificate"), "tls"],
    [withCode("CERT_HAS_EXPIRED"), "tls"],
    [withCode("ERR_TLS_CERT_ALTNAME_INVALID"), "tls"],
    [withCode("ERR_SSL_WRONG_VERSION_NUMBER"), "tls"],
    [withCode("EPROTO"), "tls"],
    [
      new BlockedDestinationError("api.example.com", ["10.0.0.1"], "private (RFC 1918)"),
      "blocked_destination",
    ],
    [withCode("EHOSTUNREACH"), "unknown"],
    [new errors.InvalidArgumentError("invalid x-bad header"), "invalid_request"],
    [new errors.NotSupportedError("expect header not supported"), "invalid_request"],
    // Node's own ERR_* codes: a wrong value passed by code, ours; not the tenant's request.
    [withCode("ERR_INVALID_CHAR", "Invalid character in header content"), "internal"],
    [withCode("ERR_INVALID_ARG_TYPE", 'The "chunk" argument must be of type string'), "internal"],
    [withCode("ERR_INVALID_ARG_VALUE"), "internal"],
    [new TypeError("Cannot read properties of undefined (reading 'x')"), "internal"],
  ] as const)("maps %s before connecting to %s, sent false", (error, code) => {
    expect(classifyTransportError(error, { origin, connected: false })).toMatchObject({
      code,
      sent: false,
    });
  });

  it.each([
    [new errors.HeadersTimeoutError(), "read_timeout"],
    [new errors.BodyTimeoutError(), "read_timeout"],
    [withCode("ECONNRESET"), "reset"],
    [withCode("EPIPE"), "reset"],
    [withCode("ETIMEDOUT"), "reset"],
    [new errors.SocketError("other side closed"), "reset"],
    [
      withCode("HPE_INVALID_CONSTANT", "Response does not match the HTTP/1.1 protocol"),
      "invalid_response",
    ],
    [
      new errors.HTTPParserError("Response does not match the HTTP/1.1 protocol"),
      "invalid_response",
    ],
    [new errors.ResponseContentLengthMismatchError(), "invalid_response"],
    [new errors.HeadersOverflowError(), "invalid_response"],
    [new errors.RequestAbortedError(), "aborted"],
    [new errors.ClientDestroyedError(), "aborted"],
    [new Error("something odd"), "unknown"],
    ["a string", "unknown"],
  ] as const)("maps %s after connecting to %s, sent true", (error, code) => {
    expect(classifyTransportError(error, { origin, connected: true })).toMatchObject({
      code,
      sent: true,
    });
  });

  it("reports a reset before the request was handed to a connection as not sent", () => {
    const failure = classifyTransportError(withCode("ECONNRESET"), { origin, connected: false });
    expect(failure).toMatchObject({ code: "reset", sent: false });
    expect(failure.message).toContain("before the request was sent");
  });

  it("writes messages that name the origin and what to check", () => {
    const dns = classifyTransportError(withCode("ENOTFOUND"), { origin, connected: false });
    expect(dns.message).toMatch(/api\.example\.com.*ENOTFOUND.*check the host name/);
    const refused = classifyTransportError(withCode("ECONNREFUSED"), { origin, connected: false });
    expect(refused.message).toContain(origin);
    const read = classifyTransportError(new errors.HeadersTimeoutError(), {
      origin,
      connected: true,
      readTimeoutMs: 2_500,
    });
    expect(read.message).toMatch(/no response headers within 2500 ms.*timeout\.readMs/);
  });

  it("says a request our client refused was not sent and will not be sent as it is", () => {
    const failure = classifyTransportError(
      new errors.InvalidArgumentError("invalid x-bad header"),
      {
        origin,
        connected: false,
      },
    );
    expect(failure.message).toMatch(
      /refused to send the request to https:\/\/api\.example\.com \(UND_ERR_INVALID_ARG: invalid x-bad header\); it was not sent.*fix the request/,
    );
  });

  it("recognises a blocked destination by its brand and code, not its class (issue 10)", () => {
    // As another copy of the package raises it: the registered brand, another class.
    const foreign = Object.assign(new Error("blocked destination: 10.0.0.1 is a private address"), {
      code: "blocked_destination",
      [Symbol.for("steadfast.error")]: true,
      [Symbol.for("steadfast.error.retryable")]: false,
    });
    expect(classifyTransportError(foreign, { origin, connected: false })).toEqual({
      code: "blocked_destination",
      sent: false,
      message: foreign.message,
    });
    // The code alone, without the brand, is not enough.
    const impostor = withCode("blocked_destination");
    expect(classifyTransportError(impostor, { origin, connected: false }).code).toBe("unknown");
  });

  it("says a failure inside our own process is not the request's fault", () => {
    const failure = classifyTransportError(withCode("ERR_INVALID_ARG_TYPE", "bad chunk"), {
      origin,
      connected: false,
    });
    expect(failure.message).toBe(
      "Steadfast failed inside its own process sending to https://api.example.com (ERR_INVALID_ARG_TYPE: bad chunk): not the request's fault nor the destination's; the error is logged; the request was not sent",
    );
  });

  it("finds the code on a wrapped cause", () => {
    const wrapped = new Error("fetch failed", { cause: withCode("ECONNREFUSED") });
    expect(classifyTransportError(wrapped, { origin, connected: false }).code).toBe(
      "connect_refused",
    );
  });
});
