-- Config versions (issue 9 item 4): a server's `config_version` is bumped by every write of
-- its config (PATCH with `config`; a rename is no config write). A pending consent records
-- the version it was started under (in its sealed record), a connection the version it was
-- made under (here). The callback exchanges a code, and a refresh or revocation sends a
-- token, only when the server is still at that version: one provider's code, verifier or
-- refresh token never reaches another provider's endpoints. A PATCH that keeps connections
-- moves them to the new version; one that drops them deletes them.
ALTER TABLE servers ADD COLUMN config_version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE connections ADD COLUMN config_version INTEGER NOT NULL DEFAULT 1;
