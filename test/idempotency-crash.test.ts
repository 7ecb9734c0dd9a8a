// Issue 13, "Tests": the crash. A server process using the idempotency middleware on SQLite is
// killed (SIGKILL) while the client's request is in its handler. Another process on the same
// database file (started beside it, as in a fleet or a rolling restart, so that the client's
// first retry is sure to come within the dead process's lease) answers the retries `409` while
// that lease lasts; once it has run out, a retry runs the handler again, and later retries
// replay its response. Effects are counted in a file the handlers append to: the handler
// started twice and completed once.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, expect, it } from "vitest";
import { waitUntil } from "../src/testing/wait-until.ts";

const root = join(import.meta.dirname, "..");
const NODE = join(root, "node_modules/.bin/node");
const SCRIPT = join(root, "test/idempotency-process.ts");
const LEASE_MS = 3_000;

interface ServerProcess {
  port: number;
  output(): string;
  kill9(): Promise<void>;
}

let started: ServerProcess[] = [];
let dir: string | undefined;
afterEach(async () => {
  for (const server of started) await server.kill9();
  started = [];
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

async function start(db: string, effects: string, label: string, hold = false) {
  const args = [SCRIPT, "--db", db, "--effects", effects, "--label", label];
  args.push("--lease-ms", String(LEASE_MS), ...(hold ? ["--hold"] : []));
  const child = spawn(NODE, args, { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = once(child, "close");
  await waitUntil(() => /^ready \d+/m.test(output) || child.exitCode !== null, {
    timeoutMs: 30_000,
    intervalMs: 20,
    what: () => `idempotency process ${label} to be ready; it printed:\n${output}`,
  });
  const port = /^ready (\d+)/m.exec(output)?.[1];
  if (port === undefined) throw new Error(`idempotency process ${label} exited:\n${output}`);
  const server: ServerProcess = {
    port: Number(port),
    output: () => output,
    async kill9() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
    },
  };
  started.push(server);
  return server;
}

function order(port: number): Promise<Response> {
  return fetch(`http://127.0.0.1:${port}/orders`, {
    method: "POST",
    headers: { "content-type": "application/json", "idempotency-key": '"order-7"' },
    body: JSON.stringify({ sku: "A-1" }),
  });
}

function effects(file: string): string[] {
  return existsSync(file) ? readFileSync(file, "utf8").trim().split("\n") : [];
}

it("runs the handler once more after kill -9 mid-handler, once the lease has run out: one completed effect", async () => {
  dir = mkdtempSync(join(tmpdir(), "steadfast-idempotency-crash-"));
  const db = join(dir, "idempotency.db");
  const file = join(dir, "effects.txt");
  const first = await start(db, file, "first", true);
  const second = await start(db, file, "second");

  // Settled at once: it fails when the process dies under it (no unhandled rejection).
  const cut = order(first.port).then(
    (response) => response.status,
    (error: unknown) => error,
  );
  await waitUntil(() => effects(file).includes("started first"), {
    what: "the first request to be in the handler",
  });
  await first.kill9();
  expect(await cut).toBeInstanceOf(Error);

  // The client retries, reaching the other process. The dead process's lease still holds the key.
  const statuses: number[] = [];
  let final: Response | undefined;
  await waitUntil(
    async () => {
      const response = await order(second.port);
      statuses.push(response.status);
      if (response.status === 409) {
        expect(response.headers.get("retry-after")).toBe("1");
        await response.body?.cancel();
        return false;
      }
      final = response;
      return true;
    },
    { timeoutMs: LEASE_MS + 15_000, intervalMs: 200, what: "a retry to get past the lease" },
  );
  expect(statuses[0], "the first retry, within the lease").toBe(409);
  expect(statuses.slice(0, -1).every((status) => status === 409)).toBe(true);
  expect(final!.status, second.output()).toBe(201);
  const body = await final!.text();
  expect(JSON.parse(body)).toEqual({ by: "second" });

  // Later retries replay it.
  const replay = await order(second.port);
  expect(replay.status).toBe(201);
  expect(replay.headers.get("idempotent-replayed")).toBe("true");
  expect(await replay.text()).toBe(body);

  expect(effects(file)).toEqual(["started first", "started second", "completed second"]);
});
