-- Consent bound to the browser that started it (browser.md §1), flow outcomes, and per-actor
-- rate limits of the runtime plane.

-- Pending consents now belong to a flow: `connect` stores the SHA-256 of a one-time start
-- token (5 minutes); the start route consumes it and stores the SHA-256 of the browser's
-- binding cookie and the origin of the page that started the flow (the popup's opener).
-- Flows stored before this migration cannot be bound: they are dropped.
DELETE FROM pending_consents;
ALTER TABLE pending_consents ADD COLUMN flow_id TEXT;
ALTER TABLE pending_consents ADD COLUMN start_hash TEXT;
ALTER TABLE pending_consents ADD COLUMN start_expires_at INTEGER;
ALTER TABLE pending_consents ADD COLUMN binding_hash TEXT;
ALTER TABLE pending_consents ADD COLUMN opener_origin TEXT;
CREATE UNIQUE INDEX pending_consents_flow ON pending_consents (flow_id);
CREATE INDEX pending_consents_actor_server ON pending_consents (actor_id, server_id);

-- What the starter's client reads (GET /service/mcp/consent/flows/{flow_id}): `pending` until
-- the callback, then `connected` or `error` (with the page's code and message) for 1 hour.
CREATE TABLE consent_flows (
  flow_id       TEXT PRIMARY KEY,
  actor_id      TEXT NOT NULL,
  server_id     TEXT NOT NULL,
  status        TEXT NOT NULL CHECK (status IN ('pending', 'connected', 'error')),
  error_code    TEXT,
  error_message TEXT,
  expires_at    INTEGER NOT NULL
);
CREATE INDEX consent_flows_expiry ON consent_flows (expires_at);
CREATE INDEX consent_flows_actor_server ON consent_flows (actor_id, server_id);

-- Fixed one-minute windows per bucket ("connect:<sha256 of actor>", "discover:..."):
-- the count of calls in the window that starts at `window_start` (unix seconds).
CREATE TABLE rate_limits (
  bucket       TEXT PRIMARY KEY,
  window_start INTEGER NOT NULL,
  count        INTEGER NOT NULL
);
CREATE INDEX rate_limits_window ON rate_limits (window_start);
