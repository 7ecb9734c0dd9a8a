// Generators of hostile requests for the API fuzz test (test/api-fuzz.test.ts): random and
// mutated `POST /v1/fetch` bodies, odd methods, paths, headers and framing, bad auth, and every
// route. Secrets are planted (under names that mark them secret) so the test can check no answer
// shows them. A request is a plan, rendered to bytes once the server's state is known (ids of
// calls created earlier, so cancel, retry and reads hit real calls too).
import fc from "fast-check";

/** Every planted secret starts with this; no answer may contain it. */
export const PLANTED = "PLANTED-SECRET-";

/** Keys of the fuzzed server: `acme` is an operator tenant, `other` is not. */
export const FUZZ_KEYS = {
  acme: "acme_fuzz_key_0123456789abcdef",
  other: "other_fuzz_key_0123456789abcdef",
} as const;

/** A JSON fragment written as it is (a number JSON cannot express, a deep nesting, a dup key). */
interface RawJson {
  raw: string;
}

/** A path segment: text, or the n-th call created so far (any tenant's). */
type Segment = string | { known: number };

/** One generated request, before rendering. */
export type FuzzPlan =
  | {
      method: string;
      path: readonly Segment[];
      query: string;
      headers: [string, string][];
      body?: string | Buffer;
      chunked: boolean;
    }
  | { raw: string };

/** Where generated calls may point: the loopback upstream the server is allowed to reach. */
export interface FuzzTargets {
  /** `http://127.0.0.1:<port>` of an upstream answering by path (`/200`, `/503`, `/429`...). */
  upstream: string;
}

const isRaw = (value: unknown): value is RawJson =>
  typeof value === "object" && value !== null && "raw" in value && Object.keys(value).length === 1;

/** JSON text of `value`, `RawJson` fragments written verbatim. */
function jsonText(value: unknown): string {
  if (isRaw(value)) return value.raw;
  if (Array.isArray(value)) return `[${value.map(jsonText).join(",")}]`;
  if (typeof value === "object" && value !== null)
    return `{${Object.entries(value)
      .map(([k, v]) => `${JSON.stringify(k)}:${jsonText(v)}`)
      .join(",")}}`;
  return JSON.stringify(value) ?? "null";
}

const controlChar = fc.integer({ min: 0, max: 31 }).map((c) => String.fromCharCode(c));
const longString = fc
  .tuple(fc.constantFrom("x", "é", "\u0000", "\u{1F600}", " "), fc.integer({ min: 1, max: 70_000 }))
  .map(([c, n]) => c.repeat(n));
const deepNesting = fc
  .tuple(fc.constantFrom("[", '{"a":'), fc.integer({ min: 50, max: 12_000 }))
  .map(([open, depth]): RawJson => {
    const close = open === "[" ? "]" : "}";
    return { raw: open.repeat(depth) + (open === "[" ? "" : "1") + close.repeat(depth) };
  });

/** Values that are wrong somewhere: wrong types, extremes, odd strings, deep nesting. */
const weirdValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom<unknown>(
    -1,
    0,
    -0.5,
    1.5,
    2 ** 31,
    2 ** 53 + 2,
    Number.MAX_VALUE,
    -Number.MAX_VALUE,
    "NaN",
    "Infinity",
    "-1",
    "1e9",
    "",
    " ",
    true,
    null,
    [],
    {},
    { raw: "1e400" },
    { raw: "-1e400" },
    { raw: "-0" },
    { raw: "1E-400" },
    { raw: "123456789012345678901234567890" },
  ),
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.string({ unit: controlChar, maxLength: 8 }),
  longString,
  deepNesting,
);

const secretQuery = fc
  .constantFrom("api_key", "access_token", "sig", "signature", "auth", "code", "token", "key")
  .map((name) => `${name}=${PLANTED}q-${name}`);

/** Destination URLs: the upstream (allowed), names that never resolve, and invalid ones. */
function urlArbitrary(targets: FuzzTargets): fc.Arbitrary<string> {
  const upstreamPath = fc.constantFrom("/200", "/503", "/429", "/404", "/reset", "/garbage");
  return fc.oneof(
    { weight: 6, arbitrary: upstreamPath.map((p) => targets.upstream + p) },
    {
      weight: 2,
      arbitrary: fc
        .tuple(upstreamPath, secretQuery)
        .map(([p, q]) => `${targets.upstream}${p}?x=1&${q}`),
    },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom("http", "https")
        .map((s) => `${s}://user:${PLANTED}userinfo@${targets.upstream.slice(7)}/200`),
    },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        "https://fuzz.invalid/",
        "http://api.fuzz.test/x?y=1",
        "http://10.0.0.1/",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]:1/",
        "http://localhost:1/",
        "http://0x7f.1/",
        "http://127.1/",
        "ftp://fuzz.invalid/",
        "javascript:alert(1)",
        "file:///etc/passwd",
        "http://",
        "//fuzz.invalid",
        "not a url",
        "http://fuzz.invalid:99999/",
        "http://[::1",
        "http://ü.invalid/",
        `https://fuzz.invalid:0/?api_key=${PLANTED}bad-port`,
        `gopher://u:${PLANTED}bad-scheme@fuzz.invalid/`,
        `http://fuzz.invalid/${"a".repeat(9_000)}`,
      ),
    },
    { weight: 1, arbitrary: fc.webUrl({ withQueryParameters: true, withFragments: true }) },
    { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 60 }) },
  );
}

const headerName = fc.oneof(
  { weight: 16, arbitrary: fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,20}$/) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      "Host",
      "Content-Type",
      "Connection",
      "Expect",
      "Upgrade",
      "Keep-Alive",
      "TE",
      "Proxy-Connection",
      "",
    ),
  },
  { weight: 1, arbitrary: fc.string({ unit: "binary", minLength: 1, maxLength: 12 }) },
);
const headerValue = fc.oneof(
  { weight: 16, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 20 }) },
  { weight: 1, arbitrary: fc.string({ unit: controlChar, minLength: 1, maxLength: 3 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(" ", "", "close", "100-continue", "websocket", "chunked"),
  },
);
const secretHeaders = fc.subarray(
  ["Authorization", "Authentication", "Cookie", "X-Api-Key", "Proxy-Authorization", "X-Auth-Token"],
  { maxLength: 3 },
);

/** A `POST /v1/fetch` body object, valid but for the URL, which may be anything. */
function fetchBodyObject(targets: FuzzTargets): fc.Arbitrary<Record<string, unknown>> {
  const plainHeaders = fc.dictionary(
    fc.stringMatching(/^X-[A-Za-z0-9-]{1,12}$/),
    fc.stringMatching(/^[\x21-\x7e]{1,20}$/),
    { maxKeys: 2 },
  );
  return fc
    .record(
      {
        url: urlArbitrary(targets),
        method: fc.constantFrom("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"),
        headers: fc.tuple(plainHeaders, secretHeaders).map(([plain, secret]) => ({
          ...plain,
          ...Object.fromEntries(secret.map((n) => [n, `Bearer ${PLANTED}h-${n}`])),
        })),
        body: fc.oneof(fc.string({ maxLength: 30 }), fc.jsonValue({ maxDepth: 2 })),
        retry: fc.record(
          {
            maxAttempts: fc.integer({ min: 1, max: 4 }),
            backoff: fc.constantFrom("exponential", "linear", "fixed"),
            initialDelayMs: fc.integer({ min: 0, max: 1_000 }),
            maxDelayMs: fc.integer({ min: 1_000, max: 10_000 }),
            retryOn: fc.array(
              fc.oneof(fc.integer({ min: 100, max: 599 }), fc.constantFrom("5xx", "network")),
              { maxLength: 3 },
            ),
          },
          { requiredKeys: [] },
        ),
        timeout: fc.record(
          {
            connectMs: fc.integer({ min: 100, max: 5_000 }),
            readMs: fc.integer({ min: 100, max: 5_000 }),
            totalMs: fc.integer({ min: 100, max: 10_000 }),
          },
          { requiredKeys: [] },
        ),
        deadlineMs: fc.integer({ min: 1, max: 60_000 }),
        delayMs: fc.integer({ min: 0, max: 3_600_000 }),
        callback: fc.record({ url: urlArbitrary(targets) }),
      },
      { requiredKeys: ["url"] },
    )
    .map((body) => body as Record<string, unknown>);
}

/** A field path inside a fetch body, to set to a weird value. */
const mutationPath = fc.constantFrom(
  ["url"],
  ["method"],
  ["headers"],
  ["headers", "X-Fuzz"],
  ["headers", "X\r\nInjected"],
  ["headers", "x-bad"],
  ["body"],
  ["retry"],
  ["retry", "maxAttempts"],
  ["retry", "backoff"],
  ["retry", "initialDelayMs"],
  ["retry", "maxDelayMs"],
  ["retry", "retryOn"],
  ["timeout"],
  ["timeout", "connectMs"],
  ["timeout", "totalMs"],
  ["deadlineMs"],
  ["delayMs"],
  ["callback"],
  ["callback", "url"],
  ["unknownField"],
  ["__proto__"],
  ["constructor"],
);

function setPath(target: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== "object" || next === null || Array.isArray(next) || isRaw(next)) {
      const fresh: Record<string, unknown> = {};
      node[key] = fresh;
      node = fresh;
    } else node = next as Record<string, unknown>;
  }
  Object.defineProperty(node, path[path.length - 1]!, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
}

/** The text of a `POST /v1/fetch` body: valid, mutated, or not JSON at all. */
function fetchBodyText(targets: FuzzTargets): fc.Arbitrary<string | Buffer> {
  const object = fetchBodyObject(targets);
  return fc.oneof(
    { weight: 4, arbitrary: object.map(jsonText) },
    {
      weight: 6,
      arbitrary: fc
        .tuple(object, fc.array(fc.tuple(mutationPath, weirdValue), { minLength: 1, maxLength: 3 }))
        .map(([body, mutations]) => {
          for (const [path, value] of mutations) setPath(body, path, value);
          return jsonText(body);
        }),
    },
    {
      weight: 1,
      arbitrary: object.map((body) => {
        const text = jsonText(body);
        return `{"url":${JSON.stringify(`${targets.upstream}/200`)},${text.slice(1)}`;
      }),
    },
    {
      weight: 1,
      arbitrary: deepNesting.map(
        (nested) => `{"url":"${targets.upstream}/200","body":${nested.raw}}`,
      ),
    },
    { weight: 1, arbitrary: deepNesting.map((nested) => nested.raw) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        "",
        " ",
        "null",
        "[]",
        "123",
        '"str"',
        "{",
        '{"url":',
        "{'url': 'x'}",
        '{"url":"x"}garbage',
        "\uFEFF{}",
        "url=https://fuzz.invalid/",
      ),
    },
    { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 200 }) },
    {
      weight: 1,
      arbitrary: fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes)),
    },
  );
}

const contentType = fc.oneof(
  { weight: 10, arbitrary: fc.constant("application/json") },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      "application/json; charset=utf-8",
      "APPLICATION/JSON",
      "application/merge-patch+json",
    ),
  },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      "application/json; charset=latin1",
      "application/problem+json",
      "application/x-www-form-urlencoded",
      "text/plain",
      "multipart/form-data; boundary=x",
      "application/json;;;",
      "",
      "*/*",
    ),
  },
);

/** `Authorization` header lines: none, a tenant's key, a wrong one (a planted secret), malformed. */
const auth: fc.Arbitrary<[string, string][]> = fc.oneof(
  {
    weight: 24,
    arbitrary: fc.constant<[string, string][]>([["Authorization", `Bearer ${FUZZ_KEYS.acme}`]]),
  },
  {
    weight: 3,
    arbitrary: fc.constant<[string, string][]>([["Authorization", `Bearer ${FUZZ_KEYS.other}`]]),
  },
  {
    weight: 4,
    arbitrary: fc.constantFrom<[string, string][]>(
      [],
      [["Authorization", `Bearer ${PLANTED}wrong-key`]],
      [["Authorization", `Basic ${Buffer.from(`u:${PLANTED}basic`).toString("base64")}`]],
      [["Authorization", "Bearer"]],
      [["Authorization", "Bearer  "]],
      [["Authorization", `bearer ${FUZZ_KEYS.acme} extra`]],
      [
        ["Authorization", `Bearer ${FUZZ_KEYS.acme}`],
        ["Authorization", `Bearer ${PLANTED}second`],
      ],
    ),
  },
);

const idSegment: fc.Arbitrary<Segment> = fc.oneof(
  { weight: 4, arbitrary: fc.nat().map((known) => ({ known })) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      "call_01JZZZZZZZZZZZZZZZZZZZZZZZ",
      "call_",
      "..",
      "%",
      "%zz",
      "%2e%2e",
      "%00",
      "%E2%82%AC",
      "null",
      "0",
      "-1",
      "1e9",
      "a".repeat(300),
    ),
  },
  {
    weight: 1,
    arbitrary: fc.string({ maxLength: 30 }).map((s) => encodeURIComponent(s)),
  },
);

const listQuery = fc
  .record(
    {
      status: fc.constantFrom(
        "failed",
        "queued",
        "running",
        "waiting",
        "succeeded",
        "cancelled",
        "",
        "FAILED",
        "all",
        "%00",
      ),
      limit: fc.constantFrom(
        "",
        "0",
        "-1",
        "1",
        "2",
        "500",
        "501",
        "1e2",
        "1.5",
        "abc",
        "9".repeat(400),
      ),
      cursor: fc.oneof(
        fc.constantFrom("", "abc", "%", "eyJ4IjoxfQ", "x".repeat(100)),
        fc.base64String({ maxLength: 40 }),
      ),
      extra: fc.constantFrom("foo=bar", `api_key=${PLANTED}list`, "status=failed", "limit=1"),
    },
    { requiredKeys: [] },
  )
  .map((q) => {
    const parts = Object.entries(q).map(([k, v]) =>
      k === "extra" ? v : `${k}=${encodeURIComponent(v)}`,
    );
    return parts.length === 0 ? "" : `?${parts.join("&")}`;
  });

const destinationSegment = (targets: FuzzTargets): fc.Arbitrary<string> =>
  fc.constantFrom(
    encodeURIComponent(targets.upstream),
    encodeURIComponent("https://fuzz.invalid"),
    "fuzz.invalid",
    "fuzz.invalid:8443",
    "%",
    "http%3A%2F%2F%5B%3A%3A1%5D",
    encodeURIComponent(`http://u:${PLANTED}dest@fuzz.invalid`),
    "ftp%3A%2F%2Fx",
    "",
    "a".repeat(500),
  );

const limitsBody = fc
  .record(
    {
      rateLimitPerSecond: fc.oneof(fc.constantFrom(null, 0, -1, 1e9, 0.5, "10"), weirdValue),
      maxConcurrency: fc.oneof(fc.constantFrom(null, 0, 1, 1e9, 2.5), weirdValue),
      extra: weirdValue,
    },
    { requiredKeys: [] },
  )
  .map(jsonText);

const oddMethod = fc.constantFrom(
  "DELETE",
  "PATCH",
  "OPTIONS",
  "HEAD",
  "TRACE",
  "CONNECT",
  "PROPFIND",
  "M-SEARCH",
  "PURGE",
  "QUERY",
  "get",
  "FOO",
  "G ET",
  "POST\u0000",
  "X".repeat(40),
);

/** Every route, with right and wrong methods, and some that are no route at all. */
function routeArbitrary(targets: FuzzTargets): fc.Arbitrary<{
  method: string;
  path: readonly Segment[];
  query: string;
  body?: string | Buffer;
}> {
  const method = (...usual: string[]): fc.Arbitrary<string> =>
    fc.oneof(
      { weight: 5, arbitrary: fc.constantFrom(...usual) },
      { weight: 1, arbitrary: oddMethod },
    );
  const dest = destinationSegment(targets);
  const noQuery = fc.constantFrom("", "", "", `?api_key=${PLANTED}query`, "?", "?a=1&a=2", "?%zz");
  return fc.oneof(
    {
      weight: 8,
      arbitrary: fc.record({
        method: method("POST"),
        path: fc.constant(["v1", "fetch"]),
        query: noQuery,
        body: fetchBodyText(targets),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        method: method("GET"),
        path: fc.constant(["v1", "calls"]),
        query: listQuery,
      }),
    },
    {
      weight: 3,
      arbitrary: fc.record({
        method: method("GET", "POST"),
        path: fc
          .tuple(idSegment, fc.constantFrom(undefined, "attempts", "cancel", "retry", "x", ""))
          .map(([id, tail]): Segment[] =>
            tail === undefined ? ["v1", "calls", id] : ["v1", "calls", id, tail],
          ),
        query: noQuery,
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        method: method("GET", "PUT", "POST"),
        path: fc
          .tuple(dest, fc.constantFrom(undefined, "reset", "x"))
          .map(([d, tail]): Segment[] =>
            tail === undefined ? ["v1", "destinations", d] : ["v1", "destinations", d, tail],
          ),
        query: noQuery,
        body: limitsBody,
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        method: method("GET"),
        path: fc.constantFrom(["v1", "destinations"], ["v1", "signing-secret"]),
        query: noQuery,
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        method: method("GET"),
        path: fc.constantFrom(["healthz"], ["metrics"], ["openapi.json"]),
        query: noQuery,
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        method: method("GET", "POST"),
        path: fc.oneof(
          fc.constantFrom(
            [""],
            ["v1"],
            ["v1", ""],
            ["v2", "fetch"],
            ["", "v1", "", "calls"],
            ["v1", "calls", "..", "fetch"],
            ["v1", "%2e%2e"],
            ["%00"],
            ["*"],
          ),
          fc.array(fc.string({ maxLength: 10 }).map(encodeURIComponent), { maxLength: 4 }),
        ),
        query: noQuery,
      }),
    },
  );
}

/** Raw bytes no HTTP parser accepts (item 8's cases), some with a secret inside. */
const rawMalformed = fc.constantFrom(
  `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Token: ${PLANTED}raw\u0001\r\n\r\n`,
  `GET /v1/calls/${PLANTED}raw x HTTP/1.1\r\nHost: x\r\n\r\n`,
  `${PLANTED}raw /healthz HTTP/1.1\r\nHost: x\r\n\r\n`,
  "GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n",
  `GET /healthz HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${PLANTED}raw\r\nX-Big: ${"a".repeat(17_000)}\r\n\r\n`,
  "POST /v1/fetch HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
  "POST /v1/fetch HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
  "\u0000\u0001\u0002\r\n\r\n",
  "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
  "GET /healthz HTTP/1.1\nHost: x\n\n",
);

/** One hostile request. */
export function fuzzPlan(targets: FuzzTargets): fc.Arbitrary<FuzzPlan> {
  const structured = fc
    .record({
      route: routeArbitrary(targets),
      auth,
      contentType: fc.option(contentType, { nil: undefined, freq: 5 }),
      idempotencyKey: fc.option(
        fc.oneof(
          { weight: 4, arbitrary: fc.constantFrom("k1", "k2", "k3", '"quoted"') },
          { weight: 4, arbitrary: fc.uuid() },
          {
            weight: 1,
            arbitrary: fc.constantFrom("", '""', '"unterminated', " ", "k".repeat(300)),
          },
          { weight: 1, arbitrary: fc.string({ maxLength: 20 }) },
        ),
        { nil: undefined, freq: 2 },
      ),
      prefer: fc.option(
        fc.constantFrom(
          "wait=0",
          "wait=1",
          'wait="0"',
          "respond-async, wait=0",
          "wait=-1",
          "wait=abc",
          "wait=1e9",
          "wait=1.5",
          "wait",
          "wait=",
          "handling=lenient, wait=abc",
          "handling=strict, wait=x",
          "return=minimal",
          ",,,",
          "wait=0;x=y",
        ),
        { nil: undefined, freq: 6 },
      ),
      extraHeaders: fc.option(
        fc.array(fc.tuple(headerName, headerValue), { minLength: 1, maxLength: 3 }),
        {
          nil: [],
          freq: 2,
        },
      ),
      requestId: fc.option(
        fc.oneof(
          fc.constantFrom("trace-1", "x".repeat(200), "a b", "<script>"),
          fc.string({ maxLength: 20 }),
        ),
        {
          nil: undefined,
          freq: 8,
        },
      ),
      chunked: fc.boolean(),
    })
    .map(
      ({
        route,
        auth: authLines,
        contentType: type,
        idempotencyKey,
        prefer,
        extraHeaders,
        requestId,
        chunked,
      }): FuzzPlan => {
        const headers: [string, string][] = [...authLines];
        if (type !== undefined) headers.push(["Content-Type", type]);
        if (idempotencyKey !== undefined) headers.push(["Idempotency-Key", idempotencyKey]);
        if (prefer !== undefined) headers.push(["Prefer", prefer]);
        if (requestId !== undefined) headers.push(["X-Request-Id", requestId]);
        // Framing is ours (a wrong length would only make the server wait for bytes never sent).
        for (const [name, value] of extraHeaders)
          if (!/^(content-length|transfer-encoding)$/i.test(name.trim()))
            headers.push([name, value]);
        return {
          method: route.method,
          path: route.path,
          query: route.query,
          headers,
          ...(route.body === undefined ? {} : { body: route.body }),
          chunked,
        };
      },
    );
  return fc.oneof(
    { weight: 30, arbitrary: structured },
    { weight: 1, arbitrary: rawMalformed.map((raw) => ({ raw })) },
  );
}

/** A rendered request: its bytes, and what the reader must know. */
export interface RenderedRequest {
  bytes: Buffer;
  head: boolean;
  /** One line for a failure message (method and target, bytes truncated). */
  summary: string;
}

/** Renders `plan` to bytes, picking `knownIds[n % length]` for `{ known: n }` segments. */
export function renderPlan(plan: FuzzPlan, knownIds: readonly string[]): RenderedRequest {
  if ("raw" in plan) {
    return {
      bytes: Buffer.from(plan.raw, "latin1"),
      head: false,
      summary: JSON.stringify(plan.raw.slice(0, 200)),
    };
  }
  const path = plan.path
    .map((segment) =>
      typeof segment === "string"
        ? segment
        : (knownIds[segment.known % Math.max(knownIds.length, 1)] ??
          "call_01JNONENONENONENONENONENONE"),
    )
    .join("/");
  const target = `/${path}${plan.query}`;
  const lines = [
    `${plan.method} ${target} HTTP/1.1`,
    "Host: fuzz",
    ...plan.headers.map(([n, v]) => `${n}: ${v}`),
  ];
  const body =
    plan.body === undefined
      ? undefined
      : Buffer.isBuffer(plan.body)
        ? plan.body
        : Buffer.from(plan.body, "utf8");
  if (body !== undefined) {
    lines.push(plan.chunked ? "Transfer-Encoding: chunked" : `Content-Length: ${body.length}`);
  }
  lines.push("Connection: close", "", "");
  const head = Buffer.from(lines.join("\r\n"), "utf8");
  const payload =
    body === undefined
      ? Buffer.alloc(0)
      : plan.chunked
        ? Buffer.concat([
            ...(body.length > 0
              ? [Buffer.from(`${body.length.toString(16)}\r\n`), body, Buffer.from("\r\n")]
              : []),
            Buffer.from("0\r\n\r\n"),
          ])
        : body;
  return {
    bytes: Buffer.concat([head, payload]),
    head: plan.method === "HEAD",
    summary: `${JSON.stringify(plan.method)} ${JSON.stringify(target.slice(0, 200))} headers ${JSON.stringify(plan.headers).slice(0, 400)} body ${body === undefined ? "none" : JSON.stringify(body.toString("utf8").slice(0, 300))} (${body?.length ?? 0} bytes)`,
  };
}
