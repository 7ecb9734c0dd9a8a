import type { Command } from "commander";
import { createClient, isSteadfastApiError, type SteadfastClient } from "../client/index.ts";
import { CliError } from "./cli-error.ts";
import type { CliIo } from "./cli-io.ts";
import { CLIENT_SETTINGS, resolveClientConfig, settingHint, type ClientFlags } from "./config.ts";

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
