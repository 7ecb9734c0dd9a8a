import { describe, expect, it } from "vitest";
import { createLogger } from "./logger.ts";

function capture(): { lines: string[]; logger: ReturnType<typeof createLogger> } {
  const lines: string[] = [];
  const logger = createLogger(
    { level: "debug", service: "steadfast" },
    { write: (line: string) => void lines.push(line) },
  );
  return { lines, logger };
}

describe("createLogger (issue 10, item 3)", () => {
  it("redacts URLs in messages, fields, nested fields and format arguments", () => {
    const { lines, logger } = capture();
    logger.warn("request to http://u:SECRET1@h.example/x?token=SECRET2 failed");
    logger.info(
      { url: "u:SECRET3@h.example/x?sig=SECRET4", detail: { text: "see https://h/?code=SECRET5" } },
      "fields",
    );
    logger.debug("upstream %s answered", "https://h/?access_token=SECRET6");
    const all = lines.join("");
    expect(all).not.toMatch(/SECRET/);
    expect(JSON.parse(lines[0]!)).toMatchObject({
      service: "steadfast",
      msg: "request to http://[redacted]@h.example/x?token=[redacted] failed",
    });
  });

  it("redacts errors: message, stack, causes, and Node's ERR_INVALID_URL input", () => {
    const { lines, logger } = capture();
    let invalid: unknown;
    try {
      new URL("http://u:SECRET7@h.example:99999/?api_key=SECRET8");
    } catch (error) {
      invalid = error;
    }
    logger.error({ err: invalid }, "bad URL");
    const nested = new Error("outer https://h/?signature=SECRET9", {
      cause: new Error("inner http://a:SECRET10@b/"),
    });
    logger.error({ err: nested }, "failed");
    expect(lines.join("")).not.toMatch(/SECRET/);
    const logged = JSON.parse(lines[0]!) as { err: { code: string; input: string } };
    expect(logged.err).toMatchObject({
      code: "ERR_INVALID_URL",
      input: "http://[redacted]@h.example:99999/?api_key=[redacted]",
    });
  });

  it("redacts at any depth: deep fields, errors and URLs under any key, format arguments", () => {
    const { lines, logger } = capture();
    let deep: Record<string, unknown> = { url: "http://u:SECRET11@h.example/", note: "kept" };
    for (let i = 0; i < 12; i++) deep = { next: deep };
    logger.info({ deep }, "deep fields");
    let invalid: unknown;
    try {
      new URL("http://u:SECRET12@h.example:99999/?api_key=SECRET13");
    } catch (error) {
      invalid = error;
    }
    // An error, or a URL object, under a key pino does not serialise as an error.
    logger.error(
      { failure: invalid, target: new URL("https://u:SECRET14@h/?token=SECRET15") },
      "x",
    );
    logger.info("format %o and %j", { url: "http://u:SECRET16@h/" }, ["https://h/?sig=SECRET17"]);
    const all = lines.join("");
    expect(all).not.toMatch(/SECRET/);
    let shown: unknown = (JSON.parse(lines[0]!) as { deep: unknown }).deep;
    for (let i = 0; i < 12; i++) shown = (shown as { next: unknown }).next;
    expect(shown).toEqual({ url: "http://[redacted]@h.example/", note: "kept" });
    expect(JSON.parse(lines[1]!)).toMatchObject({
      failure: {
        code: "ERR_INVALID_URL",
        input: "http://[redacted]@h.example:99999/?api_key=[redacted]",
      },
      target: "https://[redacted]@h/?token=[redacted]",
    });
  });

  it("drops what nests deeper than it walks, and writes cycles as [Circular]", () => {
    const { lines, logger } = capture();
    let deep: Record<string, unknown> = { url: "http://u:SECRET18@h/" };
    for (let i = 0; i < 100; i++) deep = { next: deep };
    const cyclic: Record<string, unknown> = { name: "loop" };
    cyclic.self = cyclic;
    logger.info({ deep, cyclic }, "bounded");
    expect(lines.join("")).not.toMatch(/SECRET/);
    const line = JSON.parse(lines[0]!) as { deep: unknown; cyclic: unknown };
    expect(JSON.stringify(line.deep)).toContain('"[truncated]"');
    expect(line.cyclic).toEqual({ name: "loop", self: "[Circular]" });
  });
});
