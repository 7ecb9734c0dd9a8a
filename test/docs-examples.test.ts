// Every example of README.md and docs/*.md runs here, so the docs stay true. Each fenced block is
// one test named `<file>:<line>`, run in the order of the docs against one real server:
//
// - `sh` blocks run in bash (`set -eo pipefail`) in a directory whose `.steadfast/` is the test
//   server's data directory, so `cat .steadfast/api-key` and the CLI's key lookup work as written;
//   `$KEY` holds that key (README's quick start sets it). `steadfast` and `npx steadfast` run this
//   checkout's `bin/steadfast.js`; `npm` is refused (a block that installs or starts something is
//   marked not-run).
// - `ts` blocks are completed into modules (imports of `steadfast/resilience` names they use, and
//   the reader's own code they assume: `url`, `chargeCard`...; see READER_CODE), type-checked
//   together against the package's sources, then each run with Node in a fresh directory.
// - `json` blocks are checked: `<!-- output -->` against what the block before it printed, every
//   member shown with the value shown; `<!-- shape: Name -->` against the schema `Name` of the
//   server's OpenAPI document (no member it lacks, values of its types and enums). `…` elides.
// - Any other block must be marked `<!-- not-run: reason -->` (on the line before it, blank lines
//   allowed): a transcript, a command that starts a long-running server. An unmarked block the
//   test cannot run fails it.
//
// Destinations: the server is the README's (`--allow-private-networks`), on port 0. URLs are
// rewritten in the test, not resolved by an injected DNS lookup: `http://127.0.0.1:7480` becomes
// the test server's URL (and `STEADFAST_URL` is set to it for the CLI's default), and every
// `http(s)://*.example.com` URL becomes a loopback upstream that answers 200 with JSON (404 on a
// path with `/missing`). Because the upstream is on loopback, `createSteadfast({` in an example is
// run as `createSteadfast({ allowPrivateNetworks: true, `. `http://localhost:3000` (the reader's own
// API in docs/idempotency.md) becomes an orders API behind the idempotency middleware: `POST
// /orders` answers 201 with a new order, keys required, owned by the `Authorization` header.
import { execFile } from "node:child_process";
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createIdempotency, nodeIdempotency, type Idempotency } from "../src/idempotency/index.ts";
import { buildOpenApiDocument } from "../src/server/openapi.ts";
import { startServer, type RunningServer } from "../src/server/start-server.ts";
import { checkShape, compareExample, parseExample } from "./docs-examples/json-example.ts";
import { readCodeBlocks, type CodeBlock } from "./docs-examples/markdown-blocks.ts";
import {
  completeExample,
  exampleWorkspace,
  typeCheck,
  type ReaderCode,
  type TsExample,
} from "./docs-examples/ts-examples.ts";

const root = join(import.meta.dirname, "..");
const DOCS = [
  "README.md",
  ...readdirSync(join(root, "docs"))
    .filter((f) => f.endsWith(".md"))
    .sort()
    .map((f) => `docs/${f}`),
];
const blocks = DOCS.flatMap((file) => readCodeBlocks(root, file));
const SHELLS = new Set(["sh", "bash", "shell"]);
const TYPESCRIPT = new Set(["ts", "typescript"]);
const BLOCK_TIMEOUT_MS = 60_000;

/** The reader's own code the examples take for granted, by the name they use. */
function readerCode(upstream: string): ReaderCode {
  return {
    order: `const order = { id: "order-42", amountCents: 2000 };`,
    chargeCard: `async function chargeCard(_order: object, _context: { signal: AbortSignal; attempt: number }): Promise<{ receiptId: string }> { return { receiptId: "rcpt_1" }; }`,
    url: `const url = "${upstream}/v1/charges";`,
    body: `const body = JSON.stringify({ amount: 2000 });`,
    key: `const key = "order-42";`,
    log: `const log = { info(_data: unknown, _message: string): void {}, warn(_data: unknown, _message: string): void {} };`,
    persist: `async function persist(_state: unknown): Promise<void> {}`,
    renderThumbnail: `async function renderThumbnail(_file: string): Promise<Uint8Array> { return new Uint8Array(); }`,
    file: `const file = "photo.jpg";`,
    DEFAULT_PRICES: `const DEFAULT_PRICES = { "A-1": 1000 };`,
    fetchPrices: `async function fetchPrices(): Promise<Record<string, number>> { return { "A-1": 1200 }; }`,
    policy: `const policy = pipeline(retry(), timeout(2_000));`,
  };
}

/** The docs' placeholders turned into the test's servers and upstream. */
function rewrite(code: string, serverUrl: string, upstream: string): string {
  return code
    .replaceAll("http://127.0.0.1:7480", serverUrl)
    .replaceAll("http://localhost:3000", ordersUrl)
    .replace(/https?:\/\/(?:[a-z0-9-]+\.)*example\.com(?![\w.-])/g, upstream);
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(
  command: string,
  args: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv },
): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      { ...options, timeout: BLOCK_TIMEOUT_MS - 5_000, maxBuffer: 16 << 20 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
        resolve({
          code,
          stdout,
          stderr: error !== null && code === -1 ? `${stderr}\n${error.message}` : stderr,
        });
      },
    );
  });
}

/** What a failed run looked like, for the failure message. */
function explain(block: CodeBlock, script: string, result: Run): string {
  return [
    `${block.file}:${block.line}: the ${block.lang} block exited ${result.code}`,
    "--- as run ---",
    script,
    "--- stdout ---",
    result.stdout,
    "--- stderr ---",
    result.stderr,
  ].join("\n");
}

let dir: string;
let home: string;
let server: RunningServer;
let upstream: Server;
let upstreamUrl: string;
let orders: Server;
let ordersUrl: string;
let ordersIdempotency: Idempotency;
let key: string;
let env: NodeJS.ProcessEnv;
let examples: Map<CodeBlock, TsExample>;
let problems: Map<TsExample, string[]>;
/** What each block printed, for the `<!-- output -->` block after it. */
const printed = new Map<CodeBlock, string>();

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "steadfast-docs-"));
  home = join(dir, "home");
  mkdirSync(home);
  upstream = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      const missing = (req.url ?? "").includes("/missing");
      res.writeHead(missing ? 404 : 200, { "content-type": "application/json" });
      res.end(JSON.stringify(missing ? { error: "not found" } : { ok: true, path: req.url }));
    });
  });
  await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  ordersIdempotency = await createIdempotency({
    store: `sqlite:${join(dir, "orders-idempotency.db")}`,
    principal: (req) => req.headers.get("authorization") ?? "anonymous",
    required: true,
  });
  let created = 0;
  orders = createServer(
    nodeIdempotency(ordersIdempotency, (req, res) => {
      req.resume();
      req.on("end", () => {
        created++;
        res.writeHead(201, { "content-type": "application/json", location: `/orders/${created}` });
        res.end(JSON.stringify({ id: created }));
      });
    }),
  );
  await new Promise<void>((resolve) => orders.listen(0, "127.0.0.1", resolve));
  ordersUrl = `http://127.0.0.1:${(orders.address() as AddressInfo).port}`;
  server = await startServer(
    {
      port: 0,
      host: "127.0.0.1",
      db: `sqlite:${join(home, ".steadfast", "steadfast.db")}`,
      dataDir: join(home, ".steadfast"),
      allowPrivateNetworks: true,
      allowedCidrs: [],
      concurrency: 16,
      maxBodyBytes: 1_048_576,
      logLevel: "silent",
      shutdownGraceMs: 1_000,
    },
    { print: () => undefined },
  );
  key = readFileSync(join(home, ".steadfast", "api-key"), "utf8").trim();

  const bin = join(dir, "bin");
  mkdirSync(bin);
  const shim = (name: string, body: string): void => {
    writeFileSync(join(bin, name), `#!/bin/sh\n${body}\n`);
    chmodSync(join(bin, name), 0o755);
  };
  shim("steadfast", `exec "${process.execPath}" "${join(root, "bin", "steadfast.js")}" "$@"`);
  shim(
    "npx",
    `if [ "$1" = steadfast ]; then shift; exec steadfast "$@"; fi\necho "docs test: npx $1 does not run here" >&2; exit 127`,
  );
  shim(
    "npm",
    `echo "docs test: npm $* does not run here: mark the block <!-- not-run: reason -->" >&2; exit 127`,
  );
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith("STEADFAST_")),
  );
  env = { ...clean, PATH: `${bin}:${process.env.PATH ?? ""}`, KEY: key, STEADFAST_URL: server.url };

  const workspace = join(dir, "ts");
  exampleWorkspace(workspace, root);
  const resilience = Object.keys(await import("../src/resilience/index.ts"));
  const context = readerCode(upstreamUrl);
  examples = new Map();
  for (const block of blocks) {
    if (!TYPESCRIPT.has(block.lang) || block.marker !== undefined) continue;
    const code = rewrite(block.code, server.url, upstreamUrl).replaceAll(
      "createSteadfast({",
      "createSteadfast({ allowPrivateNetworks: true, ",
    );
    const { prelude } = completeExample(code, context, { "steadfast/resilience": resilience });
    const path = join(workspace, `${block.file.replace(/\W+/g, "-")}-${block.line}.ts`);
    writeFileSync(path, prelude + code + "\n");
    examples.set(block, {
      block,
      path,
      preludeLines: prelude === "" ? 0 : prelude.split("\n").length - 1,
    });
  }
  problems = typeCheck([...examples.values()], root);
}, 120_000);

afterAll(async () => {
  await server?.close();
  await new Promise<void>((resolve) =>
    upstream === undefined ? resolve() : upstream.close(() => resolve()),
  );
  await new Promise<void>((resolve) =>
    orders === undefined ? resolve() : orders.close(() => resolve()),
  );
  await ordersIdempotency?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function runShell(block: CodeBlock): Promise<void> {
  const script = `set -eo pipefail\n${rewrite(block.code, server.url, upstreamUrl)}\n`;
  const result = await run("bash", ["-c", script], { cwd: home, env });
  if (result.code !== 0) throw new Error(explain(block, script, result));
  printed.set(block, result.stdout);
}

async function runTypeScript(block: CodeBlock): Promise<void> {
  const example = examples.get(block)!;
  const found = problems.get(example) ?? [];
  if (found.length > 0)
    throw new Error(
      `${block.file}:${block.line}: the ts block does not type-check:\n${found.join("\n")}`,
    );
  const cwd = mkdtempSync(join(dir, "run-"));
  const result = await run(process.execPath, ["--conditions=steadfast-source", example.path], {
    cwd,
    env: { ...env, STEADFAST_API_KEY: key },
  });
  if (result.code !== 0) {
    throw new Error(explain(block, readFileSync(example.path, "utf8"), result));
  }
}

function checkJson(block: CodeBlock, previous: CodeBlock | undefined): void {
  const where = `${block.file}:${block.line}`;
  let shown;
  try {
    // What the block before printed came from the rewritten URLs: the example's are rewritten too.
    const code =
      block.marker?.kind === "output" ? rewrite(block.code, server.url, upstreamUrl) : block.code;
    shown = parseExample(code);
  } catch (error) {
    throw new Error(`${where}: the json block does not parse: ${(error as Error).message}`, {
      cause: error,
    });
  }
  if (block.marker?.kind === "shape") {
    const doc = buildOpenApiDocument() as { components: { schemas: Record<string, object> } };
    const schema = doc.components.schemas[block.marker.schema];
    if (schema === undefined)
      throw new Error(
        `${where}: <!-- shape: ${block.marker.schema} --> names no schema of the OpenAPI document (${Object.keys(doc.components.schemas).join(", ")})`,
      );
    const errors = checkShape(shown, schema, doc.components.schemas);
    if (errors.length > 0)
      throw new Error(
        `${where}: the json block is not a ${block.marker.schema}:\n${errors.join("\n")}`,
      );
    return;
  }
  if (block.marker?.kind !== "output")
    throw new Error(
      `${where}: a json block needs <!-- output --> (what the block before it prints) or <!-- shape: Name --> (a schema of the OpenAPI document) on the line before it`,
    );
  const output = previous === undefined ? undefined : printed.get(previous);
  if (output === undefined)
    throw new Error(`${where}: <!-- output --> follows no sh block that ran and printed something`);
  let actual: unknown;
  try {
    actual = JSON.parse(output.trim());
  } catch {
    const last = output.trim().split("\n").at(-1) ?? "";
    try {
      actual = JSON.parse(last);
    } catch {
      throw new Error(`${where}: the block before printed no JSON:\n${output}`);
    }
  }
  const differences = compareExample(shown, actual);
  if (differences.length > 0)
    throw new Error(
      `${where}: the json block differs from what ${previous!.file}:${previous!.line} printed:\n${differences.join("\n")}\n--- printed ---\n${output}`,
    );
}

describe("docs examples", () => {
  it("are all run here, or marked <!-- not-run: reason -->", () => {
    const unknown = blocks.flatMap((block) => {
      const where = `${block.file}:${block.line}`;
      if (block.badMarker !== undefined)
        return [
          `${where}: unreadable marker ${block.badMarker}; use <!-- not-run: reason -->, <!-- output --> or <!-- shape: Name -->`,
        ];
      if (block.marker?.kind === "not-run") return [];
      if (block.marker !== undefined && block.lang !== "json")
        return [`${where}: <!-- ${block.marker.kind} --> is for json blocks`];
      if (SHELLS.has(block.lang) || TYPESCRIPT.has(block.lang) || block.lang === "json") return [];
      return [
        `${where}: a \`\`\`${block.lang} block this test cannot run: make it sh, ts or json, or mark it <!-- not-run: reason -->`,
      ];
    });
    expect(unknown).toEqual([]);
    expect(blocks.length).toBeGreaterThan(20);
  });

  const runnable = (block: CodeBlock): boolean =>
    block.marker?.kind !== "not-run" &&
    (SHELLS.has(block.lang) || TYPESCRIPT.has(block.lang) || block.lang === "json");
  // A file whose every block is marked not-run (docs/production.md: unit files, a Dockerfile) has
  // nothing to run here; the test above holds it to its markers.
  for (const file of DOCS.filter((f) => blocks.some((b) => b.file === f && runnable(b)))) {
    describe(file, () => {
      const own = blocks.filter((block) => block.file === file);
      own.forEach((block, index) => {
        if (!runnable(block)) return;
        it(
          `${file}:${block.line} ${block.lang}`,
          async () => {
            if (SHELLS.has(block.lang)) await runShell(block);
            else if (TYPESCRIPT.has(block.lang)) await runTypeScript(block);
            else checkJson(block, own[index - 1]);
          },
          BLOCK_TIMEOUT_MS,
        );
      });
    });
  }
});
