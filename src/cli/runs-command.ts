import type { Command } from "commander";
import { MAX_RUN_PAGE } from "../engine/workflows/runs-service.ts";
import { RunStatuses, type RunStatus } from "../core/workflow/run-state.ts";
import { CliError } from "./cli-error.ts";
import type { CliIo } from "./cli-io.ts";
import { addClientOptions, idCommand, withClient } from "./client-options.ts";
import { parseIntegerFlag, parseStatus, type ClientFlags } from "./config.ts";
import { json, printable } from "./format.ts";
import { runDetail, runSummary, runsTable } from "./run-format.ts";

/** Flags of `steadfast runs list`. */
interface ListFlags extends ClientFlags {
  workflow?: string;
  status?: string;
  limit?: string;
  cursor?: string;
  json?: boolean;
}

/** Flags of `steadfast events send`. */
interface SendFlags extends ClientFlags {
  data?: string;
  id?: string;
  json?: boolean;
}

/**
 * Registers `steadfast runs list | show | cancel | retry` (durable workflow runs) and
 * `steadfast events send` (an event for the runs waiting for it).
 */
export function registerRunsCommand(program: Command, io: CliIo): void {
  const runs = program.command("runs").description("inspect and control durable workflow runs");

  addClientOptions(
    runs
      .command("list")
      .description("list workflow runs, newest first (--status failed lists the runs to retry)")
      .option("--workflow <name>", "only runs of this workflow")
      .option("--status <status>", `only runs in this status: ${RunStatuses.join(", ")}`)
      .option("--limit <n>", `runs per page, 1 to ${MAX_RUN_PAGE} (default 50)`)
      .option("--cursor <cursor>", "continue after a previous page (its nextCursor)")
      .option("--json", "print the page as JSON: { runs, nextCursor? }"),
  ).action((flags: ListFlags) => {
    const status: RunStatus | undefined =
      flags.status === undefined ? undefined : parseStatus(flags.status, RunStatuses);
    const query = {
      ...(flags.workflow === undefined ? {} : { workflow: flags.workflow }),
      ...(status === undefined ? {} : { status }),
      ...(flags.limit === undefined
        ? {}
        : { limit: parseIntegerFlag("--limit", flags.limit, 1, MAX_RUN_PAGE) }),
      ...(flags.cursor === undefined ? {} : { cursor: flags.cursor }),
    };
    return withClient(flags, io, async (client) => {
      const page = await client.runs(query);
      if (flags.json === true) {
        io.out(json(page));
        return;
      }
      io.out(page.runs.length === 0 ? "no runs\n" : runsTable(page.runs));
      if (page.nextCursor !== undefined) {
        const filters = [
          query.workflow === undefined ? "" : ` --workflow ${printable(query.workflow)}`,
          query.status === undefined ? "" : ` --status ${query.status}`,
          query.limit === undefined ? "" : ` --limit ${query.limit}`,
        ].join("");
        io.out(`more: steadfast runs list${filters} --cursor ${page.nextCursor}\n`);
      }
    });
  });

  idCommand(
    runs,
    io,
    {
      name: "show",
      description: "show one run: status, input, output or error, and each step with its attempts",
      what: "run",
      idHelp: "run id, as the run was started with",
    },
    (client, id) => client.run(id),
    runDetail,
  );
  idCommand(
    runs,
    io,
    {
      name: "cancel",
      description:
        "cancel a run that has not ended (a parked run ends at once, a running one at its next step)",
      what: "run",
      idHelp: "run id, as the run was started with",
    },
    (client, id) => client.cancelRun(id),
    runSummary,
  );
  idCommand(
    runs,
    io,
    {
      name: "retry",
      description: "retry a failed run from its failed step, with the code deployed now",
      what: "run",
      idHelp: "run id, as the run was started with",
    },
    (client, id) => client.retryRun(id),
    runSummary,
  );

  const events = program
    .command("events")
    .description("send events to the workflow runs waiting for them");
  addClientOptions(
    events
      .command("send")
      .description("send an event; the runs waiting for an event of this name are woken")
      .argument("<name>", "the event's name, such as order.approved")
      .option("--data <json>", "the event's data, a JSON value (default null)")
      .option("--id <id>", "an id that deduplicates: sending it again records nothing")
      .option("--json", "print the answer as JSON"),
  ).action((name: string, flags: SendFlags) => {
    const data = flags.data === undefined ? undefined : parseJsonFlag("--data", flags.data);
    return withClient(flags, io, async (client) => {
      const sent = await client.sendEvent({
        name,
        ...(data === undefined ? {} : { data: data.value }),
        ...(flags.id === undefined ? {} : { id: flags.id }),
      });
      if (flags.json === true) io.out(json(sent));
      else
        io.out(
          `${printable(sent.id)}  ${sent.created ? "sent" : "already sent (same id, name and data): nothing recorded"}\n`,
        );
    });
  });
}

/** The JSON value of a flag, or a `CliError` naming the flag and where the JSON broke. */
function parseJsonFlag(flag: string, text: string): { value: unknown } {
  try {
    return { value: JSON.parse(text) as unknown };
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    throw new CliError(
      `${flag} is not JSON (${why}); quote it for the shell, such as ${flag} '{"orderId": "o-42"}'`,
    );
  }
}
