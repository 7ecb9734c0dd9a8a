-- API keys get an id, a visible prefix, a name, a source, a last-used time and a revocation
-- (time and by whom) (issue 10, item 4).
--
-- Keys stored before this migration keep working. Their id is derived from their hash
-- ('key_' and its first 26 hex digits, upper case: valid Crockford base32), their prefix is
-- unknown (NULL: the hash cannot give it back), and their source is 'env': they are treated as
-- managed by STEADFAST_API_KEYS, so a start with STEADFAST_API_KEYS set revokes those it does not
-- list (the behaviour the issue asks for, also for keys added by older versions). The key a first
-- start generated is the exception: starts recognise it by <data-dir>/api-key, which older
-- versions wrote, and mark it 'generated' (bootstrapApiKeys, Store.adoptGeneratedApiKey), so
-- that setting STEADFAST_API_KEYS after the upgrade does not lock the CLI out.

ALTER TABLE api_keys
  ADD COLUMN id text COLLATE "C",
  -- The key's first characters, NULL when unknown (keys stored before this migration).
  ADD COLUMN prefix text,
  ADD COLUMN name text,
  ADD COLUMN source text NOT NULL DEFAULT 'env'
    CHECK (source IN ('env', 'generated', 'api', 'cli')),
  ADD COLUMN last_used_at bigint,
  ADD COLUMN revoked_at bigint,
  -- 'env': STEADFAST_API_KEYS no longer listed it (listing it again restores it);
  -- 'operator': revoked through the API (final).
  ADD COLUMN revoked_by text CHECK (revoked_by IN ('env', 'operator')),
  ADD CONSTRAINT api_keys_revoked CHECK ((revoked_at IS NULL) = (revoked_by IS NULL));

UPDATE api_keys SET id = 'key_' || upper(substr(key_hash, 1, 26));

ALTER TABLE api_keys ALTER COLUMN id SET NOT NULL, ALTER COLUMN source DROP DEFAULT;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_id UNIQUE (id);

DROP INDEX api_keys_tenant;
CREATE INDEX api_keys_tenant ON api_keys (tenant_id, created_at);
