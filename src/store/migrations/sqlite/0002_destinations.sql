-- Per-destination protection (issue 3): the saved state of each destination (circuit breaker,
-- Retry-After pause) and its limits, and why a call is held by its destination.

CREATE TABLE destinations (
  -- The origin, scheme://host[:port] as URL.origin writes it.
  destination TEXT PRIMARY KEY,
  -- The engine's protection state, JSON the store does not interpret.
  state TEXT NOT NULL,
  -- {"rateLimitPerSecond"?: number, "maxConcurrency"?: number}
  limits TEXT NOT NULL,
  -- Optimistic concurrency: every save is conditional on the version it read.
  version INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;

-- Set by deferCall (a call held without an attempt): the wait code and the destination holding it.
ALTER TABLE calls ADD COLUMN wait_code TEXT;
ALTER TABLE calls ADD COLUMN wait_destination TEXT;

-- Waking the calls a destination holds when it recovers or is reset.
CREATE INDEX calls_held ON calls (wait_destination)
  WHERE status = 'waiting' AND wait_destination IS NOT NULL;
