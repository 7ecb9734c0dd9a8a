-- Engine processes (issue 10, item 10): each registers itself and heartbeats about every second,
-- so that a dead process's claims are taken over within seconds rather than when their leases
-- expire. calls.worker_id names the owner of a running call's claim.

CREATE TABLE workers (
  id TEXT PRIMARY KEY,
  -- os.hostname(), and where a pid means something (kernel boot and PID namespace), if known.
  host TEXT NOT NULL,
  pid_scope TEXT,
  pid INTEGER NOT NULL,
  -- When the process started, epoch ms: a later process with the same pid is another one.
  started_at INTEGER NOT NULL,
  -- Its last heartbeat, from its own clock. Others compare successive values, not clocks.
  heartbeat_at INTEGER NOT NULL,
  -- Set by a graceful stop, or when another process found it dead; NULL while live.
  stopped_at INTEGER
) STRICT;
