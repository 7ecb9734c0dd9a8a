import type { Command } from "commander";
import { createClient, isSteadfastApiError, type SteadfastClient } from "../client/index.ts";
import { CliError } from "./cli-error.ts";
import type { CliIo } from "./cli-io.ts";
import { CLIENT_SETTINGS, resolveClientConfig, settingHint, type ClientFlags } from "./config.ts";
import { json } from "./format.ts";

/** Adds `--url`, `--api-key` and `--data-dir` to a client command. */
export function addClientOptions(command: Command): Command {
  const s = CLIENT_SETTINGS;
  return command
    .option(`${s.url.flag} <url>`, `server URL ${settingHint(s.url)}`)
    .option(
      `${s.apiKey.flag} <key>`,
      `API key (env ${s.apiKey.env}; else read from <data-dir>/api-key if that file exists)`,
    )
    .option(
      `${s.dataDir.flag} <dir>`,
      `where \`steadfast serve\` wrote the api-key file ${settingHint(s.dataDir)}`,
    );
}

/**
 * Runs `action` with a REST client configured from a command's flags and the environment. A `401`
 * answer is reported with where the key came from (`--api-key`, `STEADFAST_API_KEY` or the file).
 */
export async function withClient(
  flags: ClientFlags,
  io: CliIo,
  action: (client: SteadfastClient) => Promise<void>,
): Promise<void> {
  const config = resolveClientConfig(flags, io.env, io.cwd, (path) => {
    try {
      return io.readFile(path);
    } catch (error) {
      if ((error as { code?: unknown }).code === "ENOENT") return undefined;
      throw error;
    }
  });
  const client = createClient({ baseUrl: config.baseUrl, apiKey: config.apiKey });
  try {
    await action(client);
  } catch (error) {
    if (isSteadfastApiError(error) && error.status === 401) {
      throw new CliError(`${error.message}; the key used came from ${config.apiKeySource}`, {
        cause: error,
      });
    }
    throw error;
  }
}

/** Flags of the commands that take an id and print what the server answers. */
export interface IdFlags extends ClientFlags {
  json?: boolean;
}

/**
 * Adds `<parent> <name> <id>`: runs `act` against the server and prints what it answers, with
 * `print` or, under `--json`, as JSON. `what` names the thing (`call`, `run`) in the help;
 * `idHelp` describes the id argument.
 *
 * @example idCommand(calls, io, { name: "show", description: "show one call", what: "call", idHelp: "call id (call_...)" }, (client, id) => client.get(id), callDetail)
 */
export function idCommand<T>(
  parent: Command,
  io: CliIo,
  command: { name: string; description: string; what: string; idHelp: string },
  act: (client: SteadfastClient, id: string) => Promise<T>,
  print: (answer: T) => string,
): void {
  addClientOptions(
    parent
      .command(command.name)
      .description(command.description)
      .argument("<id>", command.idHelp)
      .option("--json", `print the ${command.what} as JSON`),
  ).action((id: string, flags: IdFlags) =>
    withClient(flags, io, async (client) => {
      const answer = await act(client, id);
      io.out(flags.json === true ? json(answer) : print(answer));
    }),
  );
}
