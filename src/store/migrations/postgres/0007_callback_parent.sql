-- Finding a call's callback delivery (`getCallbackDelivery`): `GET /v1/calls/:id` shows it for
-- every call with a callback URL. Partial, so user calls (no parent) cost no index write.
CREATE INDEX calls_parent ON calls (parent_id, id) WHERE parent_id IS NOT NULL;
