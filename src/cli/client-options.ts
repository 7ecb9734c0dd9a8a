import type { Command } from "commander";
import { createClient, type SteadfastClient } from "../client/index.ts";
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

/** A REST client configured from a command's flags and the environment. */
export function clientFrom(flags: ClientFlags, io: CliIo): SteadfastClient {
  const config = resolveClientConfig(flags, io.env, io.cwd, (path) => {
    try {
      return io.readFile(path);
    } catch (error) {
      if ((error as { code?: unknown }).code === "ENOENT") return undefined;
      throw error;
    }
  });
  return createClient({ baseUrl: config.baseUrl, apiKey: config.apiKey });
}
