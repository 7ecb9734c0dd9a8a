-- Fleet-wide concurrency limits: which process holds how many of each limited destination's
-- concurrency permits (its maxConcurrency), and until when (Store.holdPermits). One row per
-- destination, changed under its row lock, so concurrent holders never exceed the limit.

CREATE TABLE destination_permits (
  -- The origin, as in destinations.
  destination text COLLATE "C" PRIMARY KEY,
  -- JSON object: holder (worker id) -> [permits, lease end in epoch ms].
  holders text NOT NULL
);
