#!/usr/bin/env node
// The `steadfast` command. Plain JavaScript that any Node.js can parse, so an old Node prints a
// clear message instead of a syntax error. In a source checkout it runs the TypeScript CLI
// directly (Node 24 strips the types); an installed package ships only the compiled `dist/`
// (`npm run build`, run by `npm pack`), since Node does not strip types under node_modules.
/* global process */
import { existsSync } from "node:fs";

const major = Number(process.versions.node.split(".")[0]);

if (major < 24) {
  process.stderr.write(
    `steadfast needs Node.js 24 or newer; this is Node.js ${process.versions.node}. ` +
      "Run it through npm (npm start), which uses the project's Node 24, or install Node 24.\n",
  );
  process.exit(1);
} else {
  const source = new URL("../src/cli/main.ts", import.meta.url);
  const entry = existsSync(source) ? source : new URL("../dist/cli/main.js", import.meta.url);
  /** @type {{ main: (argv: string[]) => Promise<number> }} */
  // eslint-disable-next-line @typescript-eslint/no-unsafe-assignment -- a path chosen at run time has no static type; the JSDoc above gives it one
  const cli = await import(entry.href);
  process.exitCode = await cli.main(process.argv);
}
