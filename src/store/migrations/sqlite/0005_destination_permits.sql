-- Fleet-wide concurrency limits: which process holds how many of each limited destination's
-- concurrency permits (its maxConcurrency), and until when (Store.holdPermits).

CREATE TABLE destination_permits (
  -- The origin, as in destinations.
  destination TEXT PRIMARY KEY,
  -- JSON object: holder (worker id) -> [permits, lease end in epoch ms].
  holders TEXT NOT NULL
) STRICT;
