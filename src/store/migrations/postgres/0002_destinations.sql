-- Per-destination protection (issue 3): the saved state of each destination (circuit breaker,
-- Retry-After pause) and its limits, and why a call is held by its destination.

CREATE TABLE destinations (
  -- The origin, scheme://host[:port] as URL.origin writes it; listed in byte order.
  destination text COLLATE "C" PRIMARY KEY,
  -- The engine's protection state, JSON the store does not interpret.
  state text NOT NULL,
  -- {"rateLimitPerSecond"?: number, "maxConcurrency"?: number}
  limits text NOT NULL,
  -- Optimistic concurrency: every save is conditional on the version it read.
  version integer NOT NULL,
  updated_at bigint NOT NULL
);

-- Set by deferCall (a call held without an attempt): the wait code and the destination holding it.
ALTER TABLE calls ADD COLUMN wait_code text;
ALTER TABLE calls ADD COLUMN wait_destination text;

-- Waking the calls a destination holds when it recovers or is reset.
CREATE INDEX calls_held ON calls (wait_destination)
  WHERE status = 'waiting' AND wait_destination IS NOT NULL;
