-- Initial schema: tenants and their API keys, durable calls, and the attempts of each call.
-- Applied with search_path set to the store's schema. Times are epoch milliseconds (bigint);
-- measured durations are fractional milliseconds (double precision).
--
-- JSON values (spec, response, error, outcome, decision) are text holding JSON.stringify output,
-- not jsonb: text round-trips exactly what was written (jsonb reorders keys and rejects the
-- \u0000 escape, which an upstream body can legitimately contain) and costs no parsing on write.
-- Cast to jsonb to query them: `spec::jsonb -> 'request' ->> 'url'`.
--
-- Ids and keys use the "C" collation: byte order is ULID order (listing newest first, cursors),
-- and it compares faster than a linguistic collation.

CREATE TABLE tenants (
  id text COLLATE "C" PRIMARY KEY,
  signing_secret text,
  created_at bigint NOT NULL
);

CREATE TABLE api_keys (
  key_hash text COLLATE "C" PRIMARY KEY,
  tenant_id text COLLATE "C" NOT NULL REFERENCES tenants (id),
  created_at bigint NOT NULL
);

CREATE INDEX api_keys_tenant ON api_keys (tenant_id);

CREATE TABLE calls (
  id text COLLATE "C" PRIMARY KEY,
  tenant_id text COLLATE "C" NOT NULL,
  kind text NOT NULL CHECK (kind IN ('call', 'callback')),
  parent_id text COLLATE "C",
  status text NOT NULL CHECK (
    status IN ('queued', 'running', 'waiting', 'succeeded', 'failed', 'cancelled')
  ),
  spec text NOT NULL,
  idempotency_key text COLLATE "C",
  fingerprint text,
  forwarded_key text NOT NULL,
  attempts integer NOT NULL DEFAULT 0,
  attempt_base integer NOT NULL DEFAULT 0,
  run_at bigint,
  wait_reason text,
  deadline_at bigint,
  response text,
  error text,
  -- Fencing token: incremented by every claim and by cancellation.
  lease_token bigint NOT NULL DEFAULT 0,
  lease_expires_at bigint,
  worker_id text,
  -- When the idempotency key may be released (set when the call ends).
  idempotency_expires_at bigint,
  created_at bigint NOT NULL,
  updated_at bigint NOT NULL,
  completed_at bigint,
  -- When the call becomes claimable: run_at while queued or waiting, the lease expiry while
  -- running, NULL once ended. Derived, so that no write can forget it.
  due_at bigint GENERATED ALWAYS AS (
    CASE
      WHEN status = 'running' THEN lease_expires_at
      WHEN status IN ('queued', 'waiting') THEN run_at
    END
  ) STORED
);

-- One live call per (tenant, idempotency key); purging sets the key to NULL.
CREATE UNIQUE INDEX calls_idempotency_key ON calls (tenant_id, idempotency_key)
  WHERE idempotency_key IS NOT NULL;

-- Purging expired idempotency keys. Only ended calls have an expiry, so creating a call does
-- not touch this index.
CREATE INDEX calls_idempotency_expiry ON calls (idempotency_expires_at)
  WHERE idempotency_key IS NOT NULL AND idempotency_expires_at IS NOT NULL;

-- Claiming: every claimable call by due time. SQLite has one partial index per case (run_at of
-- queued and waiting calls, lease expiry of running ones) and merges two bounded scans;
-- PostgreSQL cannot lock rows (FOR UPDATE SKIP LOCKED) under a UNION, and an OR of the two
-- cases is planned as a bitmap scan plus a sort of every due row (140 ms per claim with
-- 100,000 due calls). One index on due_at gives an ordered scan that stops after `limit` rows,
-- and a plain column keeps the planner on it before the table has statistics (its default
-- estimate for a status filter is so low that it prefers sorting every due row).
CREATE INDEX calls_due ON calls (due_at) WHERE due_at IS NOT NULL;

-- Listing newest first, with and without a status filter.
CREATE INDEX calls_list ON calls (tenant_id, kind, id);
CREATE INDEX calls_list_status ON calls (tenant_id, kind, status, id);

CREATE TABLE attempts (
  call_id text COLLATE "C" NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
  number integer NOT NULL,
  started_at bigint NOT NULL,
  duration_ms double precision NOT NULL,
  connect_ms double precision,
  first_byte_ms double precision,
  outcome text NOT NULL,
  sent boolean NOT NULL,
  decision text NOT NULL,
  PRIMARY KEY (call_id, number)
);
