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

/** How an `Idempotency-Key` header is read: what `readIdempotencyKeyHeader` accepts. */
export interface IdempotencyKeyRules {
  /**
   * Whether a bare key (`Idempotency-Key: abc`, what most clients send) is accepted beside the
   * draft's quoted Structured Field string (`"abc"`); both name the same key. Default `true`.
   * `false` holds clients to the draft: a bare key is refused, naming the quoted form.
   */
  bareKeys?: boolean;
  /**
   * Why a key (unquoted) is refused, or `undefined` when it is accepted. Default
   * `idempotencyKeyProblem` (1 to 255 characters a header value may hold, no space at either end).
   */
  keyProblem?: (key: string) => string | undefined;
}

/** What an `Idempotency-Key` header holds: no key, a key, or why it is not one. */
export type IdempotencyKeyReading =
  { kind: "absent" } | { kind: "key"; key: string } | { kind: "invalid"; problem: string };

// RFC 8941 section 3.3.3 (sf-string): printable ASCII, with \" and \\ escapes.
const SF_STRING = String.raw`"((?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\["\\])*)"`;
// A parameter's value (RFC 8941 section 3.1.2, bare-item), and RFC 9651's Date and Display String.
const BARE_ITEM = [
  String.raw`-?(?:\d{1,12}\.\d{1,3}|\d{1,15})`,
  String.raw`"(?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\["\\])*"`,
  String.raw`[A-Za-z*][!#$%&'*+.^_\x60|~0-9A-Za-z:/-]*`,
  String.raw`:[A-Za-z0-9+/=]*:`,
  String.raw`\?[01]`,
  String.raw`@-?\d{1,15}`,
  String.raw`%"(?:[\x20\x21\x23\x24\x26-\x5b\x5d-\x7e]|%[0-9a-f]{2}|\\["\\])*"`,
].join("|");
const PARAMETERS = String.raw`(?:; *[a-z*][a-z0-9_.*-]*(?:=(?:${BARE_ITEM}))?)*`;
// RFC 8941 section 4.2 (parsing a field as an Item): leading and trailing spaces are dropped;
// the item's parameters are parsed and ignored (the draft defines none).
const SF_STRING_ITEM = new RegExp(`^ *${SF_STRING}${PARAMETERS} *$`);

/**
 * Reads an `Idempotency-Key` header without throwing. The IETF draft
 * (draft-ietf-httpapi-idempotency-key-header-06, section 2) makes it an Item Structured Field
 * whose value is a String, `"abc"` (RFC 8941: printable ASCII, `\"` and `\\` escaped,
 * parameters allowed and ignored); the bare form most clients send (`abc`) is accepted too unless
 * `rules.bareKeys` is `false`. Either way the key, unquoted, must pass `rules.keyProblem`.
 *
 * @example readIdempotencyKeyHeader('"order-42"') // { kind: "key", key: "order-42" }
 */
export function readIdempotencyKeyHeader(
  header: string | null | undefined,
  rules: IdempotencyKeyRules = {},
): IdempotencyKeyReading {
  if (header === undefined || header === null) return { kind: "absent" };
  let key = header.trim();
  if (key.startsWith('"')) {
    const match = SF_STRING_ITEM.exec(key);
    if (match === null) {
      return {
        kind: "invalid",
        problem:
          rules.bareKeys === false
            ? 'is not a valid quoted string; send it quoted ("abc": printable ASCII, \\" and \\\\ escaped)'
            : 'is not a valid quoted string; send it bare (abc) or quoted ("abc")',
      };
    }
    key = match[1]!.replace(/\\(["\\])/g, "$1");
  } else if (rules.bareKeys === false) {
    return {
      kind: "invalid",
      problem:
        'must be a quoted string (draft-ietf-httpapi-idempotency-key-header): send "abc", not abc',
    };
  }
  const problem = (rules.keyProblem ?? idempotencyKeyProblem)(key);
  return problem === undefined ? { kind: "key", key } : { kind: "invalid", problem };
}

/**
 * Reads an `Idempotency-Key` header as Steadfast's own API does (`readIdempotencyKeyHeader` with
 * its default rules). Returns `undefined` when the header is absent. Throws `invalid_request`
 * (field `Idempotency-Key`) for a malformed quoted string or a key `idempotencyKeyProblem` refuses.
 */
export function parseIdempotencyKeyHeader(header: string | undefined): string | undefined {
  const reading = readIdempotencyKeyHeader(header);
  if (reading.kind === "invalid") throw invalidKey(reading.problem);
  return reading.kind === "key" ? reading.key : undefined;
}

function invalidKey(message: string): TerminalError {
  return new TerminalError("invalid_request", `Idempotency-Key ${message}`, {
    issues: [{ field: "Idempotency-Key", message }],
  });
}
