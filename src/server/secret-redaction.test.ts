/**
 * Issue 10, item 3: secrets in a call's URL and headers, in every position, never come back out of
 * any read path: API answers (calls, attempts, lists, problem details), the log (captured from the
 * production logger), the callback payload, the CLI's output, `/metrics`.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../cli/main.ts";
import type { CliIo } from "../cli/cli-io.ts";
import { startFlakyUpstream, type FlakyUpstream } from "../testing/flaky-upstream.ts";
import { waitUntil } from "../testing/wait-until.ts";
import { createLogger } from "./logger.ts";
import { startServer, type RunningServer } from "./start-server.ts";

// Every secret is distinct, so a leak names its position.
const S = (n: number): string => `SeCrEt${n}x`;

let dir: string;
let server: RunningServer;
let upstream: FlakyUpstream;
let receiver: FlakyUpstream;
/** A callback receiver that drops every connection: its deliveries fail, with a lastError. */
let failingReceiver: FlakyUpstream;
let key: string;
const logLines: string[] = [];
/** Everything a reader could see, collected as the test goes. */
const seen: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "steadfast-redaction-"));
  upstream = await startFlakyUpstream((r) =>
    r.n === 1
      ? {
          status: 503,
          headers: { "set-cookie": `sid=${S(20)}`, location: `/retry?X-Amz-Signature=${S(21)}` },
        }
      : {
          status: 200,
          headers: {
            "x-upstream-token": S(22),
            link: `<http://127.0.0.1/next?access_token=${S(23)}>; rel="next"`,
          },
          body: "ok",
        },
  );
  receiver = await startFlakyUpstream([{ status: 204 }]);
  failingReceiver = await startFlakyUpstream(() => "reset");
  server = await startServer(
    {
      port: 0,
      host: "127.0.0.1",
      // The database inside the data directory: only then is the generated key file written.
      db: `sqlite:${join(dir, "data", "steadfast.db")}`,
      dataDir: join(dir, "data"),
      allowPrivateNetworks: true,
      allowedCidrs: [],
      concurrency: 8,
      maxBodyBytes: 65_536,
      logLevel: "debug",
    },
    {
      // The production logger, writing to memory.
      logger: createLogger(
        { level: "debug", service: "steadfast" },
        { write: (line: string) => void logLines.push(line) },
      ),
      print: () => undefined,
    },
  );
  key = readFileSync(join(dir, "data", "api-key"), "utf8").trim();
});

afterAll(async () => {
  await server.close();
  await upstream.close();
  await receiver.close();
  await failingReceiver.close();
  rmSync(dir, { recursive: true, force: true });
});

async function api(path: string, init: RequestInit = {}): Promise<Response> {
  const res = await fetch(`${server.url}${path}`, {
    ...init,
    headers: {
      authorization: `Bearer ${key}`,
      "content-type": "application/json",
      ...(init.headers as Record<string, string> | undefined),
    },
  });
  seen.push(await res.clone().text());
  return res;
}

async function cli(args: string[]): Promise<{ code: number; out: string }> {
  let out = "";
  const io: CliIo = {
    env: { STEADFAST_URL: server.url, STEADFAST_API_KEY: key },
    cwd: dir,
    out: (text) => void (out += text),
    err: (text) => void (out += text),
    readFile: () => "",
    exit: (code) => {
      throw new Error(`exit ${code}`);
    },
    onSignal: () => () => undefined,
    now: () => 0,
  };
  const code = await main(["node", "steadfast", ...args], io);
  seen.push(out);
  return { code, out };
}

function expectNoSecret(texts: readonly string[]): void {
  const all = texts.join("\n");
  const leaked = all.match(/SeCrEt\d+x/g) ?? [];
  expect([...new Set(leaked)]).toEqual([]);
}

describe("secrets in calls (issue 10, item 3)", () => {
  let callId: string;

  it("accepts a call with secrets everywhere and shows none of them", async () => {
    const query = [
      `api_key=${S(1)}`,
      `sig=${S(2)}`,
      `signature=${S(3)}`,
      `auth=${S(4)}`,
      `code=${S(5)}`,
      `access_token=${S(6)}`,
      `key=${S(7)}`,
      "page=2",
    ].join("&");
    const res = await api("/v1/fetch", {
      method: "POST",
      headers: { prefer: "wait=20" },
      body: JSON.stringify({
        url: `${upstream.url}/charge?${query}#token=${S(8)}`,
        method: "POST",
        headers: {
          authorization: `Bearer ${S(9)}`,
          Authentication: S(10),
          "proxy-authorization": `Basic ${S(11)}`,
          cookie: `session=${S(12)}`,
          "x-api-key": S(13),
          "x-auth-token": S(14),
          "x-trace": "visible",
        },
        body: { amount: 1 },
        retry: { initialDelayMs: 0, maxDelayMs: 0 },
        callback: { url: `${receiver.url}/hook?token=${S(15)}&sig=${S(16)}` },
      }),
    });
    expect(res.status).toBe(200);
    const call = (await res.json()) as {
      id: string;
      status: string;
      request: { url: string; headers: Record<string, string> };
    };
    callId = call.id;
    expect(call.status).toBe("succeeded");
    // What is not a secret is still shown.
    expect(call.request.url).toContain("/charge?api_key=[redacted]");
    expect(call.request.url).toContain("page=2");
    expect(call.request.headers["x-trace"]).toBe("visible");
    // The upstream got every secret: redaction is for reading, not for sending.
    expect(upstream.requests[0]?.path).toContain(`api_key=${S(1)}`);
    expect(upstream.requests[0]?.headers.authorization).toBe(`Bearer ${S(9)}`);
  });

  it("shows none in the call, its attempts, the list, the callback, the CLI and /metrics", async () => {
    await api(`/v1/calls/${callId}`);
    await api(`/v1/calls/${callId}/attempts`);
    await api("/v1/calls");
    await receiver.waitForRequests(1);
    const delivery = receiver.requests[0]!;
    expect(delivery.body).toContain(callId);
    seen.push(delivery.body);
    for (const args of [
      ["calls", "show", callId],
      ["calls", "show", callId, "--json"],
      ["calls", "attempts", callId],
      ["calls", "list", "--json"],
      ["calls", "list"],
    ]) {
      expect((await cli(args)).code).toBe(0);
    }
    const metrics = await fetch(`${server.url}/metrics`);
    seen.push(await metrics.text());
    expectNoSecret(seen);
  });

  it("echoes none in 422 problems: credentials, bad scheme, bad port, blocked destination", async () => {
    const refused = [
      `http://u:${S(30)}@127.0.0.1/x?api_key=${S(31)}`,
      `ftp://u:${S(32)}@example.com/x?sig=${S(33)}`,
      `http://example.com:99999/x?token=${S(34)}&code=${S(35)}`,
      `u:${S(36)}@example.com/x?access_token=${S(37)}`,
      `http://169.254.169.254/latest?auth=${S(38)}`,
      `http://u:${S(39)}@[::1/x?signature=${S(40)}`,
    ];
    for (const url of refused) {
      const res = await api("/v1/fetch", { method: "POST", body: JSON.stringify({ url }) });
      expect(res.status, url).toBe(422);
    }
    const callback = await api("/v1/fetch", {
      method: "POST",
      body: JSON.stringify({
        url: `${upstream.url}/x`,
        callback: { url: `http://cb:${S(41)}@127.0.0.1/hook?sig=${S(42)}` },
      }),
    });
    expect(callback.status).toBe(422);
    // An unknown field whose name is a URL with secrets: errors[].field quotes it, redacted.
    const unknown = await api("/v1/fetch", {
      method: "POST",
      body: JSON.stringify({
        url: `${upstream.url}/x`,
        [`http://u:${S(45)}@example.com/?token=${S(46)}`]: 1,
      }),
    });
    expect(unknown.status).toBe(422);
    // The CLI shows the same problems.
    const run = await cli(["fetch", `http://u:${S(43)}@127.0.0.1/x?api_key=${S(44)}`]);
    expect(run.code).toBe(1);
    expect(run.out).toContain("[redacted]");
    expectNoSecret(seen);
  });

  it("shows a failed callback delivery's lastError, which quotes the receiver, with no secret", async () => {
    const res = await api("/v1/fetch", {
      method: "POST",
      headers: { prefer: "wait=20" },
      body: JSON.stringify({
        url: `${upstream.url}/again?api_key=${S(50)}`,
        callback: { url: `${failingReceiver.url}/hook?token=${S(51)}&sig=${S(52)}` },
      }),
    });
    expect(res.status).toBe(200);
    const { id } = (await res.json()) as { id: string };
    type Shown = { callback?: { status: string; url: string; lastError?: { message: string } } };
    let shown: Shown = {};
    // The delivery's first attempt fails at once (the receiver resets the connection).
    await waitUntil(
      async () => {
        shown = (await (await api(`/v1/calls/${id}`)).json()) as Shown;
        return shown.callback?.lastError !== undefined;
      },
      { timeoutMs: 20_000, what: "the callback's first failed attempt" },
    );
    expect(shown.callback).toMatchObject({
      status: "retrying",
      url: `${failingReceiver.url}/hook?token=[redacted]&sig=[redacted]`,
    });
    // The failure names the receiver it could not reach.
    expect(shown.callback?.lastError?.message).toContain(failingReceiver.url);
    expect((await cli(["calls", "show", id])).code).toBe(0);
    expect((await cli(["calls", "show", id, "--json"])).code).toBe(0);
    expectNoSecret(seen);
  });

  it("logs none of them, at debug level", () => {
    expect(logLines.length).toBeGreaterThan(0);
    expectNoSecret(logLines);
  });
});
