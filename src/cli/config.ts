/**
 * Resolves CLI configuration from flags and `STEADFAST_*` environment variables: a flag wins over
 * its variable, the variable over the default. Every value is validated; a bad one is a `CliError`
 * whose one-line message names the flag or variable, the value, and what is expected.
 */
import { isIP } from "node:net";
import { isAbsolute, join, resolve } from "node:path";
import { CallStatuses, type CallStatus } from "../core/call.ts";
import { parseDuration } from "../core/duration.ts";
import { redactUrl } from "../core/redact.ts";
import { DEFAULT_RETENTION_MS } from "../engine/retention.ts";
import { isSteadfastError } from "../core/errors.ts";
import { resolveQuotaOptions } from "../rate-limit/rate-limit-options.ts";
import { DEFAULT_OPERATOR_TENANTS } from "../server/operator-only.ts";
import type { TenantRateLimitConfig } from "../server/tenant-rate-limit.ts";
import { CliError } from "./cli-error.ts";

/** Environment variables, as `process.env` holds them. */
export type Env = Readonly<Record<string, string | undefined>>;

/** One configuration setting, for help texts and docs/cli.md. */
export interface SettingDoc {
  /** Environment variable. */
  env: string;
  /** Flag, without its value placeholder; absent for settings only the environment sets. */
  flag?: string;
  /** Default, as shown to users. */
  defaultText: string;
  /** What it controls. */
  meaning: string;
}

/** The settings of `steadfast serve`, in the order the docs list them. */
export const SERVE_SETTINGS = {
  port: {
    env: "STEADFAST_PORT",
    flag: "--port",
    defaultText: "7480",
    meaning: "TCP port to listen on; 0 picks a free one",
  },
  host: {
    env: "STEADFAST_HOST",
    flag: "--host",
    defaultText: "127.0.0.1",
    meaning: "Address to bind; 0.0.0.0 exposes the server to the network",
  },
  db: {
    env: "STEADFAST_DB",
    flag: "--db",
    defaultText: "sqlite:<data-dir>/steadfast.db",
    meaning:
      "Database URL: sqlite:<path>, :memory:, or postgres://user:password@host:5432/database",
  },
  dataDir: {
    env: "STEADFAST_DATA_DIR",
    flag: "--data-dir",
    defaultText: "./.steadfast",
    meaning: "Directory for the SQLite file and the generated api-key file",
  },
  apiKeys: {
    env: "STEADFAST_API_KEYS",
    defaultText: "(generated once, written to <data-dir>/api-key)",
    meaning:
      "API keys as tenant:key,tenant:key; environment only, so keys stay out of `ps`; a start revokes the keys it no longer lists",
  },
  allowPrivateNetworks: {
    env: "STEADFAST_ALLOW_PRIVATE_NETWORKS",
    flag: "--allow-private-networks",
    defaultText: "false",
    meaning: "Allow calls to private, loopback, link-local and metadata addresses",
  },
  operatorTenants: {
    env: "STEADFAST_OPERATOR_TENANTS",
    flag: "--operator-tenants",
    defaultText: "default",
    meaning:
      "Comma-separated tenants whose keys may read and change /v1/destinations (shared by every tenant) and manage API keys (/v1/keys)",
  },
  allowedCidrs: {
    env: "STEADFAST_ALLOWED_CIDRS",
    flag: "--allowed-cidrs",
    defaultText: "(none)",
    meaning: "Comma-separated CIDRs allowed even though private, e.g. 10.1.0.0/16,fd00::/8",
  },
  concurrency: {
    env: "STEADFAST_CONCURRENCY",
    flag: "--concurrency",
    defaultText: "256",
    meaning: "Most upstream requests in flight at once",
  },
  maxBodyBytes: {
    env: "STEADFAST_MAX_BODY_BYTES",
    flag: "--max-body-bytes",
    defaultText: "1048576",
    meaning: "Largest request body the API accepts, in bytes (larger: 413)",
  },
  leaseMs: {
    env: "STEADFAST_LEASE_MS",
    flag: "--lease-ms",
    defaultText: "30000",
    meaning: "How long a claim on a call lasts before another worker may take it over, ms",
  },
  logLevel: {
    env: "STEADFAST_LOG_LEVEL",
    flag: "--log-level",
    defaultText: "info",
    meaning: "One of trace, debug, info, warn, error, fatal, silent",
  },
  retention: {
    env: "STEADFAST_RETENTION",
    flag: "--retention",
    defaultText: "7d",
    meaning:
      "How long ended calls and runs are kept before they are deleted, such as 7d, 12h or 30d; off keeps them for ever",
  },
  rateLimit: {
    env: "STEADFAST_RATE_LIMIT",
    flag: "--rate-limit",
    defaultText: "off",
    meaning:
      "Each tenant's quota of /v1 requests as <limit>/<window>, such as 600/1m (a whole number of seconds); over it 429 with Retry-After; off for none",
  },
  rateLimitBurst: {
    env: "STEADFAST_RATE_LIMIT_BURST",
    flag: "--rate-limit-burst",
    defaultText: "(the limit)",
    meaning: "Requests a tenant may send back to back under --rate-limit",
  },
  rateLimitStore: {
    env: "STEADFAST_RATE_LIMIT_STORE",
    flag: "--rate-limit-store",
    defaultText: "memory (the database, when it is PostgreSQL)",
    meaning:
      "Where the tenants' quotas are counted: memory (this process), sqlite:<path>, postgres://... or redis://... (shared by every process using it)",
  },
} as const satisfies Record<string, SettingDoc>;

/** The settings of the client commands (`fetch`, `calls ...`). */
export const CLIENT_SETTINGS = {
  url: {
    env: "STEADFAST_URL",
    flag: "--url",
    defaultText: "http://127.0.0.1:7480",
    meaning: "Base URL of the Steadfast server",
  },
  apiKey: {
    env: "STEADFAST_API_KEY",
    flag: "--api-key",
    defaultText: "(read from <data-dir>/api-key if it exists)",
    meaning: "API key sent as Authorization: Bearer <key>",
  },
  dataDir: {
    env: "STEADFAST_DATA_DIR",
    flag: "--data-dir",
    defaultText: "./.steadfast",
    meaning: "Where to look for the api-key file `steadfast serve` wrote",
  },
} as const satisfies Record<string, SettingDoc>;

/** `(env X, default Y)`: the help-text suffix for a setting. */
export function settingHint(setting: SettingDoc): string {
  return `(env ${setting.env}, default ${setting.defaultText})`;
}

/** Log levels `--log-level` accepts (pino's). */
export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;

/** Flags of `steadfast serve` as commander parses them: strings, unvalidated. */
export interface ServeFlags {
  port?: string;
  host?: string;
  db?: string;
  dataDir?: string;
  concurrency?: string;
  allowPrivateNetworks?: boolean;
  allowedCidrs?: string;
  operatorTenants?: string;
  maxBodyBytes?: string;
  leaseMs?: string;
  logLevel?: string;
  retention?: string;
  rateLimit?: string;
  rateLimitBurst?: string;
  rateLimitStore?: string;
}

/** The validated configuration `steadfast serve` hands to `startServer`. */
export interface ServeConfig {
  /** TCP port; 0 picks a free one. */
  port: number;
  /** Address to bind. */
  host: string;
  /** `sqlite:<absolute path>`, or `:memory:`. */
  db: string;
  /** Absolute path of the data directory. */
  dataDir: string;
  /** `tenant:key,...`, when set; otherwise the server generates a key. */
  apiKeys?: string;
  allowPrivateNetworks: boolean;
  allowedCidrs: string[];
  /** Tenants whose keys may use `/v1/destinations`. */
  operatorTenants: string[];
  concurrency: number;
  /** Bytes. */
  maxBodyBytes: number;
  /** Claim lease, ms. */
  leaseMs: number;
  logLevel: string;
  /** How long ended calls and runs are kept, ms; 0 keeps them for ever. */
  retentionMs: number;
  /** Each tenant's quota of `/v1` requests; absent: no limit. */
  rateLimit?: TenantRateLimitConfig;
}

/** Where a raw value came from, for error messages. */
interface Raw {
  value: string;
  /** The flag (`--port`) or the variable (`STEADFAST_PORT`). */
  source: string;
  fromEnv: boolean;
}

/** `--port "x"` or `STEADFAST_PORT="x"`; `shown` replaces the value when it holds a secret. */
// Every value a message quotes goes through the one redactor: a database or server URL may
// carry a password.
function labelOf(raw: Raw, shown: string = redactUrl(raw.value)): string {
  return raw.fromEnv
    ? `${raw.source}=${JSON.stringify(shown)}`
    : `${raw.source} ${JSON.stringify(shown)}`;
}

function pick(flagValue: string | undefined, setting: SettingDoc, env: Env): Raw | undefined {
  if (flagValue !== undefined) {
    return { value: flagValue, source: setting.flag ?? setting.env, fromEnv: false };
  }
  const envValue = env[setting.env];
  // An empty variable counts as unset, as shells make `FOO= cmd` easy to type by accident.
  if (envValue === undefined || envValue.trim() === "") return undefined;
  return { value: envValue, source: setting.env, fromEnv: true };
}

function invalid(raw: Raw, expected: string): CliError {
  return new CliError(`${labelOf(raw)} is not valid: expected ${expected}`);
}

/**
 * Parses a whole number in `[min, max]`. Digits only (underscores allowed as separators, as in
 * `1_048_576`); no signs, decimals or units.
 */
function integer(raw: Raw, min: number, max: number, expected: string): number {
  const text = raw.value.trim().replaceAll("_", "");
  if (!/^\d+$/.test(text)) throw invalid(raw, expected);
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < min || value > max) throw invalid(raw, expected);
  return value;
}

const TRUE = new Set(["true", "1", "yes", "on"]);
const FALSE = new Set(["false", "0", "no", "off"]);

function boolean(raw: Raw): boolean {
  const text = raw.value.trim().toLowerCase();
  if (TRUE.has(text)) return true;
  if (FALSE.has(text)) return false;
  throw invalid(raw, "true or false");
}

const HOSTNAME =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

function host(raw: Raw): string {
  let text = raw.value.trim();
  if (text.startsWith("[") && text.endsWith("]")) text = text.slice(1, -1);
  if (isIP(text) !== 0 || HOSTNAME.test(text)) return text;
  throw invalid(raw, "an IP address or host name, such as 127.0.0.1, 0.0.0.0, ::1 or localhost");
}

/** Validates one CIDR such as `10.0.0.0/8` or `fd00::/8`; returns it trimmed. */
function cidr(text: string): string | undefined {
  const slash = text.indexOf("/");
  if (slash < 0) return undefined;
  const address = text.slice(0, slash);
  const prefix = text.slice(slash + 1);
  const family = isIP(address);
  if (family === 0 || !/^\d{1,3}$/.test(prefix)) return undefined;
  return Number(prefix) <= (family === 4 ? 32 : 128) ? text : undefined;
}

function tenantList(raw: Raw): string[] {
  const tenants = raw.value
    .split(",")
    .map((part) => part.trim())
    .filter((part) => part !== "");
  const bad = tenants.find((tenant) => !/^[A-Za-z0-9._-]{1,64}$/.test(tenant));
  if (tenants.length === 0 || bad !== undefined) {
    throw invalid(raw, "a comma-separated list of tenant names (letters, digits, '.', '_', '-')");
  }
  return tenants;
}

function cidrList(raw: Raw): string[] {
  const out: string[] = [];
  for (const part of raw.value.split(",")) {
    const text = part.trim();
    if (text === "") continue;
    const checked = cidr(text);
    if (checked === undefined) {
      throw new CliError(
        `${labelOf(raw)} is not valid: "${text}" is not a CIDR; expected a comma-separated list such as 10.0.0.0/8,fd00::/8`,
      );
    }
    out.push(checked);
  }
  return out;
}

// Only emptiness is checked here; the entries' format (tenant names, key length and alphabet) is
// the server's `parseApiKeys`, which `steadfast serve` runs before starting.
function apiKeys(value: string, envName: string): string {
  const entries = value
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "");
  if (entries.length === 0) {
    throw new CliError(`${envName} is not valid: expected tenant:key,tenant:key (got no entries)`);
  }
  return entries.join(",");
}

function db(raw: Raw, cwd: string): string {
  const text = raw.value.trim();
  // An in-memory database lasts as long as the process: for demos and tests.
  if (text === ":memory:" || text === "sqlite::memory:") return ":memory:";
  if (/^postgres(ql)?:\/\//i.test(text)) {
    try {
      new URL(text);
    } catch {
      throw new CliError(
        `${labelOf(raw)} is not valid: expected postgres://user:password@host:5432/database`,
      );
    }
    return text;
  }
  if (!text.startsWith("sqlite:") || text.length === "sqlite:".length) {
    throw invalid(raw, "sqlite:<path>, such as sqlite:./.steadfast/steadfast.db, or :memory:");
  }
  const path = text.slice("sqlite:".length);
  return `sqlite:${isAbsolute(path) ? path : resolve(cwd, path)}`;
}

function dataDir(raw: Raw | undefined, cwd: string): string {
  if (raw === undefined) return resolve(cwd, ".steadfast");
  if (raw.value.trim() === "") throw invalid(raw, "a directory path");
  return resolve(cwd, raw.value);
}

/**
 * The configuration of `steadfast serve` from its flags and the environment. Relative paths
 * resolve against `cwd`. Throws `CliError` naming the first bad value.
 *
 * @example
 * resolveServeConfig({ port: "8080" }, { STEADFAST_LOG_LEVEL: "debug" }, "/srv")
 * // { port: 8080, host: "127.0.0.1", db: "sqlite:/srv/.steadfast/steadfast.db", logLevel: "debug", ... }
 */
export function resolveServeConfig(flags: ServeFlags, env: Env, cwd: string): ServeConfig {
  const s = SERVE_SETTINGS;
  const port = pick(flags.port, s.port, env);
  const hostRaw = pick(flags.host, s.host, env);
  const dbRaw = pick(flags.db, s.db, env);
  const dir = dataDir(pick(flags.dataDir, s.dataDir, env), cwd);
  const privateRaw =
    flags.allowPrivateNetworks === undefined
      ? pick(undefined, s.allowPrivateNetworks, env)
      : undefined;
  const cidrs = pick(flags.allowedCidrs, s.allowedCidrs, env);
  const operators = pick(flags.operatorTenants, s.operatorTenants, env);
  const concurrency = pick(flags.concurrency, s.concurrency, env);
  const maxBody = pick(flags.maxBodyBytes, s.maxBodyBytes, env);
  const lease = pick(flags.leaseMs, s.leaseMs, env);
  const level = pick(flags.logLevel, s.logLevel, env);
  const retained = pick(flags.retention, s.retention, env);
  const limit = rateLimit(
    pick(flags.rateLimit, s.rateLimit, env),
    pick(flags.rateLimitBurst, s.rateLimitBurst, env),
    pick(flags.rateLimitStore, s.rateLimitStore, env),
    cwd,
  );
  const keys = env[s.apiKeys.env];

  const config: ServeConfig = {
    port:
      port === undefined
        ? 7480
        : integer(port, 0, 65_535, "a port from 0 to 65535 (0 picks a free port)"),
    host: hostRaw === undefined ? "127.0.0.1" : host(hostRaw),
    db: dbRaw === undefined ? `sqlite:${join(dir, "steadfast.db")}` : db(dbRaw, cwd),
    dataDir: dir,
    allowPrivateNetworks:
      flags.allowPrivateNetworks ?? (privateRaw === undefined ? false : boolean(privateRaw)),
    allowedCidrs: cidrs === undefined ? [] : cidrList(cidrs),
    operatorTenants:
      operators === undefined ? [...DEFAULT_OPERATOR_TENANTS] : tenantList(operators),
    concurrency:
      concurrency === undefined
        ? 256
        : integer(concurrency, 1, 100_000, "a whole number from 1 to 100000"),
    maxBodyBytes:
      maxBody === undefined
        ? 1_048_576
        : integer(
            maxBody,
            1_024,
            1_073_741_824,
            "a number of bytes from 1024 to 1073741824 (1 GiB)",
          ),
    leaseMs:
      lease === undefined
        ? 30_000
        : integer(lease, 1_000, 3_600_000, "milliseconds from 1000 to 3600000 (1 hour)"),
    logLevel: level === undefined ? "info" : logLevel(level),
    retentionMs: retained === undefined ? DEFAULT_RETENTION_MS : retention(retained),
  };
  if (keys !== undefined && keys.trim() !== "") config.apiKeys = apiKeys(keys, s.apiKeys.env);
  if (limit !== undefined) config.rateLimit = limit;
  return config;
}

/** The longest retention (or `--older-than`) accepted: 10 years. */
const MAX_RETENTION_MS = 3_652 * 86_400_000;
const DURATION_EXPECTED = "a duration such as 7d, 12h or 30d (at most 10 years)";

/** A duration (`parseDuration`'s units: `7d`, `12h`), at most 10 years. */
function duration(raw: Raw, expected = DURATION_EXPECTED): number {
  try {
    return parseDuration(raw.value.trim(), raw.source, { maxMs: MAX_RETENTION_MS });
  } catch {
    throw invalid(raw, expected);
  }
}

/** A duration, or `off` (or `0`): kept for ever, 0. */
function retention(raw: Raw): number {
  const text = raw.value.trim();
  if (text === "off" || text === "0") return 0;
  return duration(raw, `${DURATION_EXPECTED}, or off`);
}

/** Parses a duration flag such as `--older-than 30d` (ms), at most 10 years. */
export function parseDurationFlag(flag: string, value: string): number {
  return duration({ value, source: flag, fromEnv: false });
}

const RATE_LIMIT = /^(\d[\d_]*)\s*\/\s*(\S.*)$/;

/**
 * The tenants' rate limit of `--rate-limit <limit>/<window>` (`off`: none), its burst and its
 * store, checked by the rule `steadfast/rate-limit` applies (a whole number of seconds...).
 */
function rateLimit(
  raw: Raw | undefined,
  burstRaw: Raw | undefined,
  storeRaw: Raw | undefined,
  cwd: string,
): TenantRateLimitConfig | undefined {
  if (raw === undefined || raw.value.trim().toLowerCase() === "off") {
    const stray = burstRaw ?? storeRaw;
    if (stray !== undefined) {
      throw new CliError(
        `${labelOf(stray)} has no effect without a rate limit: set ${SERVE_SETTINGS.rateLimit.flag} or ${SERVE_SETTINGS.rateLimit.env} too, such as 600/1m`,
      );
    }
    return undefined;
  }
  const parts = RATE_LIMIT.exec(raw.value.trim());
  if (parts === null) throw invalid(raw, "<limit>/<window>, such as 600/1m or 10/1s, or off");
  const limit = Number(parts[1]!.replaceAll("_", ""));
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > 1_000_000_000)
    throw invalid(raw, "<limit>/<window> with a limit from 1 to 1000000000, such as 600/1m");
  const config: TenantRateLimitConfig = {
    limit,
    window: parts[2]! as TenantRateLimitConfig["window"],
  };
  if (burstRaw !== undefined)
    config.burst = integer(burstRaw, 1, 1_000_000_000, "a whole number from 1 to 1000000000");
  try {
    resolveQuotaOptions({ ...config, purgeIntervalMs: 0 });
  } catch (error) {
    if (!isSteadfastError(error)) throw error;
    const reason = error.message.replace(/^createRateLimit: /, "");
    const culprit = /^burst /.test(reason) && burstRaw !== undefined ? burstRaw : raw;
    throw new CliError(`${labelOf(culprit)} is not valid: ${reason}`, { cause: error });
  }
  if (storeRaw !== undefined) config.store = rateLimitStore(storeRaw, cwd);
  return config;
}

function rateLimitStore(raw: Raw, cwd: string): string {
  const text = raw.value.trim();
  if (text === "memory" || /^(postgres(ql)?|rediss?):\/\/./i.test(text)) return text;
  if (text.startsWith("sqlite:") && text.length > "sqlite:".length) {
    const path = text.slice("sqlite:".length);
    return `sqlite:${isAbsolute(path) ? path : resolve(cwd, path)}`;
  }
  throw invalid(raw, "memory, sqlite:<path>, postgres://... or redis://...");
}

function logLevel(raw: Raw): string {
  const text = raw.value.trim().toLowerCase();
  if ((LOG_LEVELS as readonly string[]).includes(text)) return text;
  throw invalid(raw, `one of ${LOG_LEVELS.join(", ")}`);
}

/** Flags the client commands share, as commander parses them. */
export interface ClientFlags {
  url?: string;
  apiKey?: string;
  dataDir?: string;
}

/** The validated connection settings of a client command. */
export interface ClientConfig {
  /** Base URL of the server. */
  baseUrl: string;
  apiKey: string;
  /** Where the key came from: `--api-key`, `STEADFAST_API_KEY` or the key file's path. */
  apiKeySource: string;
}

/**
 * The server URL and API key for a client command. The key comes from `--api-key`, else
 * `STEADFAST_API_KEY`, else the `api-key` file in the data directory (`--data-dir`,
 * `STEADFAST_DATA_DIR`, default `./.steadfast`). `readFile` returns `undefined` for a missing file.
 * Throws `CliError` naming the bad value, or listing the three places a key can come from.
 */
export function resolveClientConfig(
  flags: ClientFlags,
  env: Env,
  cwd: string,
  readFile: (path: string) => string | undefined,
): ClientConfig {
  const s = CLIENT_SETTINGS;
  const urlRaw = pick(flags.url, s.url, env);
  const baseUrl = urlRaw === undefined ? "http://127.0.0.1:7480" : serverUrl(urlRaw);

  if (flags.apiKey !== undefined) {
    if (flags.apiKey.trim() === "")
      throw new CliError("--api-key is empty: pass the key, or leave the flag out");
    return { baseUrl, apiKey: flags.apiKey.trim(), apiKeySource: "--api-key" };
  }
  const envKey = env[s.apiKey.env];
  if (envKey !== undefined && envKey.trim() !== "") {
    return { baseUrl, apiKey: envKey.trim(), apiKeySource: s.apiKey.env };
  }
  const dir = dataDir(pick(flags.dataDir, s.dataDir, env), cwd);
  const keyPath = join(dir, "api-key");
  const fileKey = readKeyFile(readFile, keyPath);
  if (fileKey !== undefined) return { baseUrl, apiKey: fileKey, apiKeySource: keyPath };
  throw new CliError(
    `no API key: pass --api-key, set STEADFAST_API_KEY, or run this where \`steadfast serve\` wrote ${keyPath} (see --data-dir)`,
  );
}

// The file holds the key on its first non-empty line; `tenant:key` lines (the STEADFAST_API_KEYS
// form) are not expected there, so the line is taken whole.
function readKeyFile(
  readFile: (path: string) => string | undefined,
  path: string,
): string | undefined {
  let text: string | undefined;
  try {
    text = readFile(path);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    throw new CliError(
      `cannot read the API key file ${path}${typeof code === "string" ? ` (${code})` : ""}: check its permissions, or pass --api-key`,
      { cause: error },
    );
  }
  if (text === undefined) return undefined;
  const line = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .find((l) => l !== "" && !l.startsWith("#"));
  if (line === undefined) {
    throw new CliError(
      `the API key file ${path} is empty: pass --api-key, or delete the file and restart \`steadfast serve\``,
    );
  }
  return line;
}

function serverUrl(raw: Raw): string {
  const text = raw.value.trim();
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw invalid(raw, "an http(s) URL such as http://127.0.0.1:7480");
  }
  if (
    (url.protocol !== "http:" && url.protocol !== "https:") ||
    url.search !== "" ||
    url.hash !== ""
  ) {
    throw invalid(raw, "an http(s) URL such as http://127.0.0.1:7480, without query or fragment");
  }
  return text.replace(/\/+$/, "");
}

/** Parses `--status`: one of `statuses` (default: the call statuses), in any case. */
export function parseStatus<S extends string = CallStatus>(
  value: string,
  statuses: readonly S[] = CallStatuses as readonly string[] as readonly S[],
): S {
  const text = value.trim().toLowerCase();
  const found = statuses.find((status) => status === text);
  if (found !== undefined) return found;
  throw new CliError(
    `--status ${JSON.stringify(value)} is not valid: expected one of ${statuses.join(", ")}`,
  );
}

/** Parses a whole-number flag such as `--limit` or `--retries`, in `[min, max]`. */
export function parseIntegerFlag(flag: string, value: string, min: number, max: number): number {
  return integer(
    { value, source: flag, fromEnv: false },
    min,
    max,
    `a whole number from ${min} to ${max}`,
  );
}
