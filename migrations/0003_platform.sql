-- Platform features (issue 8): connections as a resource, idempotent creates, events.

-- A stable id per connection (the control plane's /ai/connections/{id}). Rows inserted by
-- any statement get one from the trigger; a reconnect (ON CONFLICT DO UPDATE) keeps it.
-- `last_error` is the code of the last refresh failure, NULL while healthy.
ALTER TABLE connections ADD COLUMN id TEXT;
ALTER TABLE connections ADD COLUMN last_error TEXT;
UPDATE connections SET id = 'conn-' || lower(hex(randomblob(12))) WHERE id IS NULL;
CREATE UNIQUE INDEX connections_id ON connections (id);
CREATE INDEX connections_actor ON connections (actor_id);
CREATE TRIGGER connections_new_id AFTER INSERT ON connections WHEN NEW.id IS NULL BEGIN UPDATE connections SET id = 'conn-' || lower(hex(randomblob(12))) WHERE rowid = NEW.rowid; END;

-- Idempotency-Key claims for POST /ai/mcp-servers and POST /ai/session-tickets: claimed
-- (status NULL) before the work starts, then the response, sealed (a ticket is a secret).
-- Kept 24 hours.
CREATE TABLE idempotency_keys (
  scope           TEXT NOT NULL,
  key             TEXT NOT NULL,
  body_hash       TEXT NOT NULL,
  status          INTEGER,
  response_sealed TEXT,
  created_at      INTEGER NOT NULL,
  PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

-- Connection and server events (GET /ai/events), kept 30 days; the webhook's delivery state.
CREATE TABLE events (
  seq          INTEGER PRIMARY KEY AUTOINCREMENT,
  id           TEXT NOT NULL UNIQUE,
  type         TEXT NOT NULL,
  data         TEXT NOT NULL,
  created_at   INTEGER NOT NULL,
  attempts     INTEGER NOT NULL DEFAULT 0,
  delivered_at INTEGER,
  last_failure TEXT
);
CREATE INDEX events_created ON events (created_at);
