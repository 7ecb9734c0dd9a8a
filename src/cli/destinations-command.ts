import type { Command } from "commander";
import type { DestinationLimitsInput } from "../client/index.ts";
import { CliError } from "./cli-error.ts";
import type { CliIo } from "./cli-io.ts";
import { addClientOptions, withClient } from "./client-options.ts";
import { parseIntegerFlag, type ClientFlags } from "./config.ts";
import { destinationDetail, destinationsTable } from "./destination-format.ts";
import { json } from "./format.ts";

/** Flags of the `destinations` commands. */
interface DestinationFlags extends ClientFlags {
  json?: boolean;
}

/** Flags of `steadfast destinations set`: a value sets, `--no-...` (false) removes. */
interface SetFlags extends DestinationFlags {
  rate?: string | false;
  concurrency?: string | false;
}

const DESTINATION_HELP =
  "an origin (https://api.example.com, http://127.0.0.1:8080) or host[:port], which means https";

/** A rate from `--rate`: a number of requests per second > 0, decimals allowed. */
function parseRate(value: string): number {
  const text = value.trim().replaceAll("_", "");
  const rate = /^\d+(\.\d+)?$/.test(text) ? Number(text) : Number.NaN;
  if (!(rate > 0 && rate <= 1_000_000)) {
    throw new CliError(
      `--rate ${JSON.stringify(value)} is not valid: expected requests per second, a number > 0 such as 10 or 0.5 (--no-rate removes the limit)`,
    );
  }
  return rate;
}

/** Registers `steadfast destinations list | show | set | reset`. */
export function registerDestinationsCommand(program: Command, io: CliIo): void {
  const destinations = program
    .command("destinations")
    .description(
      "inspect and protect destinations (origins): breakers, Retry-After pauses, limits, health",
    );

  addClientOptions(
    destinations
      .command("list")
      .description("list destinations: breaker state, recent error rate and latency, limits")
      .option("--json", "print the destinations as JSON"),
  ).action((flags: DestinationFlags) =>
    withClient(flags, io, async (client) => {
      const list = await client.destinations();
      if (flags.json === true) io.out(json(list));
      else io.out(list.length === 0 ? "no destinations yet\n" : destinationsTable(list));
    }),
  );

  addClientOptions(
    destinations
      .command("show")
      .description("show one destination: breaker, pause, limits, health")
      .argument("<destination>", DESTINATION_HELP)
      .option("--json", "print the destination as JSON"),
  ).action((destination: string, flags: DestinationFlags) =>
    withClient(flags, io, async (client) => {
      const view = await client.destination(destination);
      io.out(flags.json === true ? json(view) : destinationDetail(view));
    }),
  );

  addClientOptions(
    destinations
      .command("set")
      .description("set or remove a destination's rate and concurrency limits")
      .argument("<destination>", DESTINATION_HELP)
      .option("--rate <n>", "requests per second, > 0 (bursts of one second's worth)")
      .option("--no-rate", "remove the rate limit")
      .option("--concurrency <n>", "attempts in flight at once, 1 to 100000")
      .option("--no-concurrency", "remove the concurrency limit (back to the default share)")
      .option("--json", "print the destination as JSON"),
  ).action((destination: string, flags: SetFlags) => {
    const limits: DestinationLimitsInput = {};
    if (flags.rate === false) limits.rateLimitPerSecond = null;
    else if (flags.rate !== undefined) limits.rateLimitPerSecond = parseRate(flags.rate);
    if (flags.concurrency === false) limits.maxConcurrency = null;
    else if (flags.concurrency !== undefined)
      limits.maxConcurrency = parseIntegerFlag("--concurrency", flags.concurrency, 1, 100_000);
    if (Object.keys(limits).length === 0) {
      throw new CliError(
        "nothing to set: give --rate <n>, --no-rate, --concurrency <n> or --no-concurrency",
      );
    }
    return withClient(flags, io, async (client) => {
      const view = await client.setDestinationLimits(destination, limits);
      io.out(flags.json === true ? json(view) : destinationDetail(view));
    });
  });

  addClientOptions(
    destinations
      .command("reset")
      .description("close a destination's breaker and end its pause; the calls it holds go at once")
      .argument("<destination>", DESTINATION_HELP)
      .option("--json", "print the destination as JSON"),
  ).action((destination: string, flags: DestinationFlags) =>
    withClient(flags, io, async (client) => {
      const view = await client.resetDestination(destination);
      io.out(flags.json === true ? json(view) : destinationDetail(view));
    }),
  );
}
