// `steadfast idempotency-check` (issue 13): it passes against the idempotency middleware on
// every adapter and every store, over real HTTP; it fails, naming the checks, against a server
// that is not idempotent. In-process through `main`, plus one run of the real command.
import { execFile } from "node:child_process";
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import {
  ADAPTERS,
  Orders,
  type OrdersServer,
} from "../idempotency/adapter-servers.test-support.ts";
import { createIdempotency, type Idempotency } from "../idempotency/create-idempotency.ts";
import { TEST_STORES, type TestStore } from "../idempotency/stores/test-stores.test-support.ts";
import { FakeClock } from "../testing/fake-clock.ts";
import type { CliIo } from "./cli-io.ts";
import { main } from "./main.ts";

const root = join(import.meta.dirname, "..", "..");
const ORDER = '{"sku":"A-1","quantity":2}';
const PRINCIPALS = [
  "--header",
  "Authorization: Bearer alice",
  "--other-header",
  "Authorization: Bearer bob",
];

/** Runs `steadfast ...args` in this process, capturing what it prints. */
async function steadfast(
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const io: CliIo = {
    env: {},
    cwd: root,
    out: (text) => void (stdout += text),
    err: (text) => void (stderr += text),
    readFile: () => "",
    exit: () => undefined as never,
    onSignal: () => () => undefined,
    now: () => 0,
  };
  const code = await main(["node", "steadfast", ...args], io);
  return { code, stdout, stderr };
}

let cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  cleanups = [];
});

/** The orders API on `adapter` behind the middleware on `store` (required keys). */
async function ordersApi(
  adapter: keyof typeof ADAPTERS,
  store: keyof typeof TEST_STORES,
): Promise<OrdersServer> {
  const records: TestStore = await TEST_STORES[store]();
  cleanups.push(() => records.cleanup());
  const idempotency: Idempotency = await createIdempotency({
    store: records.store,
    principal: (req) => req.headers.get("authorization") ?? "anonymous",
    required: true,
    clock: new FakeClock(),
    purgeIntervalMs: 0,
  });
  cleanups.push(() => idempotency.close());
  const server = await ADAPTERS[adapter]!(idempotency, new Orders());
  cleanups.push(() => server.close());
  return server;
}

/** A server that is not idempotent: every POST runs and answers 201 with a new order. */
async function plainServer(): Promise<string> {
  let orders = 0;
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      res.writeHead(201, { "content-type": "application/json" });
      res.end(JSON.stringify({ order: ++orders }));
    });
  });
  await once(server.listen(0, "127.0.0.1"), "listening");
  cleanups.push(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/orders`;
}

const MATRIX = Object.keys(ADAPTERS).flatMap((adapter) =>
  Object.keys(TEST_STORES).map((store) => [adapter, store] as const),
);

describe("steadfast idempotency-check", () => {
  it.each(MATRIX)(
    "passes against the middleware on %s with the %s store",
    async (adapter, store) => {
      const api = await ordersApi(adapter, store as keyof typeof TEST_STORES);
      const run = await steadfast(["idempotency-check", api.url, "--body", ORDER, ...PRINCIPALS]);
      expect(run.stderr).toBe("");
      expect(run.code).toBe(0);
      for (const check of [
        "quoted key accepted",
        "replay of the same request",
        "concurrent duplicate",
        "changed payload: 422",
        "missing key: 400",
        "keys scoped per principal",
      ]) {
        expect(run.stdout).toMatch(new RegExp(`^${check}.*\\s{2}pass\\s{2}`, "m"));
      }
      expect(run.stdout).toContain("6 passed, 0 failed, 0 skipped");
    },
  );

  it("fails against a server that is not idempotent, naming each failed check", async () => {
    const url = await plainServer();
    const run = await steadfast(["idempotency-check", url, ...PRINCIPALS]);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/^replay of the same request\s+fail\s+.*no Idempotent-Replayed/m);
    expect(run.stdout).toMatch(/^concurrent duplicate.*\s+fail\s+8 at once: 8 ran/m);
    expect(run.stdout).toMatch(/^changed payload: 422\s+fail\s+.*answered 201, not 422/m);
    expect(run.stdout).toMatch(/^missing key: 400\s+fail/m);
    expect(run.stdout).toMatch(/^keys scoped per principal\s+fail/m);
    expect(run.stderr).toBe(
      "steadfast: 5 of 6 checks failed: replay, concurrent, changed-payload, missing-key, principals\n",
    );
  });

  it("skips the 400 check with --key-optional, and the principal check without --other-header", async () => {
    const api = await ordersApi("node", "sqlite");
    const run = await steadfast(["idempotency-check", api.url, "--key-optional", "--json"]);
    expect(run.code).toBe(0);
    const results = JSON.parse(run.stdout) as { id: string; outcome: string }[];
    expect(Object.fromEntries(results.map((r) => [r.id, r.outcome]))).toEqual({
      "quoted-key": "pass",
      replay: "pass",
      concurrent: "pass",
      "changed-payload": "pass",
      "missing-key": "skip",
      principals: "skip",
    });
  });

  it("refuses a URL that is not http(s), and a malformed header, before sending anything", async () => {
    expect((await steadfast(["idempotency-check", "orders"])).stderr).toMatch(
      /^steadfast: "orders" is not an absolute http\(s\) URL/,
    );
    const header = await steadfast([
      "idempotency-check",
      "http://127.0.0.1:1/",
      "-H",
      "Authorization Bearer x",
    ]);
    expect(header.code).toBe(1);
    expect(header.stderr).toMatch(/--header "Authorization \[redacted\]" is not valid/i);
  });

  it("runs as the real command: bin/steadfast.js exits 0 and prints the table", async () => {
    const api = await ordersApi("express", "sqlite");
    const { stdout } = await promisify(execFile)(
      join(root, "node_modules/.bin/node"),
      [
        join(root, "bin/steadfast.js"),
        "idempotency-check",
        api.url,
        "--body",
        ORDER,
        ...PRINCIPALS,
      ],
      { cwd: root },
    );
    expect(stdout).toMatch(/^CHECK\s+RESULT\s+DETAIL$/m);
    expect(stdout).toContain("6 passed, 0 failed, 0 skipped");
  });
});
