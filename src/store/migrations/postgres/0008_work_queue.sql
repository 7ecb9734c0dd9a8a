-- A narrow queue table (issue 11): every live unit of work (calls and callbacks now, workflow
-- runs next) is claimed, leased, fenced, deferred and woken through a row of `work`, not through
-- the wide `calls` row, which is written when the call is created and once more when it ends.
--
-- A `work` row exists exactly while its work is live (queued, running, waiting). The transaction
-- that ends the work (an attempt committed as succeeded or failed, a cancellation) deletes the row
-- and writes the call's end columns (status, counters, response or error, completed_at, the
-- idempotency expiry, the final lease token) once. A redrive (retryCall of a failed call) creates
-- the row again. Reads show a live call's state from its `work` row (LEFT JOIN), so a call reads
-- exactly as before.
--
-- calls.status of live work is not maintained ('queued' from creation, or the status it had at
-- this upgrade): work.status is the truth while a work row exists.

CREATE TABLE work (
  -- The call's id.
  id text COLLATE "C" PRIMARY KEY,
  -- 'call' | 'callback' (a later migration adds 'run').
  kind text NOT NULL CHECK (kind IN ('call', 'callback')),
  tenant_id text COLLATE "C" NOT NULL,
  -- The parent work (a callback's call).
  parent_id text COLLATE "C",
  status text NOT NULL CHECK (status IN ('queued', 'running', 'waiting')),
  -- Due time while queued or waiting (kept, unused, while running, as calls.run_at was).
  run_at bigint,
  -- Fencing token: incremented by every claim. Carried over to calls.lease_token when the work
  -- ends (a cancellation increments it), and back from it by a redrive, so no token is reused.
  -- bigint like calls.lease_token (PostgreSQL's integer is 32 bits; SQLite's INTEGER is 64).
  lease_token bigint NOT NULL,
  lease_expires_at bigint,
  worker_id text,
  wait_code text,
  wait_destination text,
  wait_reason text,
  -- The per-attempt counters, so that a retrying call's commit touches only this row (and the
  -- attempt it inserts). Written to calls when the work ends.
  attempts integer NOT NULL,
  attempt_base integer NOT NULL,
  crashes_in_a_row integer NOT NULL,
  -- The call's updatedAt while live; while running, when the current claim started (a takeover
  -- records the cut-off attempt as started then).
  updated_at bigint NOT NULL,
  -- When the work becomes claimable: run_at while queued or waiting, the lease expiry while
  -- running. PostgreSQL cannot lock rows (FOR UPDATE SKIP LOCKED) under a UNION of two partial
  -- indexes (run_at of queued and waiting work, lease expiry of running work), and plans an OR
  -- of the two as a bitmap scan plus a sort of every due row: one ordered index on a generated
  -- column stops after `limit` rows (see calls_due in 0001).
  due_at bigint GENERATED ALWAYS AS (
    CASE
      WHEN status = 'running' THEN lease_expires_at
      ELSE run_at
    END
  ) STORED
) WITH (fillfactor = 70);
-- fillfactor: room on each page for the next versions of its rows. Claims, renewals, deferrals
-- and wake-ups all change an indexed column (status, due_at), so they are not HOT updates; the
-- spare room keeps a row's new version on its page, and the table stays small (live rows only,
-- an ended one is deleted), so its pages stay in cache.

-- Claiming and the next wake-up: every live row by due time.
CREATE INDEX work_due ON work (due_at) WHERE due_at IS NOT NULL;
-- Waking the work a destination holds when it recovers or is reset.
CREATE INDEX work_held ON work (wait_destination)
  WHERE status = 'waiting' AND wait_destination IS NOT NULL;
-- No index of running rows by worker_id: each would cost every claim one more index entry, for a
-- rare operation. Ending a stopped worker's claims walks work_due instead (a running row is due
-- at its lease expiry, and no lease is longer than the window it walks), and the fenced writes
-- about a claim (renewals, releases, deferrals, commits) find their rows through work_pkey. With
-- a partial index of running rows, the planner scanned all of it and hash-joined it at every
-- commit batch: more PostgreSQL CPU per call than without.
-- Listing live calls by status, newest first.
CREATE INDEX work_list ON work (tenant_id, kind, status, id);


-- Every live call, with its current token, counters and wait state.
INSERT INTO work (id, kind, tenant_id, parent_id, status, run_at, lease_token, lease_expires_at,
  worker_id, wait_code, wait_destination, wait_reason, attempts, attempt_base, crashes_in_a_row,
  updated_at)
SELECT id, kind, tenant_id, parent_id, status, run_at, lease_token, lease_expires_at, worker_id,
  wait_code, wait_destination, wait_reason, attempts, attempt_base, crashes_in_a_row, updated_at
FROM calls WHERE status IN ('queued', 'running', 'waiting');

-- The live columns of calls: an ended call has none of them (its run_at, wait code, destination
-- and reason, lease and owner are NULL), and reads take them from work. Dropping them (no table
-- rewrite in PostgreSQL) keeps the wide row smaller and its insert cheaper, and the indexes that
-- served them (claiming, holding) go with them.
DROP INDEX calls_due;
DROP INDEX calls_held;
ALTER TABLE calls
  DROP COLUMN due_at,
  DROP COLUMN run_at,
  DROP COLUMN lease_expires_at,
  DROP COLUMN worker_id,
  DROP COLUMN wait_code,
  DROP COLUMN wait_destination,
  DROP COLUMN wait_reason;

-- Listing by status: live statuses are listed from work_list; calls.status is right only for
-- ended calls, so only those are indexed (a created call adds no entry here).
DROP INDEX calls_list_status;
CREATE INDEX calls_list_status ON calls (tenant_id, kind, status, id)
  WHERE status IN ('succeeded', 'failed', 'cancelled');
