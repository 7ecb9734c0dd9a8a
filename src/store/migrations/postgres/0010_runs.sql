-- Workflow runs (issue 11): a run is live work like a call, claimed, leased, fenced, parked and
-- woken through a row of `work` (kind 'run'); its wide `runs` row is written when it is created
-- and once more when it ends (or is redriven), as for calls (0008). Its step checkpoints and step
-- attempts have tables of their own, and values over 256 KiB (maxInlineBytes) go out of line.
--
-- While a run is live, `work` holds its status ('running' also while it compensates: `phase`
-- tells which), due time, wait code, lease, invocation count and the events it waits for; its
-- `runs` row holds NULL in the end columns (status, output, error...).
--
-- Calls and runs share `work` but not its indexes: calls are claimed through work_due (calls
-- only), runs through work_runs_due (by workflow, so an engine claims only the workflows it has
-- registered, and a due run of a workflow no engine knows is never walked by a claim nor seen by
-- the calls' next wake-up).

ALTER TABLE work DROP CONSTRAINT work_kind_check;
ALTER TABLE work ADD CONSTRAINT work_kind_check CHECK (kind IN ('call', 'callback', 'run'));
-- 'sleeping': a run parked on sleeps only (calls never sleep).
ALTER TABLE work DROP CONSTRAINT work_status_check;
ALTER TABLE work ADD CONSTRAINT work_status_check
  CHECK (status IN ('queued', 'running', 'sleeping', 'waiting'));

ALTER TABLE work
  -- The run's workflow (NULL for calls): claims choose runs by it.
  ADD COLUMN workflow text COLLATE "C",
  -- 'forward' or 'compensating' (NULL for calls); kept through claims, parks and releases.
  ADD COLUMN phase text CHECK (phase IN ('forward', 'compensating')),
  -- Claims that ran the run's function so far (NULL for calls). Written to runs at the end.
  ADD COLUMN invocations integer,
  -- Set when the run is woken while running (a child ended, an awaited event arrived): its park
  -- then leaves it due at once, so the wake-up is not lost. Cleared by a claim.
  -- A constant default: no table rewrite.
  ADD COLUMN woken boolean NOT NULL DEFAULT false,
  -- The names of the events the run waits for (set by its park, kept through its claim so that
  -- an event arriving while it runs marks it woken); NULL when none.
  ADD COLUMN events text[] COLLATE "C";

ALTER TABLE work ADD CONSTRAINT work_run_columns CHECK (
  (kind = 'run') = (workflow IS NOT NULL AND phase IS NOT NULL AND invocations IS NOT NULL)
);

-- Claiming calls and the calls' next wake-up: calls only. The queries say `kind <> 'run'` so
-- that the planner can use this partial index.
DROP INDEX work_due;
CREATE INDEX work_due ON work (due_at) WHERE due_at IS NOT NULL AND kind <> 'run';
-- Claiming runs and their next wake-up, one ordered probe per registered workflow (runs due at
-- the same time are claimed in uid order).
CREATE INDEX work_runs_due ON work (workflow, due_at, id)
  WHERE kind = 'run' AND due_at IS NOT NULL;
-- Every live run by due time: ending a stopped worker's run claims (stopWorkers) walks it by
-- lease expiry as it walks work_due for calls, and the LISTEN connection's catch-up reads the
-- earliest due run from it.
CREATE INDEX work_runs_by_due ON work (due_at) WHERE kind = 'run' AND due_at IS NOT NULL;
-- Waking the runs waiting for an event (wakeRunsForEvent).
CREATE INDEX work_run_events ON work USING gin (events) WHERE kind = 'run' AND events IS NOT NULL;

-- A call started by a run's step (step.fetch): the run its end wakes. No index: the transaction
-- that ends the call reads it from the row it updates.
ALTER TABLE calls ADD COLUMN parent_run text COLLATE "C";

CREATE TABLE runs (
  uid text COLLATE "C" PRIMARY KEY,
  tenant_id text COLLATE "C" NOT NULL,
  -- The id it was started with, unique per tenant (its idempotency key).
  id text COLLATE "C" NOT NULL,
  workflow text COLLATE "C" NOT NULL,
  -- Encoded by the value codec. NULL: kept out of line (run_values, slot 'input').
  input text,
  input_fingerprint text NOT NULL,
  -- Started by step.invoke: the parent run and its waiting step.
  parent_uid text COLLATE "C",
  parent_step text,
  created_at bigint NOT NULL,
  -- Its updatedAt once ended (while live, work.updated_at).
  updated_at bigint NOT NULL,
  -- The end columns, NULL while the run is live.
  status text CHECK (status IN ('succeeded', 'failed', 'cancelled')),
  phase text CHECK (phase IN ('forward', 'compensating')),
  -- When it succeeded; NULL then: out of line (slot 'output').
  output text,
  -- JSON (RecordedError, CompensationReport).
  error text,
  fail_reason text CHECK (fail_reason IN ('error', 'diverged')),
  compensation text,
  invocations integer NOT NULL DEFAULT 0,
  -- The token the run ended with (a cancellation increments it); a redrive carries on from it.
  lease_token bigint NOT NULL DEFAULT 0,
  ended_at bigint,
  UNIQUE (tenant_id, id)
);

-- Listing newest first (uids are ULIDs), all, by workflow, and ended ones by status (live
-- statuses are listed from work_list).
CREATE INDEX runs_list ON runs (tenant_id, uid);
CREATE INDEX runs_list_workflow ON runs (tenant_id, workflow, uid);
CREATE INDEX runs_list_ended ON runs (tenant_id, status, uid) WHERE status IS NOT NULL;

CREATE TABLE run_steps (
  run_uid text COLLATE "C" NOT NULL REFERENCES runs (uid) ON DELETE CASCADE,
  step_id text COLLATE "C" NOT NULL,
  -- The order steps were first recorded in (a replaced checkpoint keeps its position).
  position bigint GENERATED BY DEFAULT AS IDENTITY,
  kind text NOT NULL,
  status text NOT NULL CHECK (status IN ('completed', 'failed', 'retrying', 'waiting')),
  started_at bigint NOT NULL,
  attempts integer NOT NULL,
  -- When completed; NULL then: out of line (slot 'output:<step id>').
  output text,
  -- JSON RecordedError: the error of a failed step, the last error of a retrying one.
  error text,
  completed_at bigint,
  retry_at bigint,
  -- JSON StepWait of a waiting step; NULL then: out of line (slot 'wait:<step id>').
  wait text,
  -- A completed waitForEvent step's event: delivered once per run.
  event_id text,
  PRIMARY KEY (run_uid, step_id)
);

CREATE TABLE run_step_attempts (
  run_uid text COLLATE "C" NOT NULL REFERENCES runs (uid) ON DELETE CASCADE,
  step_id text COLLATE "C" NOT NULL,
  number integer NOT NULL,
  started_at bigint NOT NULL,
  duration_ms double precision NOT NULL,
  -- JSON.
  outcome text NOT NULL,
  decision text NOT NULL,
  PRIMARY KEY (run_uid, step_id, number)
);

-- Values over maxInlineBytes, read only when needed: a run's 'input' and 'output', a step's
-- 'output:<step id>' and 'wait:<step id>' (a waiting step's wait holds a child's input).
CREATE TABLE run_values (
  run_uid text COLLATE "C" NOT NULL REFERENCES runs (uid) ON DELETE CASCADE,
  slot text COLLATE "C" NOT NULL,
  value text NOT NULL,
  PRIMARY KEY (run_uid, slot)
);
