-- mcp-authlink's state in D1. Secrets are never stored in plain text: every secret-bearing
-- value is AES-256-GCM sealed (seal.rs) with SEAL_KEY and bound to its row by the AAD.

-- Registered MCP servers. `config_public` is the config with secrets removed (what reads
-- return); `config_sealed` is the whole config, secrets included, sealed.
CREATE TABLE servers (
  id            TEXT PRIMARY KEY,
  name          TEXT NOT NULL,
  config_public TEXT NOT NULL,
  config_sealed TEXT NOT NULL,
  provider      TEXT NOT NULL,
  created_at    TEXT NOT NULL,
  updated_at    TEXT NOT NULL
);
CREATE INDEX servers_created ON servers (created_at, id);

-- Which agents may use which servers.
CREATE TABLE agent_servers (
  agent_id   TEXT NOT NULL,
  server_id  TEXT NOT NULL REFERENCES servers (id) ON DELETE CASCADE,
  created_at TEXT NOT NULL,
  PRIMARY KEY (agent_id, server_id)
);
CREATE INDEX agent_servers_server ON agent_servers (server_id);

-- Consent flows under way: keyed by SHA-256 of `state` (the state itself is never stored),
-- single use (deleted by the callback that consumes it), 15 minutes.
CREATE TABLE pending_consents (
  state_hash TEXT PRIMARY KEY,
  server_id  TEXT NOT NULL REFERENCES servers (id) ON DELETE CASCADE,
  actor_id   TEXT NOT NULL,
  sealed     TEXT NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX pending_consents_expiry ON pending_consents (expires_at);

-- An actor's connection to a server: the token set, sealed. `version` is bumped by every
-- write, so a refresh is a compare-and-swap; `refresh_until` is the lease of the one caller
-- refreshing at a time.
CREATE TABLE connections (
  server_id     TEXT NOT NULL REFERENCES servers (id) ON DELETE CASCADE,
  actor_id      TEXT NOT NULL,
  status        TEXT NOT NULL CHECK (status IN ('connected', 'expired')),
  tokens_sealed TEXT NOT NULL,
  expires_at    INTEGER,
  connected_at  TEXT NOT NULL,
  version       INTEGER NOT NULL DEFAULT 1,
  refresh_until INTEGER,
  PRIMARY KEY (server_id, actor_id)
);

-- Client-credentials tokens, cached per server until they expire.
CREATE TABLE client_tokens (
  server_id     TEXT PRIMARY KEY REFERENCES servers (id) ON DELETE CASCADE,
  tokens_sealed TEXT NOT NULL,
  expires_at    INTEGER
);
