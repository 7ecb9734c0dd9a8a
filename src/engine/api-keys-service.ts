import {
  apiKeyPrefix,
  type ApiKeyRecord,
  type ApiKeySource,
  type NewApiKey,
} from "../core/api-key.ts";
import { InvalidOptionError, TerminalError } from "../core/errors.ts";
import { isApiKeyId, newApiKeyId, tenantId, type ApiKeyId, type TenantId } from "../core/ids.ts";
import type { Clock, Random } from "../core/ports.ts";
import type { ListApiKeysQuery, TenantKeys } from "../core/tenant-keys.ts";
import { hashApiKey } from "./fingerprint.ts";

/** Options of `ApiKeysService`. */
export interface ApiKeysServiceOptions {
  store: TenantKeys;
  clock: Clock;
  /** Draws new keys and their ids: a CSPRNG in production (`CryptoRandom`). */
  random: Random;
  /**
   * How long this process trusts a key it has checked without asking the store again, ms: the
   * longest a key revoked by another process keeps working here. Default 5,000; 0 asks the store
   * on every request; at most 60,000 (`MAX_AUTH_CACHE_TTL_MS`: a revoked key is refused by every
   * process within a minute at worst).
   */
  authCacheTtlMs?: number;
}

/** What `ApiKeysService.create` makes. */
export interface CreateApiKeyInput {
  tenantId: TenantId;
  /** A label for people. */
  name?: string;
  /** Default `api`. */
  source?: ApiKeySource;
}

/** A key just created: the key itself, shown only this once, and what is stored about it. */
export interface CreatedApiKey {
  key: string;
  record: ApiKeyRecord;
}

/** One key of `STEADFAST_API_KEYS`. */
export interface ConfiguredApiKey {
  tenantId: TenantId;
  key: string;
}

/** What `ApiKeysService.configure` did. */
export interface ConfigureResult {
  /** The stored key of each configured one, in order; one an operator revoked comes back revoked. */
  keys: ApiKeyRecord[];
  /** The `env` keys the configuration no longer lists, revoked now. */
  revoked: ApiKeyRecord[];
}

/** Default of `authCacheTtlMs`, ms. */
export const DEFAULT_AUTH_CACHE_TTL_MS = 5_000;
/** Largest `authCacheTtlMs` accepted, ms: the bound on how long a revoked key can keep working. */
export const MAX_AUTH_CACHE_TTL_MS = 60_000;
/** A key's `lastUsedAt` is written at most this often by one process, ms. */
export const LAST_USED_INTERVAL_MS = 60_000;
// Bounds the memory of both caches; a busy server has far fewer keys.
const MAX_CACHED_KEYS = 1_000;

/**
 * A new API key: `sf_` and 32 bytes drawn from `random`, base64url (46 characters in all).
 *
 * @example generateApiKey(new CryptoRandom()) // "sf_Vq1w..."
 */
export function generateApiKey(random: Random): string {
  const bytes = new Uint8Array(32);
  for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(random.next() * 256);
  return `sf_${Buffer.from(bytes).toString("base64url")}`;
}

/**
 * API keys (issue 10, item 4): authentication with a cache of bounded lifetime, and the operator
 * use cases: create, list, revoke, and the keys `STEADFAST_API_KEYS` manages. Keys are stored
 * hashed (SHA-256); the key itself exists only in the answer to `create`.
 */
export class ApiKeysService {
  readonly #store: TenantKeys;
  readonly #clock: Clock;
  readonly #random: Random;
  readonly #ttlMs: number;
  readonly #cache = new Map<string, { tenantId: TenantId; keyId: ApiKeyId; until: number }>();
  readonly #touched = new Map<ApiKeyId, number>();
  // Revocations made through this service so far. A store lookup that began before the latest
  // one may have read a key that is revoked now: its answer is used once, never cached.
  #revocations = 0;

  constructor(options: ApiKeysServiceOptions) {
    const ttl = options.authCacheTtlMs ?? DEFAULT_AUTH_CACHE_TTL_MS;
    if (!Number.isFinite(ttl) || ttl < 0 || ttl > MAX_AUTH_CACHE_TTL_MS) {
      throw new InvalidOptionError(
        `authCacheTtlMs must be a number of ms from 0 to ${MAX_AUTH_CACHE_TTL_MS} (the longest a revoked key may keep working); got ${ttl}`,
      );
    }
    this.#store = options.store;
    this.#clock = options.clock;
    this.#random = options.random;
    this.#ttlMs = ttl;
  }

  /**
   * The tenant an active API key belongs to, if any. A key found is trusted for `authCacheTtlMs`
   * without asking the store, so a key revoked elsewhere is refused here within that time (at
   * once when revoked through this service). Records the key's use at most once a minute.
   */
  async authenticate(apiKey: string): Promise<TenantId | undefined> {
    // Keyed by the key itself, so a cached key costs no hashing: the process holds keys in
    // memory as it reads every request anyway; the store only ever sees the hash.
    const now = this.#clock.now();
    const cached = this.#cache.get(apiKey);
    if (cached !== undefined && cached.until > now) return cached.tenantId;
    this.#cache.delete(apiKey);
    const revocations = this.#revocations;
    const record = await this.#store.findApiKey(hashApiKey(apiKey));
    if (record === undefined) return undefined;
    if (this.#ttlMs > 0 && revocations === this.#revocations) {
      if (this.#cache.size >= MAX_CACHED_KEYS) this.#cache.clear();
      this.#cache.set(apiKey, {
        tenantId: record.tenantId,
        keyId: record.id,
        until: now + this.#ttlMs,
      });
    }
    this.#touch(record, now);
    return record.tenantId;
  }

  /** Creates a key for a tenant (creating the tenant if new). The key is in the answer only. */
  async create(input: CreateApiKeyInput): Promise<CreatedApiKey> {
    const key = generateApiKey(this.#random);
    const now = this.#clock.now();
    const record = await this.#store.addApiKey({
      ...this.#newKey(input.tenantId, key, input.source ?? "api", now),
      ...(input.name === undefined ? {} : { name: input.name }),
    });
    return { key, record };
  }

  /** Keys, oldest first: all tenants' or one's, active only unless `includeRevoked`. */
  list(query: ListApiKeysQuery = {}): Promise<ApiKeyRecord[]> {
    return this.#store.listApiKeys(query);
  }

  /** How many active keys exist (zero on a fresh database). */
  count(): Promise<number> {
    return this.#store.countApiKeys();
  }

  /** One key, revoked or not. Throws `not_found` for an unknown or malformed id. */
  async get(id: string): Promise<ApiKeyRecord> {
    const record = isApiKeyId(id) ? await this.#store.getApiKey(id) : undefined;
    if (record === undefined) throw unknownKey(id);
    return record;
  }

  /**
   * Revokes a key for good (`revokedBy: "operator"`: no `STEADFAST_API_KEYS` brings it back);
   * every process refuses it within its `authCacheTtlMs`, this one at once. Revoking a key an
   * operator revoked changes nothing. Refuses (`invalid_state`) to revoke the last active key of
   * `operatorTenants` (of any tenant when undefined), which would leave no key able to manage
   * keys: create another operator key first. The store checks and revokes in one statement, so
   * concurrent revocations (in any process) never leave no operator key.
   */
  async revoke(id: string, operatorTenants?: readonly string[]): Promise<ApiKeyRecord> {
    if (!isApiKeyId(id)) throw unknownKey(id);
    const result = await this.#store.revokeApiKey(id, this.#clock.now(), {
      keepOneOf: operatorTenants === undefined ? "any" : operatorTenants.map(tenantId),
    });
    if (result.type === "not_found") throw unknownKey(id);
    if (result.type === "last_operator_key") {
      const { key } = result;
      throw new TerminalError(
        "invalid_state",
        `${key.id} is the last active key of ${operatorTenants === undefined ? "this server" : `the operator tenants (${operatorTenants.join(", ")})`}; revoking it would leave no key that can manage keys. Create another first (steadfast keys create --tenant ${key.tenantId}), then revoke this one`,
      );
    }
    this.#forget([result.key.id]);
    return result.key;
  }

  /**
   * Makes `keys` (the parsed `STEADFAST_API_KEYS`) the active `env` keys: adds those not stored
   * yet, restores those a previous start revoked for not being listed, and revokes (by `env`) the
   * `env` keys no longer listed. Keys of other sources are untouched, and a listed key that an
   * operator revoked stays revoked.
   */
  async configure(keys: readonly ConfiguredApiKey[]): Promise<ConfigureResult> {
    const now = this.#clock.now();
    const stored: ApiKeyRecord[] = [];
    for (const { tenantId, key } of keys)
      stored.push(await this.#store.addApiKey(this.#newKey(tenantId, key, "env", now)));
    const revoked = await this.#store.revokeApiKeysNotIn(
      keys.map(({ key }) => hashApiKey(key)),
      now,
    );
    this.#forget(revoked.map((key) => key.id));
    return { keys: stored, revoked };
  }

  /**
   * Recognises `key` as the key a first start generated before keys had sources (the key lifecycle
   * migration made every older key an `env` key): when a key stored before the upgrade has its
   * hash, it becomes a `generated` key with its prefix, out of `STEADFAST_API_KEYS`'s hands, and
   * active again if a start revoked it for not being listed. Returns it, or `undefined` when no
   * pre-upgrade key matches (nothing changes).
   */
  recognizeGeneratedKey(key: string): Promise<ApiKeyRecord | undefined> {
    return this.#store.adoptGeneratedApiKey(hashApiKey(key), apiKeyPrefix(key));
  }

  #newKey(tenantId: TenantId, key: string, source: ApiKeySource, now: number): NewApiKey {
    return {
      id: newApiKeyId(now, this.#random),
      tenantId,
      keyHash: hashApiKey(key),
      prefix: apiKeyPrefix(key),
      source,
      createdAt: now,
    };
  }

  #forget(ids: readonly ApiKeyId[]): void {
    if (ids.length === 0) return;
    this.#revocations++;
    for (const [key, entry] of this.#cache) if (ids.includes(entry.keyId)) this.#cache.delete(key);
  }

  // At most one write per key per minute from this process, never awaited by the request: a
  // failed write (the store away) is skipped, and the next use a minute later writes again.
  #touch(record: ApiKeyRecord, now: number): void {
    const last = Math.max(
      record.lastUsedAt ?? -Infinity,
      this.#touched.get(record.id) ?? -Infinity,
    );
    if (now - last < LAST_USED_INTERVAL_MS) return;
    if (this.#touched.size >= MAX_CACHED_KEYS) this.#touched.clear();
    this.#touched.set(record.id, now);
    this.#store.touchApiKey(record.id, now).catch(() => undefined);
  }
}

function unknownKey(id: string): TerminalError {
  // A malformed id is not echoed: it may be a key pasted by mistake.
  return new TerminalError(
    "not_found",
    isApiKeyId(id)
      ? `No API key ${id}`
      : "Not an API key id: expected key_ and 26 characters, as `steadfast keys list` shows them (the id, not the key itself)",
  );
}
