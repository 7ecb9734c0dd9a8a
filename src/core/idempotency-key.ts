/**
 * The one rule for an `Idempotency-Key` (issue 10): what the HTTP API, the in-process API, the
 * REST client and the CLI accept. The key is stored with the call and forwarded upstream as a
 * header on every attempt, so it must be sendable as one, exactly as given.
 */
import { TerminalError } from "./errors.ts";
import { headerValueProblem } from "./http-fields.ts";

/** Longest idempotency key, characters. */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 255;

/**
 * Why `key` cannot be an idempotency key, or `undefined` when it can: 1 to 255 characters, each
 * one a header value may hold (`headerValueProblem`: visible ASCII, spaces, tabs, Latin-1), not
 * beginning or ending with a space or tab (HTTP drops those, so the key would change on the way).
 * Never quotes the key.
 *
 * @example idempotencyKeyProblem("order-42") // undefined
 */
export function idempotencyKeyProblem(key: string): string | undefined {
  if (key.length === 0)
    return "is empty; send a unique value per request (1 to 255 characters), such as a UUID";
  if (key.length > MAX_IDEMPOTENCY_KEY_LENGTH) {
    return `is ${key.length} characters; use at most ${MAX_IDEMPOTENCY_KEY_LENGTH}, such as a UUID`;
  }
  const character = headerValueProblem(key);
  if (character !== undefined) return character;
  if (/^[ \t]|[ \t]$/.test(key)) {
    return "begins or ends with a space or tab, which HTTP drops from a header value: trim it";
  }
  return undefined;
}

/**
 * `key`, checked by `idempotencyKeyProblem`; throws `invalid_request` (field `Idempotency-Key`)
 * when it is not a valid key.
 */
export function checkIdempotencyKey(key: string): string {
  const problem = idempotencyKeyProblem(key);
  if (problem !== undefined) throw invalidKey(problem);
  return key;
}

/**
 * Reads an `Idempotency-Key` header. The IETF draft (draft-ietf-httpapi-idempotency-key-header)
 * makes it a Structured Field string, `"abc"`; the bare form most clients send (`abc`) is accepted
 * too, and both name the same key. Returns `undefined` when the header is absent. Throws
 * `invalid_request` for a malformed quoted string or a key `idempotencyKeyProblem` refuses.
 */
export function parseIdempotencyKeyHeader(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  let key = header.trim();
  if (key.startsWith('"')) {
    // RFC 8941 section 3.3.3: a quoted string with \" and \\ escapes, printable ASCII only.
    const match = /^"((?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\["\\])*)"$/.exec(key);
    if (match === null)
      throw invalidKey('is not a valid quoted string; send it bare (abc) or quoted ("abc")');
    key = match[1]!.replace(/\\(["\\])/g, "$1");
  }
  return checkIdempotencyKey(key);
}

function invalidKey(message: string): TerminalError {
  return new TerminalError("invalid_request", `Idempotency-Key ${message}`, {
    issues: [{ field: "Idempotency-Key", message }],
  });
}
