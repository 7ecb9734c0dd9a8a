-- Workflow runs (issue 11). A live run is a row of `work` (kind 'run', its uid as id), claimed,
-- leased and fenced like a call; its wide `runs` row is written at create and at end. Steps are
-- checkpointed in `run_steps`, their attempts appended to `run_step_attempts`.
--
-- Calls and runs share `work` but not its claim indexes: the call indexes are partial on
-- kind <> 'run' (a call claim never walks a run, whatever the runs' workflows), the run indexes on
-- kind = 'run' and by workflow (an engine claims only the workflows it registered, so a due run of
-- a workflow no engine runs is never read by a claim).

-- `work` rebuilt (as 0009 said: it holds only live work and nothing refers to it) for kind 'run',
-- status 'sleeping', and the run columns.
CREATE TABLE work_0011 (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('call', 'callback', 'run')),
  tenant_id TEXT NOT NULL,
  parent_id TEXT,
  -- 'sleeping': runs only (every wait a sleep).
  status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'sleeping', 'waiting')),
  run_at INTEGER,
  lease_token INTEGER NOT NULL,
  lease_expires_at INTEGER,
  worker_id TEXT,
  -- A call's deferCall wait, or a waiting run's RunWaitCode.
  wait_code TEXT,
  wait_destination TEXT,
  wait_reason TEXT,
  -- A call's attempts; a run's invocations (claims that ran its function).
  attempts INTEGER NOT NULL DEFAULT 0,
  attempt_base INTEGER NOT NULL DEFAULT 0,
  crashes_in_a_row INTEGER NOT NULL DEFAULT 0,
  updated_at INTEGER NOT NULL,
  -- Runs: the workflow (claims are by workflow), the phase, whether a wake-up came while it ran
  -- (its park then leaves it due), and the event names its last park waits for (JSON array).
  workflow TEXT,
  phase TEXT CHECK (phase IN ('forward', 'compensating')),
  woken INTEGER NOT NULL DEFAULT 0 CHECK (woken IN (0, 1)),
  wait_events TEXT,
  CHECK ((kind = 'run') = (workflow IS NOT NULL AND phase IS NOT NULL)),
  CHECK (status <> 'sleeping' OR kind = 'run')
) STRICT, WITHOUT ROWID;

INSERT INTO work_0011 (
  id, kind, tenant_id, parent_id, status, run_at, lease_token, lease_expires_at, worker_id,
  wait_code, wait_destination, wait_reason, attempts, attempt_base, crashes_in_a_row, updated_at
)
SELECT
  id, kind, tenant_id, parent_id, status, run_at, lease_token, lease_expires_at, worker_id,
  wait_code, wait_destination, wait_reason, attempts, attempt_base, crashes_in_a_row, updated_at
FROM work;

DROP TABLE work;
ALTER TABLE work_0011 RENAME TO work;

-- The indexes of 0009, the claim ones now of calls only (their queries repeat kind <> 'run').
CREATE INDEX work_due ON work (run_at) WHERE status IN ('queued', 'waiting') AND kind <> 'run';
CREATE INDEX work_lease ON work (lease_expires_at) WHERE status = 'running' AND kind <> 'run';
CREATE INDEX work_held ON work (wait_destination)
  WHERE status = 'waiting' AND wait_destination IS NOT NULL;
CREATE INDEX work_owner ON work (worker_id) WHERE status = 'running';
CREATE INDEX work_list ON work (tenant_id, kind, status, id) WHERE status <> 'running';
-- Claiming runs: due parked runs, and running runs by lease expiry, per workflow.
CREATE INDEX work_run_due ON work (workflow, run_at)
  WHERE kind = 'run' AND status IN ('queued', 'sleeping', 'waiting');
CREATE INDEX work_run_lease ON work (workflow, lease_expires_at)
  WHERE kind = 'run' AND status = 'running';

-- A call started by a run's step (step.fetch): the transaction that ends the call wakes the run.
ALTER TABLE calls ADD COLUMN parent_run TEXT;

-- Values larger than 256 KiB (inputs, outputs, step outputs and waits), kept out of the rows
-- that claims and listings read; the row names its value here by id (`<column>_ref`).
CREATE TABLE run_values (
  id INTEGER PRIMARY KEY,
  run_uid TEXT NOT NULL,
  value TEXT NOT NULL
) STRICT;

-- runs and run_steps are rowid tables (not WITHOUT ROWID): a row may hold a value up to 256 KiB.
CREATE TABLE runs (
  uid TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  -- The id it was started with, unique per tenant (its idempotency key).
  id TEXT NOT NULL,
  workflow TEXT NOT NULL,
  input TEXT,
  input_ref INTEGER REFERENCES run_values (id),
  input_fingerprint TEXT NOT NULL,
  parent_uid TEXT,
  parent_step TEXT,
  created_at INTEGER NOT NULL,
  -- End columns, written once when it ends (and cleared by a retry). While it is live, its
  -- status, phase, invocations, lease token and updated_at are read from its work row.
  status TEXT CHECK (status IN ('succeeded', 'failed', 'cancelled')),
  phase TEXT CHECK (phase IN ('forward', 'compensating')),
  output TEXT,
  output_ref INTEGER REFERENCES run_values (id),
  error TEXT,
  fail_reason TEXT CHECK (fail_reason IN ('error', 'diverged')),
  compensation TEXT,
  invocations INTEGER NOT NULL DEFAULT 0,
  lease_token INTEGER NOT NULL DEFAULT 0,
  updated_at INTEGER NOT NULL,
  ended_at INTEGER,
  UNIQUE (tenant_id, id),
  CHECK ((status IS NULL) = (ended_at IS NULL))
) STRICT;

-- Listing, newest first: all of a tenant's runs, by workflow, and the ended ones by status (a
-- live run's status is on its work row, listed through work_list or work_run_lease).
CREATE INDEX runs_list ON runs (tenant_id, uid);
CREATE INDEX runs_list_workflow ON runs (tenant_id, workflow, uid);
CREATE INDEX runs_list_status ON runs (tenant_id, status, uid) WHERE status IS NOT NULL;

-- One row per step of a run: its checkpoint. `position` is the order the step was first recorded.
CREATE TABLE run_steps (
  run_uid TEXT NOT NULL REFERENCES runs (uid),
  step_id TEXT NOT NULL,
  position INTEGER NOT NULL,
  kind TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('completed', 'failed', 'retrying', 'waiting')),
  started_at INTEGER NOT NULL,
  attempts INTEGER NOT NULL,
  completed_at INTEGER,
  retry_at INTEGER,
  output TEXT,
  output_ref INTEGER REFERENCES run_values (id),
  -- A failed step's error, or a retrying step's last error (JSON).
  error TEXT,
  -- A waiting step's wait (JSON; a child run's input may make it large).
  wait TEXT,
  wait_ref INTEGER REFERENCES run_values (id),
  -- A completed waitForEvent step's event: delivered once per run.
  event_id TEXT,
  PRIMARY KEY (run_uid, step_id),
  UNIQUE (run_uid, position)
) STRICT;

CREATE TABLE run_step_attempts (
  run_uid TEXT NOT NULL REFERENCES runs (uid),
  step_id TEXT NOT NULL,
  number INTEGER NOT NULL,
  started_at INTEGER NOT NULL,
  -- Fractional ms, as call attempts record them.
  duration_ms REAL NOT NULL,
  outcome TEXT NOT NULL,
  decision TEXT NOT NULL,
  PRIMARY KEY (run_uid, step_id, number)
) STRICT, WITHOUT ROWID;

-- The event names each parked run waits for (its last park's), to wake it when one is recorded:
-- written at park, deleted at the next park and at the end.
CREATE TABLE run_event_waits (
  tenant_id TEXT NOT NULL,
  event_name TEXT NOT NULL,
  run_uid TEXT NOT NULL,
  PRIMARY KEY (tenant_id, event_name, run_uid)
) STRICT, WITHOUT ROWID;
