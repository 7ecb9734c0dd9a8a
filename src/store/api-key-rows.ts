// Row mapping of `api_keys`, shared by the SQLite and PostgreSQL stores (same column names,
// epoch milliseconds as integers). The key hash never leaves the store.
import type { ApiKeyRecord, ApiKeyRevoker, ApiKeySource } from "../core/api-key.ts";
import { StoreError } from "../core/errors.ts";
import type { ApiKeyId, TenantId } from "../core/ids.ts";
import type { Row } from "./call-rows.ts";

/** The columns `apiKeyFromRow` reads, for `SELECT` and `RETURNING` lists. */
export const API_KEY_COLUMNS =
  "id, tenant_id, prefix, name, source, created_at, last_used_at, revoked_at, revoked_by";

/** An `api_keys` row as an `ApiKeyRecord`. Absent optional fields are omitted. */
export function apiKeyFromRow(row: Row): ApiKeyRecord {
  const record: ApiKeyRecord = {
    id: row.id as ApiKeyId,
    tenantId: row.tenant_id as TenantId,
    source: row.source as ApiKeySource,
    createdAt: Number(row.created_at),
  };
  if (row.prefix !== null && row.prefix !== undefined) record.prefix = row.prefix as string;
  if (row.name !== null && row.name !== undefined) record.name = row.name as string;
  if (row.last_used_at !== null && row.last_used_at !== undefined)
    record.lastUsedAt = Number(row.last_used_at);
  if (row.revoked_at !== null && row.revoked_at !== undefined) {
    record.revokedAt = Number(row.revoked_at);
    record.revokedBy = row.revoked_by as ApiKeyRevoker;
  }
  return record;
}

/** Orders keys as `Store.listApiKeys` does: by creation time, then id. */
export function byCreation(a: ApiKeyRecord, b: ApiKeyRecord): number {
  return a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/**
 * The error for a key hash that another tenant holds: keys are refused rather than moved.
 * Names the tenants, never the key.
 */
export function keyOwnedByOtherTenant(owner: unknown, tenantId: TenantId): StoreError {
  return new StoreError(
    "api_key_conflict",
    `This API key already belongs to tenant ${String(owner)}, so it cannot be added for ` +
      `tenant ${tenantId}. Generate a distinct key per tenant.`,
  );
}
