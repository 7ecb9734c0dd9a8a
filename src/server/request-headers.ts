import { TerminalError } from "../core/errors.ts";

/** Longest `Prefer: wait` honoured, in seconds (default cap). Longer waits are cut to this. */
export const MAX_PREFER_WAIT_SECONDS = 60;

/** The `wait` preference, as honoured. */
export interface PreferWait {
  /** Seconds to hold the response, at most `MAX_PREFER_WAIT_SECONDS`. */
  seconds: number;
  /** The value for `Preference-Applied` (RFC 7240 section 3): `wait=<seconds>`. */
  applied: string;
}

/**
 * The preferences of a `Prefer` header (RFC 7240 section 2), by lower-case name, each with its
 * value (unquoted; `""` when it has none). Only the first instance of a preference counts;
 * parameters (`;foo=bar`) are dropped, as no preference we honour has any.
 */
function parsePreferences(header: string): Map<string, string> {
  const preferences = new Map<string, string>();
  for (const preference of header.split(",")) {
    const [token = ""] = preference.split(";");
    const eq = token.indexOf("=");
    const name = (eq === -1 ? token : token.slice(0, eq)).trim().toLowerCase();
    if (name === "" || preferences.has(name)) continue;
    const value =
      eq === -1
        ? ""
        : token
            .slice(eq + 1)
            .trim()
            .replace(/^"(.*)"$/, "$1");
    preferences.set(name, value);
  }
  return preferences;
}

/**
 * Reads the `wait` preference of a `Prefer` header (RFC 7240 section 4.3): `wait=<delta-seconds>`,
 * possibly among other preferences (`respond-async, wait=10`). Only the first `wait` counts
 * (section 2). A wait longer than `maxSeconds` (default 60), however many digits, is cut to it,
 * and `applied` says so.
 *
 * A `wait` that is not whole seconds (`wait=-1`, `wait=abc`, `wait=1e9`, `wait=1.5`, a bare
 * `wait`) is a client bug, refused with `invalid_request` naming the header and the fix, rather
 * than silently answering at once. RFC 7240 section 2 has a server ignore a preference it cannot
 * comply with; a client that wants that sends `handling=lenient` (section 4.4) with it, and the
 * unusable wait is then ignored (no `Preference-Applied`). Unknown preferences are always ignored.
 *
 * @example parsePreferWait("respond-async, wait=5") // { seconds: 5, applied: "wait=5" }
 */
export function parsePreferWait(
  header: string | undefined,
  maxSeconds: number = MAX_PREFER_WAIT_SECONDS,
): PreferWait | undefined {
  if (header === undefined) return undefined;
  const preferences = parsePreferences(header);
  const value = preferences.get("wait");
  if (value === undefined) return undefined;
  if (/^\d+$/.test(value)) {
    // RFC 9111 section 1.2.2: delta-seconds too large to represent mean "very long"; Number()
    // of a long digit string is at worst Infinity, which the cap turns into maxSeconds.
    const seconds = Math.min(Number(value), maxSeconds);
    return { seconds, applied: `wait=${seconds}` };
  }
  if (preferences.get("handling")?.toLowerCase() === "lenient") return undefined;
  const got = value === "" ? "no value" : JSON.stringify(value.slice(0, 32));
  const message = `wait must be whole seconds from 0 to ${maxSeconds}, such as wait=10; got ${got} (send handling=lenient too to have an unusable wait ignored)`;
  throw new TerminalError("invalid_request", `Prefer: ${message}`, {
    issues: [{ field: "Prefer", message }],
  });
}
