-- Events (issue 11): what tenants send (POST /v1/events, sendEvent) for the workflow steps that
-- wait for them (step.waitForEvent). An event id is unique per tenant: a sender resending an event
-- with its id (a retry) does not record it twice. A waiting step reads the events of its name
-- since its run's creation (events_by_name); retention deletes the oldest (events_received).
-- No foreign key to tenants: the sender is an authenticated tenant, and events are purged by age
-- alone.

CREATE TABLE events (
  tenant_id text COLLATE "C" NOT NULL,
  -- The sender's id (deduplicating), or one given at arrival.
  id text COLLATE "C" NOT NULL,
  name text COLLATE "C" NOT NULL,
  -- The event's data, encoded by the value codec; opaque to the store.
  data text NOT NULL,
  -- When it arrived, epoch ms.
  received_at bigint NOT NULL,
  PRIMARY KEY (tenant_id, id)
);

CREATE INDEX events_by_name ON events (tenant_id, name, received_at, id);
CREATE INDEX events_received ON events (received_at);
