import { randomBytes } from "node:crypto";
import { chmod, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { tenantId, type TenantId } from "../core/ids.ts";
import type { Store } from "../core/store.ts";
import { hashApiKey } from "../engine/fingerprint.ts";

/** One configured key. */
export interface ApiKeyEntry {
  tenantId: TenantId;
  key: string;
}

/** Name of the file a generated key is written to, inside the data directory. */
export const API_KEY_FILE = "api-key";

/** Shortest key accepted in `STEADFAST_API_KEYS`, characters. */
export const MIN_KEY_LENGTH = 16;

const TENANT = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const KEY = /^[A-Za-z0-9._~+/=-]+$/;

/**
 * Parses `STEADFAST_API_KEYS`: comma-separated `tenant:key` pairs (`acme:sk_live_...,beta:...`).
 * The tenant ends at the first colon. Tenants are 1 to 64 letters, digits, `_`, `.`, `-`;
 * keys are at least 16 characters of the Bearer token alphabet (RFC 6750). Empty entries are
 * skipped. Throws an `Error` naming the entry by position (never echoing a key) and the fix.
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
      throw new Error(`${where} has no colon: expected tenant:key, such as acme:<key>`);
    const tenant = entry.slice(0, colon).trim();
    const key = entry.slice(colon + 1).trim();
    if (!TENANT.test(tenant)) {
      throw new Error(
        `${where}: tenant "${tenant.slice(0, 64)}" must be 1 to 64 letters, digits, "_", "." or "-", starting with a letter or digit`,
      );
    }
    if (key.length < MIN_KEY_LENGTH) {
      throw new Error(
        `${where} (tenant ${tenant}): the key is ${key.length} characters; use at least ${MIN_KEY_LENGTH}, e.g. from \`openssl rand -base64 32\``,
      );
    }
    if (!KEY.test(key)) {
      throw new Error(
        `${where} (tenant ${tenant}): the key may only contain letters, digits and - . _ ~ + / = (it travels as a Bearer token)`,
      );
    }
    const owner = seen.get(key);
    if (owner !== undefined && owner !== tenant) {
      throw new Error(
        `${where}: tenant ${tenant} uses the same key as tenant ${owner}; give each tenant its own key`,
      );
    }
    seen.set(key, tenant);
    entries.push({ tenantId: tenantId(tenant), key });
  });
  return entries;
}

/** A new API key: `sf_` and 32 bytes from the CSPRNG, base64url (43 characters). */
export function generateApiKey(): string {
  return `sf_${randomBytes(32).toString("base64url")}`;
}

/** Options of `bootstrapApiKeys`. */
export interface BootstrapApiKeysOptions {
  /** Raw `STEADFAST_API_KEYS`; when set, these keys are added (idempotently) and none is generated. */
  apiKeys?: string;
  /** Where a generated key's file goes: `<dataDir>/api-key`. */
  dataDir: string;
  /** Epoch ms, for the keys' creation time. */
  now: number;
  /** Writes one line for the operator (stdout). */
  print: (line: string) => void;
}

/** What `bootstrapApiKeys` did. */
export type BootstrapResult =
  | { type: "configured"; count: number }
  | { type: "generated"; key: string; file: string }
  | { type: "existing"; count: number; file?: string };

/**
 * Makes sure the server has API keys (ARCHITECTURE.md section 6). Keys are stored hashed.
 *
 * - With `apiKeys`: parses them (`parseApiKeys`) and adds each key's hash for its tenant.
 * - Else, on a database without keys: generates one for tenant `default`, prints it once, and
 *   writes it to `<dataDir>/api-key` with mode 0600.
 * - Else: prints where the key file is (not the key).
 */
export async function bootstrapApiKeys(
  store: Store,
  options: BootstrapApiKeysOptions,
): Promise<BootstrapResult> {
  const file = join(options.dataDir, API_KEY_FILE);
  if (options.apiKeys !== undefined && options.apiKeys.trim() !== "") {
    const entries = parseApiKeys(options.apiKeys);
    for (const entry of entries)
      await store.addApiKey(entry.tenantId, hashApiKey(entry.key), options.now);
    return { type: "configured", count: entries.length };
  }
  const count = await store.countApiKeys();
  if (count > 0) {
    const exists = await readFile(file, "utf8").then(
      () => true,
      () => false,
    );
    options.print(
      exists ? `Steadfast API key: in ${file}` : `Steadfast API keys: ${count} configured`,
    );
    return exists ? { type: "existing", count, file } : { type: "existing", count };
  }
  const key = generateApiKey();
  await writeKeyFile(file, options.dataDir, key);
  await store.addApiKey(tenantId("default"), hashApiKey(key), options.now);
  options.print(`Steadfast API key (shown once; also saved to ${file}, mode 0600): ${key}`);
  return { type: "generated", key, file };
}

/** Writes the key file atomically (temp file, then rename), readable by its owner only. */
async function writeKeyFile(file: string, dataDir: string, key: string): Promise<void> {
  await mkdir(dataDir, { recursive: true });
  const temp = `${file}.${process.pid}.tmp`;
  await writeFile(temp, `${key}\n`, { mode: 0o600 });
  // The mode given to writeFile is filtered by the umask; set it explicitly.
  await chmod(temp, 0o600);
  await rename(temp, file);
}
