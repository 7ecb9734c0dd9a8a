-- Retention (issue 14): ended calls and runs are deleted once older than the retention period
-- (STEADFAST_RETENTION), in small batches, oldest end first. Each batch walks an index of ended
-- work by end time and stops after its limit. Steps, step attempts, values and attempts go by
-- their foreign keys (ON DELETE CASCADE, through their primary keys).
--
-- Building these indexes reads every call and run once (and holds off writes to them meanwhile):
-- on a large database, run `steadfast migrate` before starting the new version.

-- Ended user calls by end time. Partial: a live call (completed_at NULL) has no entry, so creating
-- a call writes none, and callbacks (deleted with their call) have none either. A redrive clears
-- completed_at, which takes the call out again.
CREATE INDEX calls_ended ON calls (completed_at) WHERE kind = 'call' AND completed_at IS NOT NULL;

-- Ended runs by end time (a live run's ended_at is NULL).
CREATE INDEX runs_ended ON runs (ended_at) WHERE ended_at IS NOT NULL;
