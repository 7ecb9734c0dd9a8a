/**
 * The tenants-and-keys role of the `Store` port: the API keys that authenticate a tenant, and the
 * secret its webhooks are signed with.
 */
import type { ApiKeyRecord, NewApiKey } from "./api-key.ts";
import type { ApiKeyId, TenantId } from "./ids.ts";

/** Query for `listApiKeys`. */
export interface ListApiKeysQuery {
  /** Only this tenant's keys. */
  tenantId?: TenantId;
  /** Include revoked keys. Default false. */
  includeRevoked?: boolean;
}

/** Options of `Store.revokeApiKey`. */
export interface RevokeApiKeyOptions {
  /**
   * Tenants of which one active key must remain (the operator tenants), or `any` (one active key
   * of any tenant). Default: no such guard.
   */
  keepOneOf?: readonly TenantId[] | "any";
}

/** What `Store.revokeApiKey` did. */
export type RevokeApiKeyResult =
  | { type: "revoked"; key: ApiKeyRecord }
  | { type: "not_found" }
  /** Not revoked: it is the last active key of `keepOneOf`. `key` as stored, unchanged. */
  | { type: "last_operator_key"; key: ApiKeyRecord };

/** Tenants, their API keys and their webhook signing secrets. */
export interface TenantKeys {
  /**
   * Stores an API key (by its hash) for a tenant, creating the tenant if needed, and returns the
   * stored key. A hash the tenant already has is not stored again: the key already stored comes
   * back, except that an `env` key revoked by `env` (`revokeApiKeysNotIn`) and added again as an
   * `env` key is active again (STEADFAST_API_KEYS lists it again), and an `env` key stored before
   * keys had a prefix gets the new key's prefix (no longer a pre-upgrade key for
   * `adoptGeneratedApiKey`). A key revoked by an operator
   * stays revoked. A hash another tenant holds is refused (rejects).
   */
  addApiKey(key: NewApiKey): Promise<ApiKeyRecord>;
  /** The active (not revoked) key with this hash, if any: what authentication asks. */
  findApiKey(keyHash: string): Promise<ApiKeyRecord | undefined>;
  /** The key with this id, revoked or not. */
  getApiKey(id: ApiKeyId): Promise<ApiKeyRecord | undefined>;
  /** Keys, oldest first (by creation time, then id): all tenants' or one's, active only by default. */
  listApiKeys(query: ListApiKeysQuery): Promise<ApiKeyRecord[]>;
  /** How many active (not revoked) API keys exist (zero on a fresh database). */
  countApiKeys(): Promise<number>;
  /**
   * Revokes a key for good (by `operator`); a key already revoked keeps its first `revokedAt`.
   * With `options.keepOneOf`, refuses (`last_operator_key`) to revoke an active key of those
   * tenants when no other active key of theirs exists. The check and the revocation are one
   * conditional statement, atomic against concurrent revocations in this and other processes:
   * two keys revoked at once never leave none.
   */
  revokeApiKey(
    id: ApiKeyId,
    now: number,
    options?: RevokeApiKeyOptions,
  ): Promise<RevokeApiKeyResult>;
  /**
   * Revokes at `now` (by `env`) every active `env` key whose hash is not in `keepHashes` (the keys
   * `STEADFAST_API_KEYS` no longer lists), and returns them, oldest first. Keys of other sources
   * are untouched.
   */
  revokeApiKeysNotIn(keepHashes: readonly string[], now: number): Promise<ApiKeyRecord[]>;
  /**
   * Marks as `generated`, with `prefix`, the key with this hash if it was stored before keys had
   * sources (source `env` and no prefix: what the key lifecycle migration made of every older
   * key), and restores it if a start revoked it for not being in `STEADFAST_API_KEYS` (by `env`).
   * For the key a first start generated before the upgrade, recognised by its key file. Returns
   * the key as changed, or `undefined` when no such pre-upgrade key has this hash.
   */
  adoptGeneratedApiKey(keyHash: string, prefix: string): Promise<ApiKeyRecord | undefined>;
  /** Records a use of the key at `now`; never moves `lastUsedAt` back. Need not be durable. */
  touchApiKey(id: ApiKeyId, now: number): Promise<void>;
  /**
   * The tenant's webhook signing secret. When none is set yet, stores `candidate` and returns it
   * (first writer wins, so concurrent callers agree).
   */
  ensureSigningSecret(tenantId: TenantId, candidate: string, now: number): Promise<string>;
}
