import type { Command } from "commander";
import type { CliIo } from "./cli-io.ts";
import { addClientOptions, clientFrom } from "./client-options.ts";
import { parseIntegerFlag, parseStatus, type ClientFlags } from "./config.ts";
import { attemptsTable, callDetail, callSummary, callsTable, json } from "./format.ts";

/** Flags of `steadfast calls list`. */
interface ListFlags extends ClientFlags {
  status?: string;
  limit?: string;
  cursor?: string;
  json?: boolean;
}

/** Flags of the `calls` commands that take an id. */
interface IdFlags extends ClientFlags {
  json?: boolean;
}

/** Registers `steadfast calls list | show | attempts | cancel | retry`. */
export function registerCallsCommand(program: Command, io: CliIo): void {
  const calls = program.command("calls").description("inspect and manage durable calls");

  addClientOptions(
    calls
      .command("list")
      .description("list calls, newest first (--status failed is the dead-letter list)")
      .option(
        "--status <status>",
        "only calls in this status: queued, running, waiting, succeeded, failed, cancelled",
      )
      .option("--limit <n>", "calls per page, 1 to 500 (default 50)")
      .option("--cursor <cursor>", "continue after a previous page (its nextCursor)")
      .option("--json", "print the page as JSON: { calls, nextCursor? }"),
  ).action(async (flags: ListFlags) => {
    const query = {
      ...(flags.status === undefined ? {} : { status: parseStatus(flags.status) }),
      ...(flags.limit === undefined
        ? {}
        : { limit: parseIntegerFlag("--limit", flags.limit, 1, 500) }),
      ...(flags.cursor === undefined ? {} : { cursor: flags.cursor }),
    };
    const page = await clientFrom(flags, io).list(query);
    if (flags.json === true) {
      io.out(json(page));
      return;
    }
    io.out(page.calls.length === 0 ? "no calls\n" : callsTable(page.calls));
    if (page.nextCursor !== undefined) {
      io.out(
        `more: steadfast calls list --cursor ${page.nextCursor}${flags.status === undefined ? "" : ` --status ${flags.status}`}\n`,
      );
    }
  });

  addClientOptions(
    calls
      .command("show")
      .description("show one call: request, status, response or error")
      .argument("<id>", "call id (call_...)")
      .option("--json", "print the call as JSON"),
  ).action(async (id: string, flags: IdFlags) => {
    const call = await clientFrom(flags, io).get(id);
    io.out(flags.json === true ? json(call) : callDetail(call));
  });

  addClientOptions(
    calls
      .command("attempts")
      .description(
        "list a call's attempts: when, how long, outcome, whether sent, what was decided",
      )
      .argument("<id>", "call id (call_...)")
      .option("--json", "print the attempts as JSON"),
  ).action(async (id: string, flags: IdFlags) => {
    const attempts = await clientFrom(flags, io).attempts(id);
    if (flags.json === true) io.out(json(attempts));
    else io.out(attempts.length === 0 ? "no attempts yet\n" : attemptsTable(attempts));
  });

  addClientOptions(
    calls
      .command("cancel")
      .description("cancel a call that has not ended")
      .argument("<id>", "call id (call_...)")
      .option("--json", "print the call as JSON"),
  ).action(async (id: string, flags: IdFlags) => {
    const call = await clientFrom(flags, io).cancel(id);
    io.out(flags.json === true ? json(call) : callSummary(call));
  });

  addClientOptions(
    calls
      .command("retry")
      .description("redrive a failed call (fresh attempts), or make a waiting call due now")
      .argument("<id>", "call id (call_...)")
      .option("--json", "print the call as JSON"),
  ).action(async (id: string, flags: IdFlags) => {
    const call = await clientFrom(flags, io).retry(id);
    io.out(flags.json === true ? json(call) : callSummary(call));
  });
}
