import type { Command } from "commander";
import type { ApiKeyView } from "../client/index.ts";
import { CliError } from "./cli-error.ts";
import type { CliIo } from "./cli-io.ts";
import { addClientOptions, withClient } from "./client-options.ts";
import type { ClientFlags } from "./config.ts";
import { json, printable, shortTime, table } from "./format.ts";

/** Flags of `steadfast keys create`. */
interface CreateFlags extends ClientFlags {
  tenant?: string;
  name?: string;
  json?: boolean;
}

/** Flags of `steadfast keys list`. */
interface ListFlags extends ClientFlags {
  tenant?: string;
  all?: boolean;
  json?: boolean;
}

/** Flags of `steadfast keys revoke`. */
interface RevokeFlags extends ClientFlags {
  json?: boolean;
}

/** `sf_AbCdE…`, or `(unknown)` for keys stored before keys had prefixes. */
function prefixText(key: ApiKeyView): string {
  return key.prefix === null ? "(unknown)" : `${printable(key.prefix)}…`;
}

/** The `steadfast keys list` table: one key per row, oldest first. */
export function keysTable(keys: readonly ApiKeyView[]): string {
  return table(
    ["ID", "TENANT", "PREFIX", "SOURCE", "CREATED", "LAST USED", "REVOKED", "NAME"],
    keys.map((key) => [
      key.id,
      printable(key.tenant),
      prefixText(key),
      key.source,
      shortTime(key.createdAt),
      shortTime(key.lastUsedAt),
      key.revokedAt === undefined ? "-" : `${shortTime(key.revokedAt)} by ${key.revokedBy}`,
      key.name === undefined ? "" : printable(key.name, 60),
    ]),
  );
}

/**
 * Registers `steadfast keys create | list | revoke`: API keys, managed through the server's
 * operator API (`/v1/keys`) with an operator tenant's key.
 */
export function registerKeysCommand(program: Command, io: CliIo): void {
  const keys = program
    .command("keys")
    .description("create, list and revoke API keys (operator tenants' keys only)")
    .addHelpText(
      "after",
      `
Rotate a key: create a new one, deploy it where the old one is used, then revoke the old one.
A revoked key is refused by every server within seconds, and never accepted again.`,
    );

  addClientOptions(
    keys
      .command("create")
      .description("create an API key for a tenant; prints the key, shown only this once")
      .requiredOption("--tenant <tenant>", "the tenant the key is for (created with its first key)")
      .option("--name <label>", "a label for people, such as the service that uses the key")
      .option("--json", "print the key and its details as JSON"),
  ).action((flags: CreateFlags) =>
    withClient(flags, io, async (client) => {
      const created = await client.createApiKey({
        tenant: flags.tenant!,
        ...(flags.name === undefined ? {} : { name: flags.name }),
        source: "cli",
      });
      if (flags.json === true) {
        io.out(json(created));
        return;
      }
      // The key alone on standard output, so that KEY=$(steadfast keys create ...) works.
      io.out(`${created.key}\n`);
      io.err(
        `created ${created.id} for tenant ${created.tenant}: this is the only time the key is shown, store it now\n`,
      );
    }),
  );

  addClientOptions(
    keys
      .command("list")
      .description("list API keys, oldest first: id, tenant, prefix, source, last use")
      .option("--tenant <tenant>", "only this tenant's keys")
      .option("--all", "list revoked keys too")
      .option("--json", "print the keys as JSON"),
  ).action((flags: ListFlags) =>
    withClient(flags, io, async (client) => {
      const list = await client.apiKeys({
        ...(flags.tenant === undefined ? {} : { tenant: flags.tenant }),
        ...(flags.all === true ? { includeRevoked: true } : {}),
      });
      if (flags.json === true) io.out(json(list));
      else io.out(list.length === 0 ? "no keys\n" : keysTable(list));
    }),
  );

  addClientOptions(
    keys
      .command("revoke")
      .description("revoke an API key for good: every server refuses it within seconds")
      .argument("<id>", "the key's id (key_...), as `steadfast keys list` shows it")
      .option("--json", "print the revoked key as JSON"),
  ).action((id: string, flags: RevokeFlags) => {
    if (id.startsWith("sf_")) {
      throw new CliError(
        "revoke takes the key's id (key_...), not the key itself: find it with `steadfast keys list`",
      );
    }
    return withClient(flags, io, async (client) => {
      const revoked = await client.revokeApiKey(id);
      if (flags.json === true) {
        io.out(json(revoked));
        return;
      }
      io.out(
        `revoked ${revoked.id} (tenant ${printable(revoked.tenant)}, ${prefixText(revoked)}) at ${shortTime(revoked.revokedAt)}\n`,
      );
    });
  });
}
