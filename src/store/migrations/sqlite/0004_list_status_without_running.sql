-- Listing by status no longer indexes running calls. Every call passes through `running` once per
-- attempt, and each pass moved its entry in calls_list_status twice (on claim and on commit); that
-- was a quarter of the CPU of a claim and its commit. Running calls are listed through
-- calls_lease instead: there are only as many as the fleet has attempts in flight.
DROP INDEX calls_list_status;

CREATE INDEX calls_list_status ON calls (tenant_id, kind, status, id) WHERE status <> 'running';
