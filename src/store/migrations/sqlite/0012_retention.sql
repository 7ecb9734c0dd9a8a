-- Retention (issue 14): ended calls and runs are deleted once older than the retention period
-- (STEADFAST_RETENTION), in small batches, oldest end first. Each batch walks an index of ended
-- work by end time and stops after its limit.

-- Ended user calls by end time. Partial: a live call (completed_at NULL) has no entry, so creating
-- a call writes none, and callbacks (deleted with their call) have none either. A redrive clears
-- completed_at, which takes the call out again.
CREATE INDEX calls_ended ON calls (completed_at) WHERE kind = 'call' AND completed_at IS NOT NULL;

-- Ended runs by end time (a live run's ended_at is NULL).
CREATE INDEX runs_ended ON runs (ended_at) WHERE ended_at IS NOT NULL;

-- A purged run's out-of-line values, found by their run.
CREATE INDEX run_values_run ON run_values (run_uid);

-- Deleting a run_values row makes SQLite check that no row still refers to it (foreign keys):
-- without these, each check would read all of runs and run_steps. Partial: only the few rows
-- whose value is out of line have an entry.
CREATE INDEX runs_input_ref ON runs (input_ref) WHERE input_ref IS NOT NULL;
CREATE INDEX runs_output_ref ON runs (output_ref) WHERE output_ref IS NOT NULL;
CREATE INDEX run_steps_output_ref ON run_steps (output_ref) WHERE output_ref IS NOT NULL;
CREATE INDEX run_steps_wait_ref ON run_steps (wait_ref) WHERE wait_ref IS NOT NULL;
