// The fenced code blocks of a Markdown file, with the marker comment that says how to treat each.
import { readFileSync } from "node:fs";

/** What the comment before a block says about it. */
export type BlockMarker =
  /** `<!-- not-run: reason -->`: the block cannot run (a transcript, a systemd unit...). */
  | { kind: "not-run"; reason: string }
  /** `<!-- output -->`: a JSON block showing what the block before it printed. */
  | { kind: "output" }
  /** `<!-- shape: CallView -->`: a JSON block of a shape the OpenAPI document names. */
  | { kind: "shape"; schema: string };

/** One fenced code block. */
export interface CodeBlock {
  /** The file, relative to the repository (`README.md`, `docs/cli.md`). */
  file: string;
  /** 1-based line of the opening fence. */
  line: number;
  /** The info string's first word, lower-cased: `sh`, `ts`, `json`, or `""` for none. */
  lang: string;
  /** The lines between the fences, their indentation (that of the fence) removed. */
  code: string;
  /** The marker comment on the last non-blank line before the fence, if any. */
  marker?: BlockMarker;
  /** A marker comment that could not be read (named in the failure). */
  badMarker?: string;
}

const FENCE = /^(\s*)(`{3,}|~{3,})\s*([^`\s]*)/;
const MARKER = /^\s*<!--\s*([a-z-]+)(?::\s*(.*?))?\s*-->\s*$/;

/** Reads the marker comment of a block from the line before it, if that line is one. */
function readMarker(line: string | undefined): Pick<CodeBlock, "marker" | "badMarker"> {
  if (line === undefined) return {};
  const match = MARKER.exec(line);
  if (match === null) return line.trimStart().startsWith("<!--") ? { badMarker: line.trim() } : {};
  const [, kind, argument = ""] = match;
  if (kind === "not-run" && argument !== "") return { marker: { kind, reason: argument } };
  if (kind === "output" && argument === "") return { marker: { kind } };
  if (kind === "shape" && /^[A-Za-z]+$/.test(argument))
    return { marker: { kind, schema: argument } };
  return { badMarker: line.trim() };
}

/** Every fenced code block of `text`, in order. */
export function codeBlocks(file: string, text: string): CodeBlock[] {
  const lines = text.split("\n");
  const blocks: CodeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i]!);
    if (open === null) continue;
    const [, indent = "", fence = "", info = ""] = open;
    const body: string[] = [];
    let end = i + 1;
    for (; end < lines.length; end++) {
      const close = lines[end]!;
      const closing = close.trim();
      if (/^(`+|~+)$/.test(closing) && closing[0] === fence[0] && closing.length >= fence.length)
        break;
      body.push(close.startsWith(indent) ? close.slice(indent.length) : close.trimStart());
    }
    let previous = i - 1;
    while (previous >= 0 && lines[previous]!.trim() === "") previous--;
    blocks.push({
      file,
      line: i + 1,
      lang: info.toLowerCase(),
      code: body.join("\n"),
      ...readMarker(previous >= 0 ? lines[previous] : undefined),
    });
    i = end;
  }
  return blocks;
}

/** The blocks of `file` (a path relative to `root`). */
export function readCodeBlocks(root: string, file: string): CodeBlock[] {
  return codeBlocks(file, readFileSync(`${root}/${file}`, "utf8"));
}
