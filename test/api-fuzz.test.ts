/**
 * The API fuzzed (issue 10 item 9): thousands of generated hostile requests (test/api-fuzz-requests.ts)
 * against a real server on port 0, SQLite in a temp file, the engine running and calling a
 * loopback upstream. Every answer must be:
 * - not a 5xx;
 * - for a 4xx, `application/problem+json` whose `status`, `code` and `title` match the problem
 *   table and whose `correlationId` is the answer's `X-Request-Id`;
 * - free of every secret planted in the requests (bearer keys, `?api_key=`, credentials in the
 *   destination URL or its headers).
 * The server logs through the production logger (`createLogger`) at debug level, every request
 * included: no log line may hold a planted secret either, and none may be an error.
 * After the run the server is healthy: `/healthz` answers 200, a normal call succeeds end to end,
 * every stored call reads back, and the database passes `PRAGMA integrity_check`.
 *
 * Seeded: `STEADFAST_FUZZ_SEED` (default 20261210) and `STEADFAST_FUZZ_RUNS` (batches of 1 to 8
 * concurrent requests; default 800, about 3,600 requests) explore further, and print what was
 * answered; a failure prints the seed and the shrunk batch of requests.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../src/server/logger.ts";
import { PROBLEM_KINDS } from "../src/server/problem.ts";
import { CallPageSchema, CallViewSchema, ProblemSchema } from "../src/server/schemas.ts";
import { startServer, type RunningServer } from "../src/server/start-server.ts";
import { startFlakyUpstream, type FlakyUpstream } from "../src/testing/flaky-upstream.ts";
import { rawExchange, type RawAnswer } from "../src/testing/raw-http.ts";
import {
  FUZZ_KEYS,
  PLANTED,
  fuzzPlan,
  renderPlan,
  type RenderedRequest,
} from "./api-fuzz-requests.ts";

const SEED = Number(process.env.STEADFAST_FUZZ_SEED ?? 20261210);
const RUNS = Number(process.env.STEADFAST_FUZZ_RUNS ?? 800);
const EXPLORING = process.env.STEADFAST_FUZZ_RUNS !== undefined;

let dir: string;
let upstream: FlakyUpstream;
let server: RunningServer;
/** Every line the server logged. */
const logLines: string[] = [];
/** The lines at level error or above (pino: 50). */
const errorLogs = (): string[] =>
  logLines.filter((line) => (JSON.parse(line) as { level: number }).level >= 50);
/** The log lines that hold a planted secret. */
const leakedLogs = (): string[] => logLines.filter((line) => line.includes(PLANTED));
const knownIds: string[] = [];
/** How many answers of each status and problem code (`422 invalid_request`), when exploring. */
const outcomes = new Map<string, number>();

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "steadfast-fuzz-"));
  upstream = await startFlakyUpstream((request) => {
    const path = request.path.split("?")[0];
    if (path === "/503") return { status: 503 };
    if (path === "/429") return { status: 429, headers: { "retry-after": "1" } };
    if (path === "/404") return { status: 404 };
    if (path === "/reset") return "reset";
    if (path === "/garbage") return "garbage";
    return { status: 200, headers: { "content-type": "application/json" }, body: '{"ok":true}' };
  });
  // The production logger, at debug level (every request is logged), writing to memory.
  const logger = createLogger(
    { level: "debug", service: "steadfast" },
    { write: (line: string) => void logLines.push(line) },
  );
  server = await startServer(
    {
      port: 0,
      host: "127.0.0.1",
      db: `sqlite:${join(dir, "steadfast.db")}`,
      dataDir: join(dir, "data"),
      apiKeys: `acme:${FUZZ_KEYS.acme},other:${FUZZ_KEYS.other}`,
      operatorTenants: ["acme"],
      // Loopback only through the allowlist: the guard stays in its production mode.
      allowPrivateNetworks: false,
      allowedCidrs: ["127.0.0.1/32"],
      concurrency: 16,
      maxBodyBytes: 65_536,
      logLevel: "debug",
      shutdownGraceMs: 1_000,
    },
    { logger, print: () => undefined },
  );
});

afterAll(async () => {
  await server?.close();
  await upstream?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Why `answer` to `request` breaks the contract, or `undefined` when it keeps it. */
function violation(request: RenderedRequest, answer: RawAnswer): string | undefined {
  const text = answer.raw.toString("latin1");
  if (text.includes(PLANTED)) return `the answer shows a planted secret: ${text.slice(0, 1_000)}`;
  if (answer.status >= 500) return `a ${answer.status}: ${text.slice(0, 1_000)}`;
  if (answer.status < 400) return undefined;
  if (answer.headers["content-type"] !== "application/problem+json")
    return `a ${answer.status} that is not problem+json: ${text.slice(0, 1_000)}`;
  if (answer.headers["x-request-id"] === undefined)
    return `a ${answer.status} without X-Request-Id`;
  if (request.head) return undefined;
  let problem;
  try {
    problem = ProblemSchema.parse(JSON.parse(answer.body.toString("utf8")));
  } catch (error) {
    return `a problem that does not parse (${String(error).slice(0, 300)}): ${text.slice(0, 1_000)}`;
  }
  const kind = PROBLEM_KINDS[problem.code];
  if (
    problem.status !== answer.status ||
    kind.status !== answer.status ||
    kind.title !== problem.title
  )
    return `a problem that disagrees with its status or the table: ${text.slice(0, 1_000)}`;
  if (problem.correlationId === "" || problem.correlationId !== answer.headers["x-request-id"])
    return `a problem whose correlationId is not its X-Request-Id: ${text.slice(0, 1_000)}`;
  return undefined;
}

/** Sends `rendered` and checks the answer; remembers the ids of calls it created. */
async function exchange(rendered: RenderedRequest): Promise<void> {
  let answer: RawAnswer;
  try {
    answer = await rawExchange(server.port, rendered.bytes, {
      head: rendered.head,
      timeoutMs: 15_000,
    });
  } catch (error) {
    throw new Error(`no answer to ${rendered.summary}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const code =
    answer.status >= 400 ? /"code":"([a-z_]+)"/.exec(answer.body.toString("utf8"))?.[1] : "";
  const outcome = `${answer.status} ${code ?? ""}`.trim();
  outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
  const broken = violation(rendered, answer);
  if (broken !== undefined) throw new Error(`${broken}\nrequest: ${rendered.summary}`);
  if (answer.status === 202 || answer.status === 200) {
    const id = /^\/v1\/calls\/(call_[^/]+)$/.exec(answer.headers.location ?? "")?.[1];
    if (id !== undefined && !knownIds.includes(id)) knownIds.push(id);
  }
}

/** Reads every call of `key`'s tenant through the API, each checked against the schema. */
async function readAllCalls(key: string): Promise<number> {
  let cursor: string | undefined;
  let count = 0;
  do {
    const res = await fetch(
      `${server.url}/v1/calls?limit=500${cursor === undefined ? "" : `&cursor=${encodeURIComponent(cursor)}`}`,
      { headers: { authorization: `Bearer ${key}` } },
    );
    expect(res.status).toBe(200);
    const page = CallPageSchema.parse(await res.json());
    for (const call of page.calls) {
      const one = await fetch(`${server.url}/v1/calls/${call.id}`, {
        headers: { authorization: `Bearer ${key}` },
      });
      expect(one.status).toBe(200);
      CallViewSchema.parse(await one.json());
    }
    count += page.calls.length;
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  return count;
}

describe("the API under fuzzed requests", () => {
  it("answers every request without a 5xx, with problem+json for every 4xx, and shows no planted secret", async () => {
    const batch = fc.array(fuzzPlan({ upstream: upstream.url }), { minLength: 1, maxLength: 8 });
    await fc.assert(
      fc.asyncProperty(batch, async (plans) => {
        const ids = [...knownIds];
        await Promise.all(plans.map((plan) => exchange(renderPlan(plan, ids))));
      }),
      { seed: SEED, numRuns: RUNS },
    );
    if (EXPLORING)
      console.log(
        `fuzz: seed ${SEED}, ${RUNS} batches, answers ${JSON.stringify(Object.fromEntries([...outcomes].sort(([a], [b]) => a.localeCompare(b))))}, ${knownIds.length} calls created`,
      );
    expect(logLines.length).toBeGreaterThan(RUNS);
    expect(leakedLogs()).toEqual([]);
    expect(errorLogs()).toEqual([]);
  }, 300_000);

  it("is healthy afterwards: /healthz, a normal call end to end, every call readable, the store intact", async () => {
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);

    // A destination the fuzzer never saw, so no limit or open breaker it set gets in the way.
    const fresh = await startFlakyUpstream([{ status: 200, body: "fine" }]);
    try {
      const res = await fetch(`${server.url}/v1/fetch`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${FUZZ_KEYS.acme}`,
          "content-type": "application/json",
          prefer: "wait=30",
        },
        body: JSON.stringify({ url: `${fresh.url}/after-fuzz` }),
      });
      expect(res.status).toBe(200);
      expect(CallViewSchema.parse(await res.json())).toMatchObject({
        status: "succeeded",
        response: { status: 200, body: "fine" },
      });
    } finally {
      await fresh.close();
    }

    const calls = (await readAllCalls(FUZZ_KEYS.acme)) + (await readAllCalls(FUZZ_KEYS.other));
    expect(calls).toBeGreaterThanOrEqual(knownIds.length);
    const db = new DatabaseSync(join(dir, "steadfast.db"), { readOnly: true });
    try {
      expect(db.prepare("PRAGMA integrity_check").all()).toEqual([{ integrity_check: "ok" }]);
    } finally {
      db.close();
    }
    expect(leakedLogs()).toEqual([]);
    expect(errorLogs()).toEqual([]);
  }, 120_000);
});
