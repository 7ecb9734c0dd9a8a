// TypeScript examples of the docs: completed into modules (the imports and the reader's own code
// they take for granted), type-checked together against the package's sources, then run.
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import ts from "typescript";
import type { CodeBlock } from "./markdown-blocks.ts";

/** An example completed into a module file. */
export interface TsExample {
  block: CodeBlock;
  /** The module file written for it. */
  path: string;
  /** Lines added before the block's code (to map diagnostics back to the doc). */
  preludeLines: number;
}

/**
 * Code the examples assume the reader has (`chargeCard`, `url`, a `log`...), by name. An example
 * that uses a name it does not define gets that definition; one this table lacks fails the type
 * check, naming it.
 */
export type ReaderCode = Readonly<Record<string, string>>;

/** Names exported by each module an example may use without importing them itself. */
export type ImplicitImports = Readonly<Record<string, readonly string[]>>;

function uses(code: string, name: string): boolean {
  return new RegExp(`(?<![.\\w$])${name.replace("$", "\\$")}\\b`).test(code);
}

function declares(code: string, name: string): boolean {
  return (
    new RegExp(`\\b(?:const|let|var|function|class)\\s+${name}\\b`).test(code) ||
    new RegExp(`import\\s*(?:type\\s*)?\\{[^}]*\\b${name}\\b[^}]*\\}`).test(code) ||
    new RegExp(`import\\s+${name}\\b`).test(code)
  );
}

/**
 * The example as a module: the reader's code it uses and does not define (and what that code uses
 * in turn), then imports of the names it uses from `implicit` modules without importing them.
 */
export function completeExample(
  code: string,
  readerCode: ReaderCode,
  implicit: ImplicitImports,
): { prelude: string; code: string } {
  const definitions: string[] = [];
  let scanned = code;
  for (let added = true; added;) {
    added = false;
    for (const [name, definition] of Object.entries(readerCode)) {
      if (definitions.includes(definition)) continue;
      if (uses(scanned, name) && !declares(code, name)) {
        definitions.unshift(definition);
        scanned += `\n${definition}`;
        added = true;
      }
    }
  }
  const imports = Object.entries(implicit).flatMap(([from, names]) => {
    const needed = names.filter((name) => uses(scanned, name) && !declares(code, name));
    return needed.length === 0 ? [] : [`import { ${needed.join(", ")} } from "${from}";`];
  });
  const prelude = [...imports, ...definitions].join("\n");
  return { prelude: prelude === "" ? "" : `${prelude}\n`, code };
}

/**
 * The web frameworks the durable endpoints' examples mount an endpoint on (docs/endpoints.md), as
 * the reader would have installed them: linked from the repository's own (dev) dependencies.
 */
const FRAMEWORKS = ["express", "@types/express", "fastify", "hono", "@hono/node-server"];

/**
 * A directory where examples import the package as its users do (`steadfast`,
 * `steadfast/resilience`...): a `node_modules/steadfast` link to the repository, resolved to the
 * TypeScript sources by the `steadfast-source` export condition, and links to the `FRAMEWORKS`.
 */
export function exampleWorkspace(dir: string, root: string): void {
  mkdirSync(join(dir, "node_modules", "@types"), { recursive: true });
  mkdirSync(join(dir, "node_modules", "@hono"), { recursive: true });
  symlinkSync(root, join(dir, "node_modules", "steadfast"), "dir");
  for (const framework of FRAMEWORKS) {
    symlinkSync(join(root, "node_modules", framework), join(dir, "node_modules", framework), "dir");
  }
  writeFileSync(join(dir, "package.json"), JSON.stringify({ type: "module", private: true }));
}

/**
 * Type-checks the example modules with the repository's compiler settings. Returns the problems
 * of each, as `line: message` with lines of the doc the example came from.
 */
export function typeCheck(examples: readonly TsExample[], root: string): Map<TsExample, string[]> {
  const config = ts.readConfigFile(join(root, "tsconfig.json"), (path) => ts.sys.readFile(path));
  const { options } = ts.parseJsonConfigFileContent(config.config, ts.sys, root);
  const program = ts.createProgram(
    examples.map((example) => example.path),
    { ...options, noEmit: true, typeRoots: [join(root, "node_modules", "@types")] },
  );
  const problems = new Map<TsExample, string[]>();
  for (const example of examples) {
    const source = program.getSourceFile(example.path);
    if (source === undefined) {
      problems.set(example, ["the compiler did not load the example"]);
      continue;
    }
    const diagnostics = ts.getPreEmitDiagnostics(program, source);
    problems.set(
      example,
      diagnostics.map((diagnostic) => {
        const text = ts.flattenDiagnosticMessageText(diagnostic.messageText, "\n");
        if (diagnostic.file === undefined || diagnostic.start === undefined) return text;
        const { line } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start);
        const inBlock = line - example.preludeLines;
        const where =
          inBlock < 0
            ? "(in the code the test adds)"
            : `${example.block.file}:${example.block.line + 1 + inBlock}`;
        return `${where}: ${text}`;
      }),
    );
  }
  return problems;
}
