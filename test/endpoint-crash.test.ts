// Issue 12, "Tests": durable endpoints survive kill -9, on SQLite (a temp file) and PostgreSQL (a
// fresh schema per test). Real processes
// (`test/endpoint-process.ts`) serve the endpoint `chat` over node:http; its two steps POST to a
// counting upstream, so each assertion is a count or a response:
//   - a process killed mid-request (no response sent) has its run finished by the next process,
//     and the client's retry with the same key (reaching the new process) gets the response;
//   - without a key, the same: the request's run was written behind it while its first step ran,
//     and the next process finishes it (its location answers the response);
//   - a failing step answers 202 and a Location; the process is killed; the location, asked of a
//     new process, answers the final response; the completed first step did not run again.
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  dropSchema,
  TEST_DATABASE_URL,
  testSchemaName,
} from "../src/store/postgres/test-database.test-support.ts";
import { waitUntil } from "../src/testing/wait-until.ts";
import { startCountingUpstream } from "./workflow-process-harness.ts";

const root = join(import.meta.dirname, "..");
const NODE = join(root, "node_modules/.bin/node");
const SCRIPT = join(root, "test/endpoint-process.ts");

interface EndpointProcess {
  label: string;
  port: number;
  output(): string;
  kill9(): Promise<void>;
}

let cleanup: (() => Promise<void>) | undefined;
let upstream: Awaited<ReturnType<typeof startCountingUpstream>> | undefined;
let processes: EndpointProcess[] = [];
let release = (): void => {};

afterEach(async () => {
  release();
  for (const p of processes) await p.kill9();
  processes = [];
  await upstream?.close();
  upstream = undefined;
  await cleanup?.();
  cleanup = undefined;
});

async function start(db: string, label: string): Promise<EndpointProcess> {
  const child: ChildProcess = spawn(NODE, [SCRIPT, "--db", db, "--label", label], {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = once(child, "close");
  await waitUntil(() => /^ready \d+/m.test(output) || child.exitCode !== null, {
    timeoutMs: 30_000,
    intervalMs: 20,
    what: () => `endpoint process ${label} to be ready; it printed:\n${output}`,
  });
  const port = /^ready (\d+)/m.exec(output)?.[1];
  if (port === undefined) throw new Error(`endpoint process ${label} exited:\n${output}`);
  const started: EndpointProcess = {
    label,
    port: Number(port),
    output: () => output,
    async kill9() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
    },
  };
  processes.push(started);
  return started;
}

/** A database for one test (removed after it), by store. */
const databases: { name: string; open(): string }[] = [
  {
    name: "SQLite",
    open() {
      const dir = mkdtempSync(join(tmpdir(), "steadfast-endpoint-crash-"));
      cleanup = () => Promise.resolve(rmSync(dir, { recursive: true, force: true }));
      return `sqlite:${join(dir, "steadfast.db")}`;
    },
  },
  {
    name: "PostgreSQL",
    open() {
      const schema = testSchemaName();
      cleanup = () => dropSchema(schema);
      return `${TEST_DATABASE_URL}?schema=${schema}`;
    },
  },
];

function ask(port: number, key: string, upstreamUrl: string): Promise<Response> {
  return fetch(`http://127.0.0.1:${port}/chat?lang=en`, {
    method: "POST",
    headers: { "content-type": "application/json", "idempotency-key": key },
    body: JSON.stringify({ question: "life", upstream: upstreamUrl }),
  });
}

describe.each(databases)("durable endpoints survive kill -9 ($name, process level)", ({ open }) => {
  it("finishes a run whose process was killed mid-request in the next process; the client's retry with its key gets the response", async () => {
    const db = open();
    const held = new Promise<void>((resolve) => (release = resolve));
    let answers = 0;
    // The first `answer` request is held (the process is killed while it waits); later ones answer.
    upstream = await startCountingUpstream((request) =>
      request.path.endsWith("/answer") && ++answers === 1 ? { after: held } : {},
    );
    const first = await start(db, "first");
    // Settled at once: it fails while the test kills the process (no unhandled rejection).
    const cut = ask(first.port, "k-1", upstream.url).then(
      (response) => response.status,
      (error: unknown) => error,
    );
    await waitUntil(() => upstream!.count("/chat%3Ak-1/answer") === 1, {
      what: "the first answer request",
    });
    await first.kill9();
    expect(await cut).toBeInstanceOf(Error);

    const second = await start(db, "second");
    const retried = await ask(second.port, "k-1", upstream.url);
    expect(retried.status, second.output()).toBe(201);
    expect(await retried.json()).toMatchObject({ question: "life", by: "second" });
    // The first step's checkpoint is written behind it (the happy path waits on no write): a kill
    // in the moment between the step's end and that write runs it again, with its idempotency
    // key (at least once, as ever). Never a third time.
    expect(upstream.count("/chat%3Ak-1/plan")).toBeGreaterThanOrEqual(1);
    expect(upstream.count("/chat%3Ak-1/plan")).toBeLessThanOrEqual(2);
    expect(upstream.count("/chat%3Ak-1/answer")).toBe(2);
  });

  it("without a key: the request's run, written while its first step ran, is finished by the next process after kill -9", async () => {
    const db = open();
    const held = new Promise<void>((resolve) => (release = resolve));
    let answers = 0;
    upstream = await startCountingUpstream((request) =>
      request.path.endsWith("/answer") && ++answers === 1 ? { after: held } : {},
    );
    const first = await start(db, "first");
    const cut = fetch(`http://127.0.0.1:${first.port}/chat?lang=en`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ question: "life", upstream: upstream.url }),
    }).then(
      (response) => response.status,
      (error: unknown) => error,
    );
    // Its second step is under way: the first step, and the request, were written behind it.
    await waitUntil(() => upstream!.requests.some((r) => r.path.endsWith("/answer")), {
      what: "the first answer request",
    });
    const path = upstream.requests.find((r) => r.path.endsWith("/answer"))!.path;
    const runId = decodeURIComponent(path.split("/")[1]!);
    expect(runId).toMatch(/^run_/);
    await first.kill9();
    expect(await cut).toBeInstanceOf(Error);

    const second = await start(db, "second");
    // The run's location (any run of the endpoint has one), asked of the new process.
    const final = await fetch(
      `http://127.0.0.1:${second.port}/chat?lang=en&steadfast_run=${encodeURIComponent(runId)}`,
    );
    expect(final.status, second.output()).toBe(201);
    expect(await final.json()).toMatchObject({ question: "life", by: "second" });
    expect(upstream.count(`/${encodeURIComponent(runId)}/answer`)).toBe(2);
  });

  it("answers 202 and a Location for a failing step; after kill -9 a new process finishes the run and the location answers it, the first step once", async () => {
    const db = open();
    let answers = 0;
    upstream = await startCountingUpstream((request) =>
      request.path.endsWith("/answer") && ++answers === 1 ? { status: 503 } : {},
    );
    const first = await start(db, "first");
    const handed = await ask(first.port, "k-2", upstream.url);
    expect(handed.status, first.output()).toBe(202);
    await first.kill9();
    const location = new URL(handed.headers.get("location")!);
    expect(location.searchParams.get("steadfast_run")).toBe("chat:k-2");
    // The retry is due 1.5 s after the failure: Retry-After in whole seconds, rounded up.
    expect(["1", "2"]).toContain(handed.headers.get("retry-after"));

    const second = await start(db, "second");
    // The same location, reaching the new process (as a load balancer would send it).
    location.port = String(second.port);
    const final = await fetch(location);
    expect(final.status, second.output()).toBe(201);
    expect(await final.json()).toMatchObject({ question: "life", by: "second" });
    expect(upstream.count("/chat%3Ak-2/plan")).toBe(1);
    expect(upstream.count("/chat%3Ak-2/answer")).toBe(2);
  });
});
