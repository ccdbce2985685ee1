-- Runtime challenges and step-up (discovery.md §9).

-- A connection that needs consent for more scopes: the union of the granted and the challenged
-- scopes (space-separated), which the next connect asks for exactly. Deleted when a consent
-- for that server and actor completes. (A table of its own rather than a new status value:
-- `connections.status` is CHECK-constrained, and a step-up may precede any connection.)
CREATE TABLE step_ups (
  server_id       TEXT NOT NULL REFERENCES servers (id) ON DELETE CASCADE,
  actor_id        TEXT NOT NULL,
  required_scopes TEXT NOT NULL,
  updated_at      INTEGER NOT NULL,
  PRIMARY KEY (server_id, actor_id)
);

-- Each step-up asked for, to allow at most 3 per connection per hour (older rows are swept
-- when a new one is written).
CREATE TABLE step_up_log (
  server_id  TEXT NOT NULL REFERENCES servers (id) ON DELETE CASCADE,
  actor_id   TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX step_up_log_key ON step_up_log (server_id, actor_id, created_at);
