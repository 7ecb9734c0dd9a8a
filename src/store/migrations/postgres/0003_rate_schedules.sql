-- Fleet-wide rate limits (issue 4): each rate-limited destination's schedule of send slots, shared
-- by every process on the database. Processes reserve spans of it (Store.reserveRate).

CREATE TABLE rate_schedules (
  -- The origin, as in destinations.
  destination text COLLATE "C" PRIMARY KEY,
  -- Theoretical arrival time, epoch ms: the end of the slots reserved so far.
  tat double precision NOT NULL
);
