/**
 * The one redactor (ARCHITECTURE.md section 6; issue 10, item 3). Every read path shows URLs,
 * headers and messages through it: API views, problem details, callbacks, logs, CLI output.
 *
 * - Headers: credential-bearing names (`Authorization`, `Authentication`, `Proxy-Authorization`,
 *   `Cookie`, `Set-Cookie`, `X-Api-Key`, `Api-Key`, `X-Auth-Token`..., and any name containing
 *   `secret`, `token`, `password`, `api-key`, `signature`, `credential`, `session`...) show
 *   `[redacted]`; a URL inside another header's value is redacted as a URL.
 * - URLs: the user info (`user:password@`) always; the values of credential-bearing query (and
 *   fragment) parameters: `key`, `sig`, `signature`, `auth`, `code`, `access_token`, `token`,
 *   `password`, `secret`, `api_key`, `X-Amz-Signature`, `X-Amz-Credential`... Everything else is
 *   kept byte for byte, so the redacted URL still says where the call went.
 * - Free text (error messages from undici, pg, our own): every `scheme://...` in it.
 *
 * Pure string work: URLs that do not parse (the ones an error message quotes) are redacted too.
 */

/** Shown in place of a secret. */
export const REDACTED = "[redacted]";

// Header names that carry credentials.
const SECRET_HEADERS: ReadonlySet<string> = new Set([
  "authorization",
  "authentication",
  "proxy-authorization",
  "cookie",
  "set-cookie",
  "x-api-key",
  "api-key",
  "apikey",
  "x-auth",
  "x-auth-key",
  "x-csrf-token",
  "private-token",
]);

// Query and fragment parameter names that carry credentials (compared lower-cased, without a
// trailing `[]`).
const SECRET_PARAMETERS: ReadonlySet<string> = new Set([
  "key",
  "apikey",
  "sig",
  "signature",
  "auth",
  "code",
  "access_token",
  "refresh_token",
  "id_token",
  "token",
  "password",
  "pass",
  "pwd",
  "secret",
  "client_secret",
  "jwt",
]);

// Name fragments that usually mean a credential, in headers and parameters alike.
const SECRET_FRAGMENTS =
  /secret|token|passw|api[-_]?key|access[-_]?key|private[-_]?key|auth[-_]?key|signature|credential|session/i;

// Headers whose whole value is a URL, possibly relative (`Location: /x?token=...`).
const URL_HEADERS: ReadonlySet<string> = new Set(["location", "content-location", "referer"]);

// WHATWG URL special schemes: their authority also ends at a backslash.
const SPECIAL_SCHEMES: ReadonlySet<string> = new Set(["http", "https", "ws", "wss", "ftp", "file"]);

/** True when a header of this name carries a credential and is never shown. */
export function isSecretHeader(name: string): boolean {
  return SECRET_HEADERS.has(name.toLowerCase()) || SECRET_FRAGMENTS.test(name);
}

/** True when a query or fragment parameter of this (decoded) name carries a credential. */
export function isSecretParameter(name: string): boolean {
  const bare = name.replace(/\[[^\]]*\]$/, "").toLowerCase();
  return SECRET_PARAMETERS.has(bare) || SECRET_FRAGMENTS.test(bare);
}

/** A copy of `headers` with credential-bearing values replaced by `[redacted]`. */
export function redactHeaders(headers: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (isSecretHeader(name)) out[name] = REDACTED;
    else if (URL_HEADERS.has(name.toLowerCase())) out[name] = redactUrl(value);
    else out[name] = redactText(value);
  }
  return out;
}

/**
 * `url` with its user info and credential-bearing parameter values replaced by `[redacted]`,
 * the rest unchanged. Works on any string, absolute or relative, valid or not.
 *
 * @example redactUrl("https://u:pw@api.example.com/x?api_key=S&page=2") // "https://[redacted]@api.example.com/x?api_key=[redacted]&page=2"
 */
export function redactUrl(url: string | URL): string {
  let text = typeof url === "string" ? url : url.href;
  // Credentials can only be in the user info (before an `@`) or in parameters (after a `?` or
  // `#`): a URL with none of these is shown as it is.
  if (!/[@?#]/.test(text)) return text;
  // The URL parser drops tabs and newlines anywhere (WHATWG URL, "basic URL parser"); so does
  // this, so that none can hide a delimiter.
  if (/[\t\n\r]/.test(text)) text = text.replace(/[\t\n\r]/g, "");
  return redactParameters(redactUserInfo(text));
}

/**
 * `text` with every absolute URL in it (`scheme://...`) redacted as `redactUrl` does: for error
 * messages that may quote one (undici's, pg's, ours).
 *
 * @example redactText('GET "https://u:pw@h/x?token=T" failed') // 'GET "https://[redacted]@h/x?token=[redacted]" failed'
 */
export function redactText(text: string): string {
  if (!text.includes("//")) return text;
  return text.replace(/[A-Za-z][A-Za-z0-9+.-]*:\/\/[^\s"<>`]*/g, (match) => {
    // Punctuation that ends the sentence or closes a bracket or quote is not part of the URL.
    const url = match.replace(/[.,;:!?')\]}]+$/, "");
    return redactUrl(url) + match.slice(url.length);
  });
}

function redactUserInfo(text: string): string {
  // Leading spaces and C0 controls are dropped by the URL parser too.
  // eslint-disable-next-line no-control-regex -- that is the point
  const scheme = /^[\x00-\x20]*([A-Za-z][A-Za-z0-9+.-]*):/.exec(text);
  const special = scheme === null || SPECIAL_SCHEMES.has(scheme[1]!.toLowerCase());
  let start = scheme === null ? 0 : scheme[0].length;
  const slashes = special ? /^[/\\]*/.exec(text.slice(start)) : /^\/*/.exec(text.slice(start));
  start += slashes![0].length;
  const rest = text.slice(start);
  // The authority ends at the path, query or fragment (WHATWG URL, "authority state").
  let end = rest.search(special ? /[/\\?#]/ : /[/?#]/);
  if (end === -1) end = rest.length;
  // A URL that does not parse may have a delimiter inside its password (`u:pa/ss@host`): there,
  // everything up to the last `@` before the query is taken for user info.
  if (!URL.canParse(text)) {
    const queryAt = rest.search(/[?#]/);
    end = queryAt === -1 ? rest.length : queryAt;
  }
  const at = rest.lastIndexOf("@", end - 1);
  if (at === -1 || end === 0) return text;
  return text.slice(0, start) + REDACTED + rest.slice(at);
}

function redactParameters(text: string): string {
  const queryAt = text.indexOf("?");
  const hashAt = text.indexOf("#");
  if (queryAt === -1 && hashAt === -1) return text;
  const firstAt = queryAt === -1 ? hashAt : hashAt === -1 ? queryAt : Math.min(queryAt, hashAt);
  let out = text.slice(0, firstAt);
  // The query runs to the first `#`; the fragment is the rest (OAuth's implicit flow puts
  // `access_token` there).
  if (queryAt !== -1 && (hashAt === -1 || queryAt < hashAt)) {
    const queryEnd = hashAt === -1 ? text.length : hashAt;
    out += "?" + redactPairs(text.slice(queryAt + 1, queryEnd));
    if (hashAt !== -1) out += "#" + redactPairs(text.slice(hashAt + 1));
  } else {
    out += "#" + redactPairs(text.slice(hashAt + 1));
  }
  return out;
}

// `a=1&token=x;b=2`: each pair whose name is a credential keeps its name and loses its value.
function redactPairs(pairs: string): string {
  if (!pairs.includes("=")) return pairs;
  return pairs
    .split(/([&;])/)
    .map((pair) => {
      const eq = pair.indexOf("=");
      if (eq === -1) return pair;
      const name = pair.slice(0, eq);
      return isSecretParameter(decodeName(name)) ? `${name}=${REDACTED}` : pair;
    })
    .join("");
}

function decodeName(name: string): string {
  const spaced = name.replaceAll("+", " ");
  try {
    return decodeURIComponent(spaced);
  } catch {
    return spaced;
  }
}
