// The published package: `npm run build` compiles src/ to dist/, `npm pack` ships dist/ and bin/
// (not the TypeScript sources), and an installed copy works on Node with type stripping turned
// off, as it is for every file under node_modules.
import { execFile } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
const root = join(import.meta.dirname, "..");
const NO_TYPES = "--no-experimental-strip-types";
let dir: string;

beforeAll(async () => {
  await run("npm", ["run", "build"], { cwd: root });
  dir = mkdtempSync(join(tmpdir(), "steadfast-package-"));
}, 120_000);
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Lays out the package as `npm install` would: its files, and its dependencies beside it. */
function install(): { consumer: string; pkg: string } {
  const consumer = mkdtempSync(join(dir, "consumer-"));
  const pkg = join(consumer, "node_modules", "steadfast");
  mkdirSync(pkg, { recursive: true });
  for (const entry of ["package.json", "bin", "dist"])
    cpSync(join(root, entry), join(pkg, entry), { recursive: true });
  // The dependencies the package resolves from its own location.
  symlinkSync(join(root, "node_modules"), join(pkg, "node_modules"), "dir");
  return { consumer, pkg };
}

describe("the published package", () => {
  it("packs the compiled code, the migrations and the command, not the sources or tests", async () => {
    const { stdout } = await run("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], {
      cwd: root,
    });
    const [packed] = JSON.parse(stdout) as [{ files: { path: string }[] }];
    const files = packed.files.map((file) => file.path);
    expect(files).toEqual(
      expect.arrayContaining([
        "package.json",
        "LICENSE",
        "bin/steadfast.js",
        "dist/index.js",
        "dist/index.d.ts",
        "dist/cli/main.js",
        "dist/client/index.js",
        "dist/store/migrations/sqlite/0001_init.sql",
        "dist/store/migrations/postgres/0001_init.sql",
      ]),
    );
    expect(files.filter((file) => file.startsWith("src/") || file.startsWith("test/"))).toEqual([]);
    expect(files.filter((file) => /\.test(-support)?\.(js|ts)$/.test(file))).toEqual([]);
  });

  it('runs a durable call from `import { createSteadfast } from "steadfast"` without type stripping', async () => {
    const { consumer } = install();
    const script = join(consumer, "call.mjs");
    writeFileSync(
      script,
      [
        'import { createServer } from "node:http";',
        'import { join } from "node:path";',
        'import { createSteadfast } from "steadfast";',
        'const upstream = createServer((req, res) => res.end("ok"));',
        'await new Promise((resolve) => upstream.listen(0, "127.0.0.1", resolve));',
        `const sf = await createSteadfast({ db: "sqlite:" + join(${JSON.stringify(dir)}, "steadfast.db"), allowPrivateNetworks: true });`,
        "const call = await sf.fetch({ url: `http://127.0.0.1:${upstream.address().port}/` });",
        "const result = await call.result();",
        "await sf.close();",
        "upstream.close();",
        "console.log(JSON.stringify({ status: result.status, body: result.response?.body }));",
      ].join("\n"),
    );
    const { stdout } = await run(process.execPath, [NO_TYPES, script], { cwd: consumer });
    expect(JSON.parse(stdout)).toEqual({ status: "succeeded", body: "ok" });
  });

  it("runs the `steadfast` command from dist/ when the sources are not there", async () => {
    const { pkg } = install();
    const { stdout } = await run(
      process.execPath,
      [NO_TYPES, join(pkg, "bin", "steadfast.js"), "--help"],
      {
        cwd: dir,
      },
    );
    expect(stdout).toContain("Usage: steadfast");
    expect(stdout).toContain("serve");
  });
});
