/**
 * API keys as the store keeps them and the API shows them (issue 10, item 4). A key is stored
 * only as its SHA-256 hash; what identifies it to people is its id and a short prefix, which is
 * enough to recognise a key and never enough to use it.
 *
 * Lifecycle: active -> revoked by `env` (a start whose `STEADFAST_API_KEYS` no longer lists the
 * key) -> active again (a start that lists it again); active or revoked by `env` -> revoked by
 * `operator` (`POST /v1/keys/:id/revoke`), which is final.
 */
import type { ApiKeyId, TenantId } from "./ids.ts";

/** Where a key came from. */
export const ApiKeySources = ["env", "generated", "api", "cli"] as const;
/**
 * One of `ApiKeySources`: `env` keys are managed by `STEADFAST_API_KEYS` (a start revokes the
 * ones it no longer lists); `generated` is the key a fresh install creates; `api` and `cli` keys
 * were created through `POST /v1/keys` (by the `steadfast keys create` command for `cli`).
 */
export type ApiKeySource = (typeof ApiKeySources)[number];

/**
 * Who revoked a key: `env`, a start whose `STEADFAST_API_KEYS` no longer listed it (a start that
 * lists it again restores it); `operator`, through the API, which is final.
 */
export type ApiKeyRevoker = "env" | "operator";

/** An API key to store. */
export interface NewApiKey {
  id: ApiKeyId;
  tenantId: TenantId;
  /** SHA-256 of the key, hex (`hashApiKey`). */
  keyHash: string;
  /** The key's first characters (`apiKeyPrefix`). */
  prefix: string;
  /** A label for people, such as `billing service`. */
  name?: string;
  source: ApiKeySource;
  /** Epoch ms. */
  createdAt: number;
}

/** A stored API key (never the key itself, nor its hash). */
export interface ApiKeyRecord {
  id: ApiKeyId;
  tenantId: TenantId;
  /** The key's first characters; absent for keys stored before keys had prefixes. */
  prefix?: string;
  name?: string;
  source: ApiKeySource;
  /** Epoch ms. */
  createdAt: number;
  /** Epoch ms of a recent use, recorded at most about once a minute. */
  lastUsedAt?: number;
  /** Epoch ms; present once the key is revoked. */
  revokedAt?: number;
  /** Present with `revokedAt`. */
  revokedBy?: ApiKeyRevoker;
}

/**
 * The syntax of an API key: an RFC 6750 `b64token` (RFC 9110 `token68`), since it travels as
 * `Authorization: Bearer <key>`: letters, digits and `- . _ ~ + /`, then only trailing `=`. The
 * one rule for keys: `STEADFAST_API_KEYS` is checked with it at startup and the `Authorization`
 * header is read with it, so a key accepted at startup is never refused on every request.
 */
export const API_KEY_PATTERN = /^[A-Za-z0-9._~+/-]+=*$/;

/** Most characters of a key its prefix shows. */
export const MAX_PREFIX_LENGTH = 8;

/**
 * The visible prefix of `key`: its first 8 characters, and never more than a quarter of it, so
 * that the rest (for a generated `sf_` key, 38 characters of base64url) stays unguessable.
 *
 * @example apiKeyPrefix("sf_AbCdEfGh...") // "sf_AbCdE"
 */
export function apiKeyPrefix(key: string): string {
  return key.slice(0, Math.min(MAX_PREFIX_LENGTH, Math.floor(key.length / 4)));
}

/** An API key as `GET /v1/keys` shows it. */
export interface ApiKeyView {
  /** `key_...`: what `steadfast keys revoke` takes. */
  id: string;
  tenant: string;
  /** The key's first characters, or `null` for keys stored before keys had prefixes. */
  prefix: string | null;
  name?: string;
  source: ApiKeySource;
  createdAt: string;
  lastUsedAt?: string;
  revokedAt?: string;
  revokedBy?: ApiKeyRevoker;
}

/** A key as the API shows it: ISO times, no hash. */
export function toApiKeyView(record: ApiKeyRecord): ApiKeyView {
  const view: ApiKeyView = {
    id: record.id,
    tenant: record.tenantId,
    prefix: record.prefix ?? null,
    source: record.source,
    createdAt: new Date(record.createdAt).toISOString(),
  };
  if (record.name !== undefined) view.name = record.name;
  if (record.lastUsedAt !== undefined) view.lastUsedAt = new Date(record.lastUsedAt).toISOString();
  if (record.revokedAt !== undefined) view.revokedAt = new Date(record.revokedAt).toISOString();
  if (record.revokedBy !== undefined) view.revokedBy = record.revokedBy;
  return view;
}
