-- Initial schema: tenants and their API keys, durable calls, and the attempts of each call.
-- Times are epoch milliseconds (INTEGER); JSON values are TEXT.

CREATE TABLE tenants (
  id TEXT PRIMARY KEY,
  signing_secret TEXT,
  created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE api_keys (
  key_hash TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants (id),
  created_at INTEGER NOT NULL
) STRICT;

CREATE INDEX api_keys_tenant ON api_keys (tenant_id);

CREATE TABLE calls (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('call', 'callback')),
  parent_id TEXT,
  status TEXT NOT NULL CHECK (
    status IN ('queued', 'running', 'waiting', 'succeeded', 'failed', 'cancelled')
  ),
  spec TEXT NOT NULL,
  idempotency_key TEXT,
  fingerprint TEXT,
  forwarded_key TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  attempt_base INTEGER NOT NULL DEFAULT 0,
  run_at INTEGER,
  wait_reason TEXT,
  deadline_at INTEGER,
  response TEXT,
  error TEXT,
  -- Fencing token: incremented by every claim and by cancellation.
  lease_token INTEGER NOT NULL DEFAULT 0,
  lease_expires_at INTEGER,
  worker_id TEXT,
  -- When the idempotency key may be released (set when the call ends).
  idempotency_expires_at INTEGER,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  completed_at INTEGER
) STRICT;

-- One live call per (tenant, idempotency key); purging sets the key to NULL.
CREATE UNIQUE INDEX calls_idempotency_key ON calls (tenant_id, idempotency_key)
  WHERE idempotency_key IS NOT NULL;

-- Purging expired idempotency keys. Only ended calls have an expiry, so creating a call does
-- not touch this index.
CREATE INDEX calls_idempotency_expiry ON calls (idempotency_expires_at)
  WHERE idempotency_key IS NOT NULL AND idempotency_expires_at IS NOT NULL;

-- Claiming: due calls by run_at, and running calls by lease expiry.
CREATE INDEX calls_due ON calls (run_at) WHERE status IN ('queued', 'waiting');
CREATE INDEX calls_lease ON calls (lease_expires_at) WHERE status = 'running';

-- Listing newest first, with and without a status filter.
CREATE INDEX calls_list ON calls (tenant_id, kind, id);
CREATE INDEX calls_list_status ON calls (tenant_id, kind, status, id);

CREATE TABLE attempts (
  call_id TEXT NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
  number INTEGER NOT NULL,
  started_at INTEGER NOT NULL,
  -- Measured durations may be fractional milliseconds.
  duration_ms REAL NOT NULL,
  connect_ms REAL,
  first_byte_ms REAL,
  outcome TEXT NOT NULL,
  sent INTEGER NOT NULL CHECK (sent IN (0, 1)),
  decision TEXT NOT NULL,
  PRIMARY KEY (call_id, number)
) STRICT, WITHOUT ROWID;
