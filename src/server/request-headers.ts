import { TerminalError } from "../core/errors.ts";

/** Longest `Prefer: wait` honoured, in seconds. Longer waits are cut to this. */
export const MAX_PREFER_WAIT_SECONDS = 60;

/** The `wait` preference, as honoured. */
export interface PreferWait {
  /** Seconds to hold the response, at most `MAX_PREFER_WAIT_SECONDS`. */
  seconds: number;
  /** The value for `Preference-Applied` (RFC 7240 section 3): `wait=<seconds>`. */
  applied: string;
}

/**
 * Reads the `wait` preference of a `Prefer` header (RFC 7240 section 4.3): `wait=<delta-seconds>`,
 * possibly among other preferences (`respond-async, wait=10`). Only the first `wait` counts
 * (section 2); a malformed one is ignored, as the RFC asks of preferences a server cannot use.
 * The wait is capped at `maxSeconds` (default 60).
 *
 * @example parsePreferWait("respond-async, wait=5") // { seconds: 5, applied: "wait=5" }
 */
export function parsePreferWait(
  header: string | undefined,
  maxSeconds: number = MAX_PREFER_WAIT_SECONDS,
): PreferWait | undefined {
  if (header === undefined) return undefined;
  for (const preference of header.split(",")) {
    const [token = ""] = preference.split(";");
    const eq = token.indexOf("=");
    const name = (eq === -1 ? token : token.slice(0, eq)).trim().toLowerCase();
    if (name !== "wait") continue;
    const value =
      eq === -1
        ? ""
        : token
            .slice(eq + 1)
            .trim()
            .replace(/^"(.*)"$/, "$1");
    if (!/^\d{1,10}$/.test(value)) return undefined;
    const seconds = Math.min(Number(value), maxSeconds);
    return { seconds, applied: `wait=${seconds}` };
  }
  return undefined;
}

/**
 * Reads an `Idempotency-Key` header. The IETF draft (draft-ietf-httpapi-idempotency-key-header)
 * makes it a Structured Field string, `"abc"`; the bare form most clients send (`abc`) is accepted
 * too, and both name the same key. Returns `undefined` when the header is absent.
 * Throws `invalid_request` for an empty key or a malformed quoted string.
 */
export function parseIdempotencyKey(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  let key = header.trim();
  if (key.startsWith('"')) {
    // RFC 8941 section 3.3.3: a quoted string with \" and \\ escapes, printable ASCII only.
    const match = /^"((?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\["\\])*)"$/.exec(key);
    if (match === null)
      throw invalidKey('is not a valid quoted string; send it bare (abc) or quoted ("abc")');
    key = match[1]!.replace(/\\(["\\])/g, "$1");
  }
  if (key === "") throw invalidKey("is empty; send a unique value per request, such as a UUID");
  return key;
}

function invalidKey(message: string): TerminalError {
  return new TerminalError("invalid_request", `Idempotency-Key ${message}`, {
    issues: [{ field: "Idempotency-Key", message }],
  });
}
