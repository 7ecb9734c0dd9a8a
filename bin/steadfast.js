#!/usr/bin/env node
// The `steadfast` command. Plain JavaScript that any Node.js can parse, so an old Node prints a
// clear message instead of a syntax error; the CLI itself is TypeScript that Node 24 runs directly.
/* global process */
const major = Number(process.versions.node.split(".")[0]);

if (major < 24) {
  process.stderr.write(
    `steadfast needs Node.js 24 or newer; this is Node.js ${process.versions.node}. ` +
      "Run it through npm (npm start), which uses the project's Node 24, or install Node 24.\n",
  );
  process.exit(1);
} else {
  const { main } = await import("../src/cli/main.ts");
  process.exitCode = await main(process.argv);
}
