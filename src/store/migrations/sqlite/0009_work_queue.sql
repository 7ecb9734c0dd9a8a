-- A narrow queue table (issue 11): every live unit of work (calls and callbacks now, workflow runs
-- next) is claimed, leased and fenced through its row of `work`; the wide `calls` row is its
-- payload, inserted at create and otherwise written only when the call ends (and when a failed call
-- is redriven). A work row exists exactly while its work is live (queued, running, waiting): the
-- transaction that ends it deletes the row and writes the end columns of `calls` once. Claims,
-- commits of retries, renewals and waits touch this small row only, and its indexes only.
--
-- While a call is live, its status, counters, due time, wait state and updated_at are read from
-- here (reads join `calls` with `work`); the same columns of `calls` are written at its end.

CREATE TABLE work (
  -- The call's id.
  id TEXT PRIMARY KEY,
  -- Rebuilding this table to add a kind is cheap: it holds only live work and nothing refers to it.
  kind TEXT NOT NULL CHECK (kind IN ('call', 'callback')),
  tenant_id TEXT NOT NULL,
  -- The parent work (a callback's call).
  parent_id TEXT,
  status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'waiting')),
  -- When it is due while queued or waiting; while running, the due time it was claimed at.
  run_at INTEGER,
  -- Fencing token: incremented by every claim. When the work ends, `calls.lease_token` keeps the
  -- last one (a cancellation's, one more), so that a redriven call's claims carry on above it.
  lease_token INTEGER NOT NULL,
  lease_expires_at INTEGER,
  worker_id TEXT,
  -- Set by deferCall (work held without an attempt): the wait code and the destination holding it.
  wait_code TEXT,
  wait_destination TEXT,
  wait_reason TEXT,
  -- The per-attempt counters (see calls): a retrying call's commit writes only this row.
  attempts INTEGER NOT NULL DEFAULT 0,
  attempt_base INTEGER NOT NULL DEFAULT 0,
  crashes_in_a_row INTEGER NOT NULL DEFAULT 0,
  -- The last change; while running, when the current claim started (a takeover records the
  -- attempt it cut off as started then).
  updated_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- Every live call, as it stands.
INSERT INTO work (
  id, kind, tenant_id, parent_id, status, run_at, lease_token, lease_expires_at, worker_id,
  wait_code, wait_destination, wait_reason, attempts, attempt_base, crashes_in_a_row, updated_at
)
SELECT
  id, kind, tenant_id, parent_id, status, run_at, lease_token, lease_expires_at, worker_id,
  wait_code, wait_destination, wait_reason, attempts, attempt_base, crashes_in_a_row, updated_at
FROM calls
WHERE status IN ('queued', 'running', 'waiting');

-- Claiming: due work by run_at, and running work by lease expiry.
CREATE INDEX work_due ON work (run_at) WHERE status IN ('queued', 'waiting');
CREATE INDEX work_lease ON work (lease_expires_at) WHERE status = 'running';
-- Waking the work a destination holds when it recovers or is reset.
CREATE INDEX work_held ON work (wait_destination)
  WHERE status = 'waiting' AND wait_destination IS NOT NULL;
-- Ending the claims of a stopped worker (stopWorkers).
CREATE INDEX work_owner ON work (worker_id) WHERE status = 'running';
-- Listing live work by status, newest first. Running work is left out, as 0004 left it out of
-- calls_list_status: every attempt would move its entry twice. It is listed through work_lease.
CREATE INDEX work_list ON work (tenant_id, kind, status, id) WHERE status <> 'running';

-- The indexes of the live columns of calls: claims and waits no longer read them.
DROP INDEX calls_due;
DROP INDEX calls_lease;
DROP INDEX calls_held;
-- Listing ended calls by status: a live call's calls.status is the one it was created with, not
-- its current one, so only ended calls are in this index (creating a call writes no entry here).
DROP INDEX calls_list_status;
CREATE INDEX calls_list_status ON calls (tenant_id, kind, status, id)
  WHERE status IN ('succeeded', 'failed', 'cancelled');

-- The live-only columns of calls go: a stale copy is one a reader could trust by mistake, and an
-- ended call never has them (run_at and the wait state are cleared when a call ends). Dropped
-- columns rewrite each row once, here. Kept as end columns: status, attempts, attempt_base,
-- crashes_in_a_row, lease_token and updated_at.
ALTER TABLE calls DROP COLUMN run_at;
ALTER TABLE calls DROP COLUMN wait_reason;
ALTER TABLE calls DROP COLUMN wait_code;
ALTER TABLE calls DROP COLUMN wait_destination;
ALTER TABLE calls DROP COLUMN lease_expires_at;
ALTER TABLE calls DROP COLUMN worker_id;
