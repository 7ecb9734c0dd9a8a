/**
 * Issue 10, item 16: the purity and boundary rules of eslint.config.js fire. ESLint's Node API
 * lints small sources as if they lived at a given path; only the four rules under test run (the
 * type-checked ones need files on disk).
 */
import { join } from "node:path";
import { ESLint } from "eslint";
import { describe, expect, it } from "vitest";

const RULES = new Set([
  "no-restricted-imports",
  "no-restricted-globals",
  "no-restricted-properties",
  "no-restricted-syntax",
]);

const eslint = new ESLint({
  cwd: join(import.meta.dirname, ".."),
  overrideConfig: { languageOptions: { parserOptions: { projectService: false, project: null } } },
  ruleFilter: ({ ruleId }) => RULES.has(ruleId),
});

/** The rules that fire on `code` placed at `filePath`, as `rule: message` lines. */
async function lint(code: string, filePath: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  const fatal = result?.messages.find((m) => m.fatal === true);
  if (fatal !== undefined) throw new Error(`fixture does not parse: ${fatal.message}`);
  return (result?.messages ?? []).map((m) => `${m.ruleId ?? "?"}: ${m.message}`);
}

const CORE = "src/core/lint-fixture.ts";
const CORE_DEEP = "src/core/a/b/c/lint-fixture.ts";

describe("core purity", () => {
  it.each([
    ["new Date()", "const now = new Date();", "no-restricted-syntax"],
    ["Date()", "const now = Date();", "no-restricted-syntax"],
    ["Date.now()", "const now = Date.now();", "no-restricted-properties"],
    ["performance.now()", "const now = performance.now();", "no-restricted-globals"],
    ["crypto.randomUUID()", "const id = crypto.randomUUID();", "no-restricted-globals"],
    ["Math.random()", "const r = Math.random();", "no-restricted-properties"],
    ["setTimeout", "setTimeout(() => {}, 1);", "no-restricted-globals"],
    ["setImmediate", "setImmediate(() => {});", "no-restricted-globals"],
    ["fetch", 'void fetch("https://example.com");', "no-restricted-globals"],
    [
      "globalThis.fetch",
      'void globalThis.fetch("https://example.com");',
      "no-restricted-properties",
    ],
    ["process.env", "const env = process.env;", "no-restricted-globals"],
    ["node:fs", 'import { readFileSync } from "node:fs";', "no-restricted-imports"],
    ["node:crypto", 'import { randomUUID } from "node:crypto";', "no-restricted-imports"],
    ["fs", 'import { readFileSync } from "fs";', "no-restricted-imports"],
    ["undici", 'import { request } from "undici";', "no-restricted-imports"],
    ["pino", 'import pino from "pino";', "no-restricted-imports"],
  ])("refuses %s in src/core", async (_name, code, rule) => {
    const fired = await lint(code, CORE);
    expect(fired.some((line) => line.startsWith(`${rule}: `) && / core /.test(line))).toBe(true);
    // At any depth inside core.
    expect(await lint(code, CORE_DEEP)).toEqual(fired);
  });

  it("allows what core does: a given time, Date.parse, zod, its own files", async () => {
    const code = [
      'import { z } from "zod";',
      'import type { Clock } from "./ports.ts";',
      "const at = new Date(1_700_000_000_000).toISOString();",
      'const ms = Date.parse("Mon, 23 Nov 2026 12:00:30 GMT");',
      "const schema = z.string();",
      "export type { Clock };",
      "export { at, ms, schema };",
    ].join("\n");
    expect(await lint(code, CORE)).toEqual([]);
  });

  it("keeps the purity rules to core", async () => {
    expect(
      await lint("const now = new Date(); const t = performance.now();", "src/engine/x.ts"),
    ).toEqual([]);
  });

  it("keeps refusing enums and namespaces in core and elsewhere", async () => {
    for (const file of [CORE, "src/engine/x.ts"]) {
      expect(await lint("enum Color { Red }", file)).toEqual([
        "no-restricted-syntax: No enums: use `as const` objects with unions (erasableSyntaxOnly).",
      ]);
    }
  });
});

describe("import boundaries, at any folder depth", () => {
  it.each([
    ["src/engine/x.ts", "../store/sqlite/sqlite-store.ts"],
    ["src/engine/destinations/x.ts", "../../store/sqlite/sqlite-store.ts"],
    ["src/engine/destinations/deep/x.ts", "../../../store/sqlite/sqlite-store.ts"],
    ["src/engine/destinations/deep/deeper/x.ts", "../../../../store/index.ts"],
    ["src/engine/destinations/deep/deeper/x.ts", "../../../../server"],
    ["src/core/a/b/x.ts", "../../../engine/engine.ts"],
    ["src/core/a/b/x.ts", "../../../resilience"],
    ["src/resilience/a/b/x.ts", "../../../engine/engine.ts"],
    ["src/http/a/b/c/x.ts", "../../../../store/postgres/postgres-store.ts"],
    ["src/client/a/b/x.ts", "../../../resilience/index.ts"],
    ["src/store/sqlite/deep/x.ts", "../../../engine/engine.ts"],
    ["src/endpoints/x.ts", "../store/sqlite/sqlite-store.ts"],
    ["src/idempotency/x.ts", "../engine/fingerprint.ts"],
    ["src/idempotency/stores/x.ts", "../../store/postgres/postgres-store.ts"],
    ["src/idempotency/stores/x.ts", "../../server/problem.ts"],
    ["src/exchange/x.ts", "../engine/endpoints/endpoint-messages.ts"],
    ["src/exchange/x.ts", "../middleware/response-capture.ts"],
    ["src/middleware/x.ts", "../idempotency/create-idempotency.ts"],
    ["src/middleware/x.ts", "../endpoints/node-adapter.ts"],
    ["src/engine/endpoints/x.ts", "../../middleware/index.ts"],
    ["src/rate-limit/x.ts", "../server/problem.ts"],
    ["src/rate-limit/stores/x.ts", "../../store/postgres/postgres-store.ts"],
    ["src/core/x.ts", "../rate-limit/index.ts"],
    ["src/idempotency/x.ts", "../rate-limit/quota.ts"],
    ["src/store-plumbing/x.ts", "../idempotency/idempotency-store.ts"],
    ["src/store-plumbing/x.ts", "../rate-limit/rate-limit-store.ts"],
  ])("refuses %s importing %s", async (file, source) => {
    const fired = await lint(`import { x } from "${source}";\nexport { x };`, file);
    expect(fired).toHaveLength(1);
    expect(fired[0]).toMatch(/^no-restricted-imports: .* src\/[\w-]+ must not import src\/[\w-]+/);
  });

  it.each([
    ["src/engine/destinations/deep/x.ts", "../../../core/call.ts"],
    ["src/engine/destinations/deep/x.ts", "../../../resilience/events.ts"],
    ["src/engine/destinations/deep/x.ts", "../sibling.ts"],
    ["src/resilience/a/b/x.ts", "../../../core/errors.ts"],
    ["src/client/a/x.ts", "../../core/call-view.ts"],
    ["src/endpoints/x.ts", "../engine/endpoints/durable-endpoint.ts"],
    ["src/idempotency/stores/x.ts", "../../core/errors.ts"],
    ["src/idempotency/x.ts", "../resilience/system.ts"],
    ["src/idempotency/x.ts", "../exchange/node-exchange.ts"],
    ["src/idempotency/x.ts", "../middleware/node-middleware.ts"],
    ["src/endpoints/x.ts", "../exchange/node-exchange.ts"],
    ["src/engine/endpoints/x.ts", "../../exchange/body-bytes.ts"],
    ["src/middleware/x.ts", "../exchange/node-exchange.ts"],
    ["src/rate-limit/x.ts", "../resilience/background-loop.ts"],
    ["src/idempotency/x.ts", "../resilience/background-loop.ts"],
    ["src/rate-limit/stores/x.ts", "../../core/errors.ts"],
    ["src/server/x.ts", "../rate-limit/index.ts"],
    ["src/idempotency/stores/x.ts", "../../store-plumbing/store-url.ts"],
    ["src/rate-limit/stores/x.ts", "../../store-plumbing/postgres-pool.ts"],
    ["src/store-plumbing/x.ts", "../core/errors.ts"],
  ])("allows %s importing %s", async (file, source) => {
    expect(await lint(`import { x } from "${source}";\nexport { x };`, file)).toEqual([]);
  });
});
