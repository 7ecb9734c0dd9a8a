// API keys in SQLite: add, find, list, revoke, touch. Writes run inside the group-commit
// transaction (group-commit.ts); reads run directly and see committed data.
import type { ApiKeyRecord, NewApiKey } from "../../core/api-key.ts";
import type { ApiKeyId } from "../../core/ids.ts";
import type {
  ListApiKeysQuery,
  RevokeApiKeyOptions,
  RevokeApiKeyResult,
} from "../../core/store.ts";
import {
  API_KEY_COLUMNS,
  apiKeyFromRow,
  byCreation,
  keyOwnedByOtherTenant,
} from "../api-key-rows.ts";
import type { Prepare } from "./statement-cache.ts";

const INSERT_TENANT =
  "INSERT INTO tenants (id, created_at) VALUES (?, ?) ON CONFLICT (id) DO NOTHING";
// A conflict changes nothing, except for an env key revoked by env and listed again: restored.
const INSERT_KEY =
  "INSERT INTO api_keys (key_hash, id, tenant_id, prefix, name, source, created_at) " +
  "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key_hash) DO UPDATE " +
  // An env key listed again: restored if env revoked it, and given its prefix if it was stored
  // before keys had one (so it is no longer taken for the pre-upgrade generated key).
  "SET prefix = coalesce(api_keys.prefix, excluded.prefix), " +
  "revoked_at = CASE WHEN api_keys.revoked_by = 'env' THEN NULL ELSE api_keys.revoked_at END, " +
  "revoked_by = CASE WHEN api_keys.revoked_by = 'env' THEN NULL ELSE api_keys.revoked_by END " +
  "WHERE (api_keys.revoked_by = 'env' OR api_keys.prefix IS NULL) " +
  "AND api_keys.source = 'env' AND excluded.source = 'env' " +
  `AND api_keys.tenant_id = excluded.tenant_id RETURNING ${API_KEY_COLUMNS}`;
const SELECT_BY_HASH = `SELECT ${API_KEY_COLUMNS} FROM api_keys WHERE key_hash = ?`;
const FIND_ACTIVE = `${SELECT_BY_HASH} AND revoked_at IS NULL`;
const SELECT_BY_ID = `SELECT ${API_KEY_COLUMNS} FROM api_keys WHERE id = ?`;
const COUNT_ACTIVE = "SELECT count(*) AS n FROM api_keys WHERE revoked_at IS NULL";
const REVOKE =
  "UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?), revoked_by = 'operator' " +
  `WHERE id = ? RETURNING ${API_KEY_COLUMNS}`;
// The guard of the last operator key, in the same statement as the revocation (issue 10): the
// key is revoked unless it is active, of a kept tenant, and the only active key of those tenants.
// Writes are serialised (`BEGIN IMMEDIATE`, in every process), so no other revocation can come
// between the check and the update.
const keptTenant = (column: string, any: boolean): string =>
  any ? "1" : `${column} IN (SELECT value FROM json_each(?))`;
const revokeKeeping = (any: boolean): string =>
  "UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?), revoked_by = 'operator' " +
  `WHERE id = ? AND (revoked_at IS NOT NULL OR NOT (${keptTenant("tenant_id", any)}) ` +
  "OR EXISTS (SELECT 1 FROM api_keys AS other WHERE other.id <> api_keys.id " +
  `AND other.revoked_at IS NULL AND ${keptTenant("other.tenant_id", any)})) ` +
  `RETURNING ${API_KEY_COLUMNS}`;
const REVOKE_KEEPING_ANY = revokeKeeping(true);
const REVOKE_KEEPING = revokeKeeping(false);
const REVOKE_NOT_IN =
  "UPDATE api_keys SET revoked_at = ?, revoked_by = 'env' " +
  "WHERE source = 'env' AND revoked_at IS NULL " +
  `AND key_hash NOT IN (SELECT value FROM json_each(?)) RETURNING ${API_KEY_COLUMNS}`;
// Pre-upgrade keys are the only ones without a prefix (every key added since has one).
const ADOPT_GENERATED =
  "UPDATE api_keys SET source = 'generated', prefix = ?, " +
  "revoked_at = CASE WHEN revoked_by = 'env' THEN NULL ELSE revoked_at END, " +
  "revoked_by = CASE WHEN revoked_by = 'env' THEN NULL ELSE revoked_by END " +
  `WHERE key_hash = ? AND source = 'env' AND prefix IS NULL RETURNING ${API_KEY_COLUMNS}`;
const TOUCH =
  "UPDATE api_keys SET last_used_at = ? WHERE id = ? " +
  "AND (last_used_at IS NULL OR last_used_at < ?)";

/** See `Store.addApiKey`. Runs inside a write transaction. */
export function addApiKey(sql: Prepare, key: NewApiKey): ApiKeyRecord {
  sql(INSERT_TENANT).run(key.tenantId, key.createdAt);
  const inserted = sql(INSERT_KEY).get(
    key.keyHash,
    key.id,
    key.tenantId,
    key.prefix,
    key.name ?? null,
    key.source,
    key.createdAt,
  );
  if (inserted !== undefined) return apiKeyFromRow(inserted);
  const existing = apiKeyFromRow(sql(SELECT_BY_HASH).get(key.keyHash)!);
  if (existing.tenantId !== key.tenantId)
    throw keyOwnedByOtherTenant(existing.tenantId, key.tenantId);
  return existing;
}

/** See `Store.findApiKey`. */
export function findApiKey(sql: Prepare, keyHash: string): ApiKeyRecord | undefined {
  const row = sql(FIND_ACTIVE).get(keyHash);
  return row === undefined ? undefined : apiKeyFromRow(row);
}

/** See `Store.getApiKey`. */
export function getApiKey(sql: Prepare, id: ApiKeyId): ApiKeyRecord | undefined {
  const row = sql(SELECT_BY_ID).get(id);
  return row === undefined ? undefined : apiKeyFromRow(row);
}

/** See `Store.listApiKeys`. */
export function listApiKeys(sql: Prepare, query: ListApiKeysQuery): ApiKeyRecord[] {
  const where: string[] = [];
  const values: string[] = [];
  if (query.tenantId !== undefined) {
    where.push("tenant_id = ?");
    values.push(query.tenantId);
  }
  if (query.includeRevoked !== true) where.push("revoked_at IS NULL");
  const text =
    `SELECT ${API_KEY_COLUMNS} FROM api_keys` +
    (where.length === 0 ? "" : ` WHERE ${where.join(" AND ")}`) +
    " ORDER BY created_at, id";
  return sql(text)
    .all(...values)
    .map(apiKeyFromRow);
}

/** See `Store.countApiKeys`. */
export function countApiKeys(sql: Prepare): number {
  return Number(sql(COUNT_ACTIVE).get()!.n);
}

/** See `Store.revokeApiKey`. Runs inside a write transaction. */
export function revokeApiKey(
  sql: Prepare,
  id: ApiKeyId,
  now: number,
  options: RevokeApiKeyOptions = {},
): RevokeApiKeyResult {
  const keep = options.keepOneOf;
  let row;
  if (keep === undefined) row = sql(REVOKE).get(now, id);
  else if (keep === "any") row = sql(REVOKE_KEEPING_ANY).get(now, id);
  else {
    const tenants = JSON.stringify(keep);
    row = sql(REVOKE_KEEPING).get(now, id, tenants, tenants);
  }
  if (row !== undefined) return { type: "revoked", key: apiKeyFromRow(row) };
  const existing = getApiKey(sql, id);
  return existing === undefined
    ? { type: "not_found" }
    : { type: "last_operator_key", key: existing };
}

/** See `Store.revokeApiKeysNotIn`. Runs inside a write transaction. */
export function revokeApiKeysNotIn(
  sql: Prepare,
  keepHashes: readonly string[],
  now: number,
): ApiKeyRecord[] {
  return sql(REVOKE_NOT_IN)
    .all(now, JSON.stringify(keepHashes))
    .map(apiKeyFromRow)
    .sort(byCreation);
}

/** See `Store.adoptGeneratedApiKey`. Runs inside a write transaction. */
export function adoptGeneratedApiKey(
  sql: Prepare,
  keyHash: string,
  prefix: string,
): ApiKeyRecord | undefined {
  const row = sql(ADOPT_GENERATED).get(prefix, keyHash);
  return row === undefined ? undefined : apiKeyFromRow(row);
}

/** See `Store.touchApiKey`. Runs inside a write transaction. */
export function touchApiKey(sql: Prepare, id: ApiKeyId, now: number): void {
  sql(TOUCH).run(now, id, now);
}
