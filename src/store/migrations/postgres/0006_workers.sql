-- Engine processes (issue 10, item 10): each registers itself and heartbeats about every second,
-- so that a dead process's claims are taken over within seconds rather than when their leases
-- expire. calls.worker_id names the owner of a running call's claim.

CREATE TABLE workers (
  id text COLLATE "C" PRIMARY KEY,
  -- os.hostname(), and where a pid means something (kernel boot and PID namespace), if known.
  host text NOT NULL,
  pid_scope text,
  pid integer NOT NULL,
  -- When the process started, epoch ms: a later process with the same pid is another one.
  started_at bigint NOT NULL,
  -- Its last heartbeat, from its own clock. Others compare successive values, not clocks.
  heartbeat_at bigint NOT NULL,
  -- Set by a graceful stop, or when another process found it dead; NULL while live.
  stopped_at bigint
);

-- Attempts cut off by the end of their process (issue 10, item 11). A takeover records the attempt
-- it cut off without knowing whether its request was sent (the call may have waited in the dead
-- process's memory): sent = true (it may have reached the upstream) and sent_unknown = true.
-- A constant default: PostgreSQL 11+ adds the column without rewriting the table.
ALTER TABLE attempts ADD COLUMN sent_unknown boolean NOT NULL DEFAULT false;

-- Takeovers in a row since an attempt last completed: a call at 3 is failed (crash_loop) without
-- being sent again. Interrupted attempts are not counted against maxAttempts: they are added to
-- attempt_base as they are recorded.
ALTER TABLE calls ADD COLUMN crashes_in_a_row integer NOT NULL DEFAULT 0;
