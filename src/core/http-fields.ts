/**
 * What a stored request may hold so that our HTTP client can send it (issue 10): the rules on
 * methods, header names and header values the door applies, in one place. They follow RFC 9110
 * and what undici, our transport, refuses (`lib/core/request.js`), so a request accepted at
 * submit is never refused on every attempt afterwards.
 */

/** An RFC 9110 token (section 5.6.2): what a header name must be. */
export const TOKEN_PATTERN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * A method: 1 to 16 letters (every registered method; a subset of RFC 9110 tokens). `CONNECT` is
 * refused on top of this (`methodProblem`).
 */
export const METHOD_PATTERN = /^[A-Za-z]{1,16}$/;

// The one definition of a header value's characters, as the body of a character class.
const HEADER_VALUE_CHARACTERS = String.raw`\t\x20-\x7e\x80-\xff`;

/**
 * The characters of a header value: RFC 9110 section 5.5 (visible ASCII, SP, HTAB, and obs-text
 * 0x80-0xFF, sent as Latin-1). undici refuses any other character, and CR or LF would split the
 * request. A value of only whitespace is refused on top of this (`headerValueProblem`).
 */
export const HEADER_VALUE_PATTERN = new RegExp(`^[${HEADER_VALUE_CHARACTERS}]*$`);

// The first character `HEADER_VALUE_PATTERN` refuses, for messages.
const NOT_IN_HEADER_VALUE = new RegExp(`[^${HEADER_VALUE_CHARACTERS}]`, "u");

/**
 * Methods refused at the door. `CONNECT` asks for a tunnel (undici treats it as an upgrade), not
 * a request with a response a call could record.
 */
const REFUSED_METHODS: ReadonlyMap<string, string> = new Map([
  ["CONNECT", "CONNECT opens a tunnel, which a durable call cannot make; use another method"],
]);

/**
 * Request headers refused at the door, lower-cased, with the reason. None is dropped silently:
 * a request is sent as given or refused.
 */
export const REFUSED_HEADERS: ReadonlyMap<string, string> = new Map([
  ["host", "comes from the url; put the host you want in the url"],
  ["content-length", "is computed from the body on each attempt; remove it"],
  [
    "transfer-encoding",
    "is chosen by Steadfast's HTTP client (it sends Content-Length); remove it",
  ],
  [
    "expect",
    "is not supported by Steadfast's HTTP client (the body is sent with the request); remove it",
  ],
  ...["connection", "keep-alive", "upgrade", "te", "trailer", "proxy-connection"].map(
    (name): [string, string] => [
      name,
      "is a hop-by-hop header that Steadfast's HTTP client manages per connection; remove it",
    ],
  ),
]);

/** Why `method` cannot be sent, or `undefined` when it can. */
export function methodProblem(method: string): string | undefined {
  if (!METHOD_PATTERN.test(method)) return "must be an HTTP method such as GET or POST";
  return REFUSED_METHODS.get(method.toUpperCase());
}

/**
 * Why `value` cannot be sent as a header value, or `undefined` when it can. The message names the
 * offending character and its position, never the value (it may be a secret).
 */
export function headerValueProblem(value: string): string | undefined {
  const bad = NOT_IN_HEADER_VALUE.exec(value);
  if (bad !== null) {
    return `contains ${describeCharacter(bad[0])} at position ${bad.index}; a header value may hold only visible ASCII, spaces, tabs and Latin-1 characters (encode other text, for example as percent-encoding or base64)`;
  }
  if (/^[ \t]+$/.test(value)) {
    return 'is only whitespace, which the receiver reads as an empty value; send "" or remove the header';
  }
  return undefined;
}

/** Why a header named `name` (any case) is refused, or `undefined` when it may be sent. */
export function headerNameProblem(name: string): string | undefined {
  if (!TOKEN_PATTERN.test(name)) return "must be a valid header name";
  return REFUSED_HEADERS.get(name.toLowerCase());
}

const NAMED_CHARACTERS: ReadonlyMap<string, string> = new Map([
  ["\0", "a NUL character"],
  ["\r", "a carriage return (CR)"],
  ["\n", "a line feed (LF)"],
  ["\x7f", "a DEL character"],
]);

function describeCharacter(character: string): string {
  const code = character.codePointAt(0) ?? 0;
  const hex = `U+${code.toString(16).toUpperCase().padStart(4, "0")}`;
  const named = NAMED_CHARACTERS.get(character);
  if (named !== undefined) return `${named}, ${hex},`;
  return code < 0x20 ? `a control character (${hex})` : `a character outside Latin-1 (${hex})`;
}

/**
 * True for a JSON media type: `application/json` or any `+json` structured-syntax suffix
 * (RFC 6839 section 3.1), parameters ignored.
 *
 * @example isJsonMediaType("application/problem+json; charset=utf-8") // true
 */
export function isJsonMediaType(contentType: string): boolean {
  const essence = contentType.split(";", 1)[0]!.trim().toLowerCase();
  return essence === "application/json" || essence.endsWith("+json");
}
