-- API keys get an id, a visible prefix, a name, a source, a last-used time and a revocation
-- (time and by whom) (issue 10, item 4). SQLite cannot add a NOT NULL UNIQUE column, so the table is rebuilt.
--
-- Keys stored before this migration keep working. Their id is derived from their hash
-- ('key_' and its first 26 hex digits, upper case: valid Crockford base32), their prefix is
-- unknown (NULL: the hash cannot give it back), and their source is 'env': they are treated as
-- managed by STEADFAST_API_KEYS, so a start with STEADFAST_API_KEYS set revokes those it does not
-- list (the behaviour the issue asks for, also for keys added by older versions). The key a first
-- start generated is the exception: starts recognise it by <data-dir>/api-key, which older
-- versions wrote, and mark it 'generated' (bootstrapApiKeys, Store.adoptGeneratedApiKey), so
-- that setting STEADFAST_API_KEYS after the upgrade does not lock the CLI out.

CREATE TABLE api_keys_v2 (
  key_hash TEXT PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  tenant_id TEXT NOT NULL REFERENCES tenants (id),
  -- The key's first characters, NULL when unknown (keys stored before this migration).
  prefix TEXT,
  name TEXT,
  source TEXT NOT NULL CHECK (source IN ('env', 'generated', 'api', 'cli')),
  created_at INTEGER NOT NULL,
  last_used_at INTEGER,
  revoked_at INTEGER,
  -- 'env': STEADFAST_API_KEYS no longer listed it (listing it again restores it);
  -- 'operator': revoked through the API (final).
  revoked_by TEXT CHECK (revoked_by IN ('env', 'operator')),
  CHECK ((revoked_at IS NULL) = (revoked_by IS NULL))
) STRICT;

INSERT INTO api_keys_v2 (key_hash, id, tenant_id, source, created_at)
SELECT key_hash, 'key_' || upper(substr(key_hash, 1, 26)), tenant_id, 'env', created_at
FROM api_keys;

DROP TABLE api_keys;
ALTER TABLE api_keys_v2 RENAME TO api_keys;
CREATE INDEX api_keys_tenant ON api_keys (tenant_id, created_at);
