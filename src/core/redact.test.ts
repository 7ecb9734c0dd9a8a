import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  isSecretHeader,
  isSecretParameter,
  REDACTED,
  redactHeaders,
  redactText,
  redactUrl,
} from "./redact.ts";

describe("redactHeaders", () => {
  it("hides credential headers whatever their case, Authentication included", () => {
    expect(
      redactHeaders({
        authorization: "Bearer x",
        Authentication: "Basic y",
        "proxy-authorization": "Basic z",
        cookie: "sid=1",
        "set-cookie": "sid=2",
        "x-api-key": "k",
        "x-stripe-token": "t",
        "x-hub-signature-256": "sha256=s",
        accept: "json",
      }),
    ).toEqual({
      authorization: REDACTED,
      Authentication: REDACTED,
      "proxy-authorization": REDACTED,
      cookie: REDACTED,
      "set-cookie": REDACTED,
      "x-api-key": REDACTED,
      "x-stripe-token": REDACTED,
      "x-hub-signature-256": REDACTED,
      accept: "json",
    });
  });

  it("redacts URLs inside other headers' values, relative ones in Location", () => {
    expect(
      redactHeaders({
        location: "/download?X-Amz-Signature=abc&part=2",
        link: '<https://api.example.com/p?access_token=T>; rel="next"',
        "content-type": "text/plain",
      }),
    ).toEqual({
      location: `/download?X-Amz-Signature=${REDACTED}&part=2`,
      link: `<https://api.example.com/p?access_token=${REDACTED}>; rel="next"`,
      "content-type": "text/plain",
    });
  });
});

describe("redactUrl", () => {
  it("hides user info and credential parameters, keeping the rest byte for byte", () => {
    expect(redactUrl("http://u:pw@host/x?api_key=SECRET456")).toBe(
      `http://${REDACTED}@host/x?api_key=${REDACTED}`,
    );
    expect(redactUrl("https://user@api.example.com/x?page=2&sig=s&Signature=t&auth=a")).toBe(
      `https://${REDACTED}@api.example.com/x?page=2&sig=${REDACTED}&Signature=${REDACTED}&auth=${REDACTED}`,
    );
    expect(redactUrl("https://api.example.com/cb?code=C&state=xyz&access_token=A")).toBe(
      `https://api.example.com/cb?code=${REDACTED}&state=xyz&access_token=${REDACTED}`,
    );
    expect(redactUrl("https://api.example.com/x?page=2")).toBe("https://api.example.com/x?page=2");
    expect(redactUrl(new URL("https://a:b@h.example/"))).toBe(`https://${REDACTED}@h.example/`);
  });

  it("reads names as a server would: encoded, any case, PHP arrays, `;` separators", () => {
    expect(redactUrl("https://h/x?API%5FKEY=1&Token[]=2;sig=3&keyword=4")).toBe(
      `https://h/x?API%5FKEY=${REDACTED}&Token[]=${REDACTED};sig=${REDACTED}&keyword=4`,
    );
  });

  it("hides parameters in the fragment (OAuth's implicit flow)", () => {
    expect(redactUrl("https://app.example/cb#access_token=T&expires_in=3600")).toBe(
      `https://app.example/cb#access_token=${REDACTED}&expires_in=3600`,
    );
  });

  it("redacts URLs that do not parse: bad port, bad scheme, slash in the password, no scheme", () => {
    expect(redactUrl("http://u:pw@host:99999/x?api_key=S")).toBe(
      `http://${REDACTED}@host:99999/x?api_key=${REDACTED}`,
    );
    expect(redactUrl("gopher://u:pw@host/x?token=S")).toBe(
      `gopher://${REDACTED}@host/x?token=${REDACTED}`,
    );
    expect(redactUrl("http://u:pa/ss@host/x")).toBe(`http://${REDACTED}@host/x`);
    expect(redactUrl("http:u:pw@host/x")).toBe(`http:${REDACTED}@host/x`);
    expect(redactUrl("u:pw@host/x?api_key=S")).not.toMatch(/pw|=S/);
    expect(redactUrl("http://h\t/x?to\nken=T")).toBe(`http://h/x?token=${REDACTED}`);
    expect(redactUrl("postgres://app:s3cret@db:5432/steadfast?sslpassword=p&schema=s")).toBe(
      `postgres://${REDACTED}@db:5432/steadfast?sslpassword=${REDACTED}&schema=s`,
    );
  });

  it("is idempotent and leaves strings without credentials alone", () => {
    const once = redactUrl("https://u:p@h/x?key=k");
    expect(redactUrl(once)).toBe(once);
    for (const plain of ["", "not a url", "https://h/x", "mailto-less text", ":memory:"])
      expect(redactUrl(plain)).toBe(plain);
  });
});

describe("redactText", () => {
  it("redacts every URL an error message quotes, and nothing else", () => {
    expect(
      redactText(
        'request to "https://u:pw@api.example.com/x?token=T1" failed, reason: connect ECONNREFUSED (see http://a:b@c/d?sig=T2)',
      ),
    ).toBe(
      `request to "https://${REDACTED}@api.example.com/x?token=${REDACTED}" failed, reason: connect ECONNREFUSED (see http://${REDACTED}@c/d?sig=${REDACTED})`,
    );
    expect(redactText("status 503; upstream asked to wait 2000 ms")).toBe(
      "status 503; upstream asked to wait 2000 ms",
    );
  });
});

describe("names", () => {
  it("knows the issue's names (issue 10, item 3)", () => {
    for (const name of ["sig", "signature", "auth", "code", "access_token", "key", "api_key"])
      expect(isSecretParameter(name), name).toBe(true);
    for (const name of ["page", "q", "author", "keyword", "state", "sort"])
      expect(isSecretParameter(name), name).toBe(false);
    expect(isSecretHeader("Authentication")).toBe(true);
    expect(isSecretHeader("content-type")).toBe(false);
  });
});

// Property tests: URLs built from parts, secrets in every position that carries one. Secrets are
// upper-case and everything else lower-case, so a secret can only survive as itself.
const lower = (min: number, max: number) =>
  fc.string({
    unit: fc.constantFrom(..."abcdefghijklmnopqrstuvwxyz0123456789".split("")),
    minLength: min,
    maxLength: max,
  });
const secret = fc
  .string({
    unit: fc.constantFrom(..."ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!$'()*+,=~-._".split("")),
    minLength: 1,
    maxLength: 16,
  })
  // Ends with a letter: in free text, trailing punctuation is read as the sentence's.
  .map((s) => `ZQ${s}Z`);
const secretName = fc.constantFrom(
  "api_key",
  "key",
  "sig",
  "signature",
  "auth",
  "code",
  "access_token",
  "token",
  "password",
  "client_secret",
  "X-Amz-Signature",
  "X-Amz-Credential",
  "API_KEY",
);
const plainName = fc.constantFrom("page", "q", "sort", "limit", "id", "format", "state");
const param = fc.oneof(
  fc.record({ secret: fc.constant(true), name: secretName, value: secret }),
  fc.record({ secret: fc.constant(false), name: plainName, value: lower(0, 8) }),
);
const urlParts = fc.record({
  scheme: fc.constantFrom("http", "https", "postgres"),
  user: fc.option(secret, { nil: undefined }),
  password: fc.option(secret, { nil: undefined }),
  host: lower(1, 12).map((h) => `h${h}.example`),
  port: fc.option(fc.integer({ min: 1, max: 65_535 }), { nil: undefined }),
  path: fc.array(lower(0, 8), { maxLength: 4 }),
  query: fc.array(param, { maxLength: 6 }),
  fragment: fc.array(param, { maxLength: 3 }),
});

type Parts = typeof urlParts extends fc.Arbitrary<infer T> ? T : never;

function build(parts: Parts, redacted: boolean): string {
  const pairs = (list: Parts["query"]) =>
    list.map((p) => `${p.name}=${redacted && p.secret ? REDACTED : p.value}`).join("&");
  let userInfo = "";
  if (parts.user !== undefined || parts.password !== undefined) {
    userInfo = redacted
      ? `${REDACTED}@`
      : `${parts.user ?? ""}${parts.password === undefined ? "" : `:${parts.password}`}@`;
  }
  const port = parts.port === undefined ? "" : `:${parts.port}`;
  let url = `${parts.scheme}://${userInfo}${parts.host}${port}/${parts.path.join("/")}`;
  if (parts.query.length > 0) url += `?${pairs(parts.query)}`;
  if (parts.fragment.length > 0) url += `#${pairs(parts.fragment)}`;
  return url;
}

function secretsOf(parts: Parts): string[] {
  return [
    parts.user,
    parts.password,
    ...[...parts.query, ...parts.fragment].filter((p) => p.secret).map((p) => p.value),
  ].filter((s): s is string => s !== undefined);
}

describe("redactUrl (property)", () => {
  it("never lets a secret through, and keeps the rest of the URL as it was", () => {
    fc.assert(
      fc.property(urlParts, (parts) => {
        const url = build(parts, false);
        const shown = redactUrl(url);
        for (const s of secretsOf(parts)) expect(shown).not.toContain(s);
        expect(shown).toBe(build(parts, true));
        expect(redactUrl(shown)).toBe(shown);
      }),
      { numRuns: 2_000, seed: 10_3 },
    );
  });

  it("redacts the same URLs inside any message", () => {
    fc.assert(
      fc.property(urlParts, lower(0, 20), lower(0, 20), (parts, before, after) => {
        const text = `${before} "${build(parts, false)}" ${after}`;
        const shown = redactText(text);
        for (const s of secretsOf(parts)) expect(shown).not.toContain(s);
        expect(shown).toBe(`${before} "${build(parts, true)}" ${after}`);
      }),
      { numRuns: 1_000, seed: 10_3 },
    );
  });

  it("hides every credential header's value", () => {
    const headerName = fc.constantFrom(
      "Authorization",
      "authentication",
      "Proxy-Authorization",
      "Cookie",
      "X-Api-Key",
      "X-Auth-Token",
      "X-Session-Id",
    );
    fc.assert(
      fc.property(headerName, secret, (name, value) => {
        const shown = JSON.stringify(redactHeaders({ [name]: value, accept: "text/plain" }));
        expect(shown).not.toContain(value);
        expect(shown).toContain("text/plain");
      }),
      { numRuns: 500, seed: 10_3 },
    );
  });
});
