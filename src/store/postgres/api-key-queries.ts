// API keys in PostgreSQL: add, find, list, revoke, touch. Each is one statement (adding, one
// short transaction) on a pooled connection.
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
import type { PostgresConnection } from "./postgres-connection.ts";
import type { SchemaNames } from "./schema-names.ts";

/** The API key statements of `PostgresStore`. */
export class ApiKeyQueries {
  readonly #db: PostgresConnection;
  readonly #table: string;
  readonly #tenants: string;
  readonly #find: string;

  constructor(db: PostgresConnection, names: SchemaNames) {
    this.#db = db;
    this.#table = names.apiKeys;
    this.#tenants = names.tenants;
    this.#find =
      `SELECT ${API_KEY_COLUMNS} FROM ${names.apiKeys} ` +
      "WHERE key_hash = $1 AND revoked_at IS NULL";
  }

  /** See `Store.addApiKey`. */
  async addApiKey(key: NewApiKey): Promise<ApiKeyRecord> {
    return this.#db.transaction(async (query) => {
      await query({
        text: `INSERT INTO ${this.#tenants} (id, created_at) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING`,
        values: [key.tenantId, key.createdAt],
      });
      const inserted = await query({
        text:
          `INSERT INTO ${this.#table} AS k ` +
          "(key_hash, id, tenant_id, prefix, name, source, created_at) " +
          "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (key_hash) DO UPDATE " +
          // Nothing changes, except for an env key listed again: restored if env revoked it, and
          // given its prefix if it was stored before keys had one (so it is no longer taken for
          // the pre-upgrade generated key).
          "SET prefix = coalesce(k.prefix, excluded.prefix), " +
          "revoked_at = CASE WHEN k.revoked_by = 'env' THEN NULL ELSE k.revoked_at END, " +
          "revoked_by = CASE WHEN k.revoked_by = 'env' THEN NULL ELSE k.revoked_by END " +
          "WHERE (k.revoked_by = 'env' OR k.prefix IS NULL) " +
          "AND k.source = 'env' AND excluded.source = 'env' AND k.tenant_id = excluded.tenant_id " +
          `RETURNING ${API_KEY_COLUMNS}`,
        values: [
          key.keyHash,
          key.id,
          key.tenantId,
          key.prefix,
          key.name ?? null,
          key.source,
          key.createdAt,
        ],
      });
      if (inserted.rows[0] !== undefined) return apiKeyFromRow(inserted.rows[0]);
      const { rows } = await query({
        text: `SELECT ${API_KEY_COLUMNS} FROM ${this.#table} WHERE key_hash = $1`,
        values: [key.keyHash],
      });
      const existing = apiKeyFromRow(rows[0]!);
      if (existing.tenantId !== key.tenantId)
        throw keyOwnedByOtherTenant(existing.tenantId, key.tenantId);
      return existing;
    });
  }

  /** See `Store.findApiKey`: the query every authentication cache miss makes. */
  async findApiKey(keyHash: string): Promise<ApiKeyRecord | undefined> {
    const { rows } = await this.#db.query({
      name: "steadfast_find_api_key",
      text: this.#find,
      values: [keyHash],
    });
    return rows[0] === undefined ? undefined : apiKeyFromRow(rows[0]);
  }

  /** See `Store.getApiKey`. */
  async getApiKey(id: ApiKeyId): Promise<ApiKeyRecord | undefined> {
    const { rows } = await this.#db.query({
      text: `SELECT ${API_KEY_COLUMNS} FROM ${this.#table} WHERE id = $1`,
      values: [id],
    });
    return rows[0] === undefined ? undefined : apiKeyFromRow(rows[0]);
  }

  /** See `Store.listApiKeys`. */
  async listApiKeys(query: ListApiKeysQuery): Promise<ApiKeyRecord[]> {
    const where: string[] = [];
    const values: unknown[] = [];
    if (query.tenantId !== undefined) {
      values.push(query.tenantId);
      where.push(`tenant_id = $${values.length}`);
    }
    if (query.includeRevoked !== true) where.push("revoked_at IS NULL");
    const text =
      `SELECT ${API_KEY_COLUMNS} FROM ${this.#table}` +
      (where.length === 0 ? "" : ` WHERE ${where.join(" AND ")}`) +
      " ORDER BY created_at, id";
    const { rows } = await this.#db.query({ text, values });
    return rows.map(apiKeyFromRow);
  }

  /** See `Store.countApiKeys`. */
  async countApiKeys(): Promise<number> {
    const { rows } = await this.#db.query({
      text: `SELECT count(*)::integer AS n FROM ${this.#table} WHERE revoked_at IS NULL`,
    });
    return rows[0]!.n as number;
  }

  /**
   * See `Store.revokeApiKey`. With `keepOneOf`, one statement checks and revokes. Under READ
   * COMMITTED a plain `EXISTS (another active key)` would not do: two transactions revoking the
   * last two keys would each see the other's key still active (write skew). So the statement
   * first locks every active key of the kept tenants (`FOR UPDATE`, in id order, so concurrent
   * revocations queue rather than deadlock); one that waited re-reads each locked row and skips
   * the keys revoked meanwhile, and counts only the keys still active.
   */
  async revokeApiKey(
    id: ApiKeyId,
    now: number,
    options: RevokeApiKeyOptions = {},
  ): Promise<RevokeApiKeyResult> {
    const keep = options.keepOneOf;
    const values: unknown[] = [id, now];
    let guard = "";
    if (keep !== undefined) {
      if (keep !== "any") values.push(keep);
      const kept = (column: string): string =>
        keep === "any" ? "TRUE" : `${column} = ANY ($3::text[])`;
      guard =
        ` AND (k.revoked_at IS NOT NULL OR NOT (${kept("k.tenant_id")}) ` +
        `OR (SELECT count(*) FROM (SELECT id FROM ${this.#table} WHERE revoked_at IS NULL ` +
        `AND ${kept("tenant_id")} ORDER BY id FOR UPDATE) AS active) >= 2)`;
    }
    const { rows } = await this.#db.query({
      text:
        `UPDATE ${this.#table} AS k SET revoked_at = coalesce(k.revoked_at, $2), ` +
        `revoked_by = 'operator' WHERE k.id = $1${guard} RETURNING ${API_KEY_COLUMNS}`,
      values,
    });
    if (rows[0] !== undefined) return { type: "revoked", key: apiKeyFromRow(rows[0]) };
    const existing = await this.getApiKey(id);
    return existing === undefined
      ? { type: "not_found" }
      : { type: "last_operator_key", key: existing };
  }

  /** See `Store.revokeApiKeysNotIn`. */
  async revokeApiKeysNotIn(keepHashes: readonly string[], now: number): Promise<ApiKeyRecord[]> {
    const { rows } = await this.#db.query({
      text:
        `UPDATE ${this.#table} SET revoked_at = $1, revoked_by = 'env' ` +
        "WHERE source = 'env' AND revoked_at IS NULL AND key_hash <> ALL ($2::text[]) " +
        `RETURNING ${API_KEY_COLUMNS}`,
      values: [now, keepHashes],
    });
    return rows.map(apiKeyFromRow).sort(byCreation);
  }

  /** See `Store.adoptGeneratedApiKey`: pre-upgrade keys are the only ones without a prefix. */
  async adoptGeneratedApiKey(keyHash: string, prefix: string): Promise<ApiKeyRecord | undefined> {
    const { rows } = await this.#db.query({
      text:
        `UPDATE ${this.#table} SET source = 'generated', prefix = $2, ` +
        "revoked_at = CASE WHEN revoked_by = 'env' THEN NULL ELSE revoked_at END, " +
        "revoked_by = CASE WHEN revoked_by = 'env' THEN NULL ELSE revoked_by END " +
        "WHERE key_hash = $1 AND source = 'env' AND prefix IS NULL " +
        `RETURNING ${API_KEY_COLUMNS}`,
      values: [keyHash, prefix],
    });
    return rows[0] === undefined ? undefined : apiKeyFromRow(rows[0]);
  }

  /** See `Store.touchApiKey`. */
  async touchApiKey(id: ApiKeyId, now: number): Promise<void> {
    await this.#db.query({
      text:
        `UPDATE ${this.#table} SET last_used_at = $2 ` +
        "WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $2)",
      values: [id, now],
    });
  }
}
