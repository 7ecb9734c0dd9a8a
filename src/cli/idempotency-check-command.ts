import type { Command } from "commander";
import { methodProblem } from "../core/http-fields.ts";
import { checkIdempotency, type CheckResult } from "../idempotency/conformance-check.ts";
import { CliError } from "./cli-error.ts";
import type { CliIo } from "./cli-io.ts";
import { parseIntegerFlag } from "./config.ts";
import { json, printable, table } from "./format.ts";
import { collect, parseHeaderFlags } from "./header-flags.ts";

/** Flags of `steadfast idempotency-check` as commander parses them. */
export interface IdempotencyCheckFlags {
  method?: string;
  body?: string;
  changedBody?: string;
  header?: string[];
  otherHeader?: string[];
  keyOptional?: boolean;
  concurrency?: string;
  timeout?: string;
  json?: boolean;
}

/**
 * Runs `steadfast idempotency-check <url>`: the draft's behaviours (`checkIdempotency`) against
 * `url`, printed as a pass/fail table (or JSON). Throws `CliError` for a bad flag, and when a
 * check fails (exit code 1, naming the failed checks).
 */
export async function runIdempotencyCheck(
  url: string,
  flags: IdempotencyCheckFlags,
  io: CliIo,
): Promise<CheckResult[]> {
  const target = URL.parse(url);
  if (target === null || !/^https?:$/.test(target.protocol)) {
    throw new CliError(
      `${JSON.stringify(url)} is not an absolute http(s) URL: give the endpoint to check, such as http://127.0.0.1:3000/orders`,
    );
  }
  const method = (flags.method ?? "POST").trim();
  const problem = methodProblem(method);
  if (problem !== undefined) {
    throw new CliError(`--method ${JSON.stringify(flags.method)} is not valid: ${problem}`);
  }
  const results = await checkIdempotency({
    url: target.href,
    method,
    ...(flags.body === undefined ? {} : { body: flags.body }),
    ...(flags.changedBody === undefined ? {} : { changedBody: flags.changedBody }),
    headers: parseHeaderFlags(flags.header ?? [], "--header"),
    otherHeaders:
      flags.otherHeader === undefined
        ? undefined
        : parseHeaderFlags(flags.otherHeader, "--other-header"),
    keyRequired: flags.keyOptional !== true,
    concurrency:
      flags.concurrency === undefined
        ? 8
        : parseIntegerFlag("--concurrency", flags.concurrency, 2, 100),
    timeoutMs:
      (flags.timeout === undefined ? 10 : parseIntegerFlag("--timeout", flags.timeout, 1, 600)) *
      1_000,
  });
  if (flags.json === true) {
    io.out(json(results));
  } else {
    io.out(`Idempotency-Key conformance of ${method.toUpperCase()} ${printable(target.href)}\n\n`);
    io.out(
      table(
        ["CHECK", "RESULT", "DETAIL"],
        results.map((r) => [r.name, r.outcome, printable(r.detail)]),
      ),
    );
    const count = (outcome: CheckResult["outcome"]) =>
      results.filter((r) => r.outcome === outcome).length;
    io.out(`\n${count("pass")} passed, ${count("fail")} failed, ${count("skip")} skipped\n`);
  }
  const failed = results.filter((r) => r.outcome === "fail");
  if (failed.length > 0) {
    throw new CliError(
      `${failed.length} of ${results.length} checks failed: ${failed.map((r) => r.id).join(", ")}`,
    );
  }
  return results;
}

/** Registers `steadfast idempotency-check <url>`. */
export function registerIdempotencyCheckCommand(program: Command, io: CliIo): void {
  program
    .command("idempotency-check")
    .description(
      "check an endpoint of your API against the Idempotency-Key draft: replay, 409 while in flight, 422, 400, quoted keys, keys per principal",
    )
    .argument("<url>", "the endpoint, such as http://127.0.0.1:3000/orders")
    .option("-X, --method <method>", "HTTP method (default POST)")
    .option("-d, --body <body>", "a request body the endpoint accepts (default {})")
    .option(
      "--changed-body <body>",
      "the body of the 422 check (default: the body with a member or a line added)",
    )
    .option("-H, --header <header>", "request header 'Name: value' (repeatable)", collect)
    .option(
      "--other-header <header>",
      "a header of a second principal, replacing the one of its name (repeatable); turns on the per-principal check",
      collect,
    )
    .option("--key-optional", "the endpoint does not require a key: skip the 400 check")
    .option("--concurrency <n>", "requests sent at once by the concurrency check (default 8)")
    .option("--timeout <seconds>", "how long one request may take (default 10)")
    .option("--json", "print the results as JSON")
    .addHelpText(
      "after",
      `
It sends real requests (each check with keys of its own, in the draft's quoted form): point it at
a test or staging server. Exits 1 when a check fails. See docs/idempotency.md.`,
    )
    .action(async (url: string, flags: IdempotencyCheckFlags) => {
      await runIdempotencyCheck(url, flags, io);
    });
}
