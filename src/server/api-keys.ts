import { mkdir, open, readFile, stat } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { API_KEY_PATTERN, type ApiKeyRecord } from "../core/api-key.ts";
import { InvalidOptionError } from "../core/errors.ts";
import { isTenantName, tenantId, type TenantId } from "../core/ids.ts";
import type { ApiKeysService } from "../engine/api-keys-service.ts";
import { databaseLocation } from "../steadfast.ts";

/** One configured key. */
export interface ApiKeyEntry {
  tenantId: TenantId;
  key: string;
}

/** Name of the file a generated key is written to, inside the data directory. */
export const API_KEY_FILE = "api-key";

/** Shortest key accepted in `STEADFAST_API_KEYS`, characters. */
export const MIN_KEY_LENGTH = 16;

/**
 * Parses `STEADFAST_API_KEYS`: comma-separated `tenant:key` pairs (`acme:sk_live_...,beta:...`).
 * The tenant ends at the first colon. Tenants are 1 to 64 letters, digits, `_`, `.`, `-`;
 * keys are at least 16 characters of a Bearer token (`API_KEY_PATTERN`, RFC 6750). Empty entries are
 * skipped. Throws an `InvalidOptionError` naming the entry by position (never echoing a key) and
 * the fix.
 *
 * @example parseApiKeys("acme:0123456789abcdef0123") // [{ tenantId: "acme", key: "0123456789abcdef0123" }]
 */
export function parseApiKeys(raw: string): ApiKeyEntry[] {
  const entries: ApiKeyEntry[] = [];
  const seen = new Map<string, string>();
  const parts = raw.split(",");
  parts.forEach((part, index) => {
    const entry = part.trim();
    if (entry === "") return;
    const where = `STEADFAST_API_KEYS entry ${index + 1} of ${parts.length}`;
    const colon = entry.indexOf(":");
    if (colon === -1)
      throw new InvalidOptionError(
        `${where} has no colon: expected tenant:key, such as acme:<key>`,
      );
    const tenant = entry.slice(0, colon).trim();
    const key = entry.slice(colon + 1).trim();
    if (!isTenantName(tenant)) {
      throw new InvalidOptionError(
        `${where}: tenant "${tenant.slice(0, 64)}" must be 1 to 64 letters, digits, "_", "." or "-", starting with a letter or digit`,
      );
    }
    if (key.length < MIN_KEY_LENGTH) {
      throw new InvalidOptionError(
        `${where} (tenant ${tenant}): the key is ${key.length} characters; use at least ${MIN_KEY_LENGTH}, e.g. from \`openssl rand -base64 32\``,
      );
    }
    if (!API_KEY_PATTERN.test(key)) {
      throw new InvalidOptionError(
        `${where} (tenant ${tenant}): the key may only contain letters, digits and - . _ ~ + /, then "=" only at its end (it travels as a Bearer token)`,
      );
    }
    const owner = seen.get(key);
    if (owner !== undefined && owner !== tenant) {
      throw new InvalidOptionError(
        `${where}: tenant ${tenant} uses the same key as tenant ${owner}; give each tenant its own key`,
      );
    }
    seen.set(key, tenant);
    entries.push({ tenantId: tenantId(tenant), key });
  });
  return entries;
}

/** Options of `bootstrapApiKeys`. */
export interface BootstrapApiKeysOptions {
  /**
   * Raw `STEADFAST_API_KEYS`. When set, it is authoritative for the keys it manages: its keys
   * are added (or restored), the keys it added before and no longer lists are revoked, and none
   * is generated.
   */
  apiKeys?: string;
  /** The database being served (`ServerConfig.db`): whether the key file belongs to it. */
  db: string;
  /** Where a generated key's file goes: `<dataDir>/api-key`. */
  dataDir: string;
  /** Writes one line for the operator (the server passes standard error, not the log stream). */
  print: (line: string) => void;
}

/** What `bootstrapApiKeys` did. */
export type BootstrapResult =
  | { type: "configured"; count: number; revoked: ApiKeyRecord[] }
  | { type: "generated"; key: string; file?: string }
  | { type: "existing"; count: number; file?: string };

/**
 * Where the generated key of database `db` is saved: `<dataDir>/api-key` for a SQLite file in
 * `dataDir` (the default layout), and nowhere (`unsaved`, the reason) for any other database: an
 * in-memory one ends with its process, a PostgreSQL one is shared by processes on other
 * machines, and a SQLite file elsewhere is not the one that data directory's file belongs to.
 */
export function keyFileOf(db: string, dataDir: string): { file: string } | { unsaved: string } {
  const location = databaseLocation(db);
  if (location.type === "postgres") {
    return {
      unsaved:
        "the database is PostgreSQL, shared by processes that do not share this data directory",
    };
  }
  if (location.path === ":memory:") {
    return { unsaved: "the database is in memory and ends with this process" };
  }
  const directory = resolve(dataDir);
  if (dirname(location.path) !== directory) {
    return { unsaved: `the database ${location.path} is not in the data directory ${directory}` };
  }
  return { file: join(directory, API_KEY_FILE) };
}

/**
 * Makes sure the server has API keys (ARCHITECTURE.md section 6; issue 10, items 4 and 5). Keys
 * are stored hashed.
 *
 * - First, on a database upgraded from a version before key sources: the stored key whose hash
 *   is the key in `<dataDir>/api-key` is the one a first start generated; it is marked so
 *   (`generated`), which keeps `STEADFAST_API_KEYS` from revoking it, and printed; unless
 *   `STEADFAST_API_KEYS` lists that key too, which then manages it.
 * - With `apiKeys`: parses them (`parseApiKeys`); `keys.configure` adds them (restoring those a
 *   previous start revoked for not being listed) and revokes the `env` keys no longer listed.
 *   Prints each key revoked, and each listed key an operator revoked (it stays revoked).
 * - Else, on a database without active keys: generates one for tenant `default` and prints it
 *   once. Saves it to `<dataDir>/api-key` (mode 0600) only when that file belongs to this
 *   database (`keyFileOf`) and does not exist yet: an existing file is never overwritten.
 * - Else: prints where the key file is (not the key), or how many keys there are.
 */
export async function bootstrapApiKeys(
  keys: ApiKeysService,
  options: BootstrapApiKeysOptions,
): Promise<BootstrapResult> {
  const entries =
    options.apiKeys !== undefined && options.apiKeys.trim() !== ""
      ? parseApiKeys(options.apiKeys)
      : undefined;
  await recognizeGeneratedKey(keys, options, new Set(entries?.map((entry) => entry.key)));
  if (entries !== undefined) {
    const { keys: stored, revoked } = await keys.configure(entries);
    stored.forEach((record, index) => {
      if (record.revokedAt === undefined) return;
      options.print(
        `Steadfast: STEADFAST_API_KEYS entry ${index + 1} (tenant ${record.tenantId}) is key ${record.id}, which an operator revoked at ${new Date(record.revokedAt).toISOString()}; it stays revoked: remove it from STEADFAST_API_KEYS`,
      );
    });
    for (const record of revoked) {
      options.print(
        `Steadfast: revoked key ${record.id} (tenant ${record.tenantId}${record.prefix === undefined ? "" : `, ${record.prefix}...`}): STEADFAST_API_KEYS no longer lists it`,
      );
    }
    return { type: "configured", count: entries.length, revoked };
  }
  const target = keyFileOf(options.db, options.dataDir);
  const count = await keys.count();
  if (count > 0) {
    const file = "file" in target && (await exists(target.file)) ? target.file : undefined;
    options.print(
      file === undefined
        ? `Steadfast API keys: ${count} active (steadfast keys list shows them)`
        : `Steadfast API key: in ${file}`,
    );
    return file === undefined ? { type: "existing", count } : { type: "existing", count, file };
  }
  const { key } = await keys.create({
    tenantId: tenantId("default"),
    name: "generated at first start",
    source: "generated",
  });
  const file = "file" in target ? target.file : undefined;
  const saved = file !== undefined && (await createKeyFile(file, key));
  const where = saved
    ? `also saved to ${file}, mode 0600`
    : `not saved: ${"unsaved" in target ? target.unsaved : `${file} exists already and was left as it is`}`;
  options.print(`Steadfast API key for tenant default (shown once; ${where}): ${key}`);
  return saved ? { type: "generated", key, file } : { type: "generated", key };
}

// A key file is one line; anything much larger is not one.
const MAX_KEY_FILE_BYTES = 1_024;

/**
 * The upgrade from a version before key sources (issue 10): the key lifecycle migration made
 * every stored key an `env` key, managed by `STEADFAST_API_KEYS`, including the key a first start
 * generated; so the first start after the upgrade with `STEADFAST_API_KEYS` set would revoke it
 * and lock out the CLI, which reads `<dataDir>/api-key`. That file holds the generated key:
 * versions before key sources wrote it for every database, so it is read whatever the database,
 * and a pre-upgrade key with its hash is the generated one. Runs before `configure`.
 */
async function recognizeGeneratedKey(
  keys: ApiKeysService,
  options: BootstrapApiKeysOptions,
  listed: ReadonlySet<string>,
): Promise<void> {
  const file = join(resolve(options.dataDir), API_KEY_FILE);
  let text: string;
  try {
    if ((await stat(file)).size > MAX_KEY_FILE_BYTES) return;
    text = await readFile(file, "utf8");
  } catch {
    return;
  }
  const key = text.trim();
  // A key STEADFAST_API_KEYS lists too (an operator pinning the generated key) stays its own.
  if (!API_KEY_PATTERN.test(key) || listed.has(key)) return;
  const adopted = await keys.recognizeGeneratedKey(key);
  if (adopted === undefined) return;
  options.print(
    `Steadfast: key ${adopted.id} (tenant ${adopted.tenantId}), stored before this upgrade, is the key in ${file}: kept as the generated key, not managed by STEADFAST_API_KEYS`,
  );
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

/**
 * Creates the key file, readable by its owner only, unless it exists (`O_EXCL`: never
 * overwritten, even by a server starting at the same moment). Returns whether it was created.
 */
async function createKeyFile(file: string, key: string): Promise<boolean> {
  await mkdir(dirname(file), { recursive: true });
  let handle;
  try {
    handle = await open(file, "wx", 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw error;
  }
  try {
    // The mode given to open is filtered by the umask; set it explicitly.
    await handle.chmod(0o600);
    await handle.writeFile(`${key}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  return true;
}
