-- Events (issue 11): what tenants send (POST /v1/events, sendEvent) for the workflow steps that
-- wait for them (step.waitForEvent). An event id is unique per tenant: a sender resending an event
-- with its id (a retry) does not record it twice. A waiting step reads the events of its name
-- since its run's creation (events_by_name); retention deletes the oldest (events_received).
-- No foreign key to tenants: the sender is an authenticated tenant, and events are purged by age
-- alone. A rowid table (not WITHOUT ROWID): an event's data may be large.

CREATE TABLE events (
  tenant_id TEXT NOT NULL,
  -- The sender's id (deduplicating), or one given at arrival.
  id TEXT NOT NULL,
  name TEXT NOT NULL,
  -- The event's data, encoded by the value codec; opaque to the store.
  data TEXT NOT NULL,
  -- When it arrived, epoch ms.
  received_at INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, id)
) STRICT;

CREATE INDEX events_by_name ON events (tenant_id, name, received_at, id);
CREATE INDEX events_received ON events (received_at);
