import type { Command } from "commander";
import type { FetchInput } from "../core/fetch-input.ts";
import { methodProblem } from "../core/http-fields.ts";
import { idempotencyKeyProblem } from "../core/idempotency-key.ts";
import { CliError } from "./cli-error.ts";
import type { CliIo } from "./cli-io.ts";
import { addClientOptions, withClient } from "./client-options.ts";
import { parseIntegerFlag, type ClientFlags } from "./config.ts";
import { collect, parseHeaderFlags } from "./header-flags.ts";
import { callSummary, json } from "./format.ts";

/** Seconds `--wait` waits when given without a value. */
export const DEFAULT_WAIT_SECONDS = 30;

/** Flags of `steadfast fetch` as commander parses them. */
export interface FetchFlags extends ClientFlags {
  request?: string;
  data?: string;
  header?: string[];
  retries?: string;
  idempotencyKey?: string;
  callback?: string;
  /** `true` for a bare `--wait`. */
  wait?: string | true;
  json?: boolean;
}

/**
 * The `POST /v1/fetch` body and options for `steadfast fetch <url>`: the method defaults to GET, or
 * POST with `-d`; `-d @file` reads the file (`@-` standard input); a body that parses as JSON is
 * sent as JSON unless a non-JSON `Content-Type` header is given; `--retries N` means
 * `maxAttempts = N + 1`. Throws `CliError` for a bad flag.
 */
export function buildFetchRequest(
  url: string,
  flags: FetchFlags,
  readFile: (path: string) => string,
): { input: FetchInput; idempotencyKey?: string; waitSeconds?: number } {
  const input: FetchInput = { url };
  const headers: Record<string, string> = Object.fromEntries(
    parseHeaderFlags(flags.header ?? [], "-H"),
  );
  if (Object.keys(headers).length > 0) input.headers = headers;

  if (flags.request !== undefined) {
    const method = flags.request.trim();
    const problem = methodProblem(method);
    if (problem !== undefined)
      throw new CliError(`-X ${JSON.stringify(flags.request)} is not valid: ${problem}`);
    input.method = method.toUpperCase();
  } else if (flags.data !== undefined) {
    input.method = "POST";
  }

  if (flags.data !== undefined) {
    const text = flags.data.startsWith("@")
      ? readBodyFile(flags.data.slice(1), readFile)
      : flags.data;
    const contentType = Object.entries(headers).find(
      ([name]) => name.toLowerCase() === "content-type",
    )?.[1];
    input.body = contentType === undefined || /json/i.test(contentType) ? jsonOrText(text) : text;
  }

  if (flags.callback !== undefined) input.callback = { url: flags.callback };
  if (flags.retries !== undefined) {
    input.retry = { maxAttempts: parseIntegerFlag("--retries", flags.retries, 0, 99) + 1 };
  }

  const result: { input: FetchInput; idempotencyKey?: string; waitSeconds?: number } = { input };
  if (flags.idempotencyKey !== undefined) {
    // The server's rule (core/idempotency-key.ts), checked before anything is sent.
    const problem = idempotencyKeyProblem(flags.idempotencyKey);
    if (problem !== undefined) {
      throw new CliError(`--idempotency-key ${problem}, or leave the flag out`);
    }
    result.idempotencyKey = flags.idempotencyKey;
  }
  if (flags.wait !== undefined) {
    result.waitSeconds =
      flags.wait === true ? DEFAULT_WAIT_SECONDS : parseIntegerFlag("--wait", flags.wait, 0, 3_600);
  }
  return result;
}

function readBodyFile(path: string, readFile: (path: string) => string): string {
  if (path === "")
    throw new CliError("-d @ needs a file name: -d @body.json, or -d @- for standard input");
  try {
    return readFile(path);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    throw new CliError(
      `-d @${path}: cannot read the file${typeof code === "string" ? ` (${code})` : ""}; check the path`,
      { cause: error },
    );
  }
}

function jsonOrText(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** Registers `steadfast fetch <url>`. */
export function registerFetchCommand(program: Command, io: CliIo): void {
  const command = program
    .command("fetch")
    .description("submit a durable HTTP call and print its id and status")
    .argument("<url>", "absolute http(s) URL of the upstream")
    .option("-X, --request <method>", "HTTP method (default GET, or POST with -d)")
    .option(
      "-d, --data <body>",
      "request body; @file reads a file, @- standard input; a body that parses as JSON is sent as JSON",
    )
    .option("-H, --header <header>", "request header 'Name: value' (repeatable)", collect)
    .option(
      "--retries <n>",
      "retries after the first attempt, 0 to 99 (maxAttempts = n + 1; server default 4)",
    )
    .option(
      "--callback <url>",
      "POST the final call, signed, to this URL when it ends (steadfast calls show tells how that went)",
    )
    .option(
      "--idempotency-key <key>",
      "Idempotency-Key: the same key and request return the same call",
    )
    .option(
      "--wait [seconds]",
      `wait up to this many seconds for the call to end (default ${DEFAULT_WAIT_SECONDS} when given without a value)`,
    )
    .option("--json", "print the whole call as JSON");
  addClientOptions(command).action((url: string, flags: FetchFlags) => {
    const request = buildFetchRequest(url, flags, io.readFile);
    return withClient(flags, io, async (client) => {
      const call = await client.fetch(request.input, {
        ...(request.idempotencyKey === undefined ? {} : { idempotencyKey: request.idempotencyKey }),
        ...(request.waitSeconds === undefined ? {} : { waitSeconds: request.waitSeconds }),
      });
      io.out(flags.json === true ? json(call) : callSummary(call));
    });
  });
  command.addHelpText(
    "after",
    `
Examples:
  steadfast fetch https://api.example.com/health
  steadfast fetch https://api.example.com/orders -d '{"sku":"A-1"}' --idempotency-key order-42 --wait
  steadfast fetch https://api.example.com/upload -X PUT -d @payload.json -H 'X-Team: core' --retries 9`,
  );
}
