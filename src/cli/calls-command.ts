import type { Command } from "commander";
import type { CliIo } from "./cli-io.ts";
import { addClientOptions, idCommand, withClient, type IdFlags } from "./client-options.ts";
import { parseIntegerFlag, parseStatus, type ClientFlags } from "./config.ts";
import {
  attemptsTable,
  callbackSummary,
  callDetail,
  callSummary,
  callsTable,
  json,
} from "./format.ts";

/** Flags of `steadfast calls list`. */
interface ListFlags extends ClientFlags {
  status?: string;
  limit?: string;
  cursor?: string;
  json?: boolean;
}

/** Flags of `calls attempts` and `calls retry`. */
interface CallbackFlags extends IdFlags {
  /** About the call's callback delivery rather than the call. */
  callback?: boolean;
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
  ).action((flags: ListFlags) => {
    const query = {
      ...(flags.status === undefined ? {} : { status: parseStatus(flags.status) }),
      ...(flags.limit === undefined
        ? {}
        : { limit: parseIntegerFlag("--limit", flags.limit, 1, 500) }),
      ...(flags.cursor === undefined ? {} : { cursor: flags.cursor }),
    };
    return withClient(flags, io, async (client) => {
      const page = await client.list(query);
      if (flags.json === true) {
        io.out(json(page));
        return;
      }
      io.out(page.calls.length === 0 ? "no calls\n" : callsTable(page.calls));
      if (page.nextCursor !== undefined) {
        const status = query.status === undefined ? "" : ` --status ${query.status}`;
        const limit = query.limit === undefined ? "" : ` --limit ${query.limit}`;
        io.out(`more: steadfast calls list${status}${limit} --cursor ${page.nextCursor}\n`);
      }
    });
  });

  idCommand(
    calls,
    io,
    {
      name: "show",
      description: "show one call: request, status, response or error",
      what: "call",
      idHelp: "call id (call_...)",
    },
    (client, id) => client.get(id),
    callDetail,
  );

  addClientOptions(
    calls
      .command("attempts")
      .description(
        "list a call's attempts: when, how long, outcome, whether sent, what was decided",
      )
      .argument("<id>", "call id (call_...)")
      .option("--callback", "the attempts of the call's callback delivery instead")
      .option("--json", "print the attempts as JSON"),
  ).action((id: string, flags: CallbackFlags) =>
    withClient(flags, io, async (client) => {
      const attempts =
        flags.callback === true ? await client.callbackAttempts(id) : await client.attempts(id);
      if (flags.json === true) io.out(json(attempts));
      else io.out(attempts.length === 0 ? "no attempts yet\n" : attemptsTable(attempts));
    }),
  );

  idCommand(
    calls,
    io,
    {
      name: "cancel",
      description: "cancel a call that has not ended",
      what: "call",
      idHelp: "call id (call_...)",
    },
    (client, id) => client.cancel(id),
    callSummary,
  );
  addClientOptions(
    calls
      .command("retry")
      .description("redrive a failed call (fresh attempts), or make a waiting call due now")
      .argument("<id>", "call id (call_...)")
      .option(
        "--callback",
        "send the call's failed callback again (fresh attempts), or a retrying one now",
      )
      .option("--json", "print the call as JSON"),
  ).action((id: string, flags: CallbackFlags) =>
    withClient(flags, io, async (client) => {
      if (flags.callback === true) {
        const call = await client.retryCallback(id);
        io.out(flags.json === true ? json(call) : callbackSummary(call));
        return;
      }
      const call = await client.retry(id);
      io.out(flags.json === true ? json(call) : callSummary(call));
    }),
  );
}
