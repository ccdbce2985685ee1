//! The D1 queries. Every statement is parameterised; secret-bearing columns hold sealed
//! values only (the callers seal and open).

pub mod flows;
pub mod platform;
pub mod protocol;

use serde::Deserialize;
use wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement, Result};

#[derive(Debug, Clone, Deserialize)]
pub struct ServerRow {
    pub id: String,
    pub name: String,
    pub config_public: String,
    pub config_sealed: String,
    pub provider: String,
    pub created_at: String,
    pub updated_at: String,
    /// Bumped by every config write (migration 0005; see `crate::consent::config_match`).
    #[serde(default)]
    pub config_version: f64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ConnectionRow {
    pub server_id: String,
    pub actor_id: String,
    pub status: String,
    pub tokens_sealed: String,
    pub expires_at: Option<f64>,
    pub connected_at: String,
    pub version: f64,
    /// The server's config version this connection was made under (migration 0005).
    #[serde(default)]
    pub config_version: f64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ClientTokenRow {
    pub tokens_sealed: String,
}

fn s(v: &str) -> JsValue {
    JsValue::from_str(v)
}

fn n(v: u64) -> JsValue {
    JsValue::from_f64(v as f64)
}

fn opt_n(v: Option<u64>) -> JsValue {
    v.map(n).unwrap_or(JsValue::NULL)
}

fn stmt(db: &D1Database, sql: &str, args: &[JsValue]) -> Result<D1PreparedStatement> {
    db.prepare(sql).bind(args)
}

async fn changes(statement: D1PreparedStatement) -> Result<usize> {
    let result = statement.run().await?;
    Ok(result.meta()?.and_then(|m| m.changes).unwrap_or(0))
}

const SERVER_COLUMNS: &str =
    "id, name, config_public, config_sealed, provider, created_at, updated_at, config_version";

pub async fn insert_server(db: &D1Database, row: &ServerRow) -> Result<()> {
    stmt(
        db,
        "INSERT INTO servers (id, name, config_public, config_sealed, provider, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        &[s(&row.id), s(&row.name), s(&row.config_public), s(&row.config_sealed), s(&row.provider), s(&row.created_at), s(&row.updated_at)],
    )?
    .run()
    .await?;
    Ok(())
}

/// A rename: the name only (no config write, the config version stays).
pub async fn rename_server(db: &D1Database, row: &ServerRow) -> Result<()> {
    stmt(
        db,
        "UPDATE servers SET name = ?2, updated_at = ?3 WHERE id = ?1",
        &[s(&row.id), s(&row.name), s(&row.updated_at)],
    )?
    .run()
    .await?;
    Ok(())
}

/// Rewrites a server's config at its current version, when what changed is how the same
/// client authenticates (the token endpoint auth method learned from the provider): flows and
/// connections belong to this client still, so none is ended or moved.
pub async fn record_client_method(db: &D1Database, row: &ServerRow) -> Result<()> {
    stmt(
        db,
        "UPDATE servers SET config_public = ?2, config_sealed = ?3, updated_at = ?4 \
         WHERE id = ?1 AND config_version = ?5",
        &[
            s(&row.id),
            s(&row.config_public),
            s(&row.config_sealed),
            s(&row.updated_at),
            n(row.config_version as u64),
        ],
    )?
    .run()
    .await?;
    Ok(())
}

/// Replaces a server's config if it is still at the config version `row` was read at, and
/// moves it to the next version. `false` (nothing written) when another write came first.
/// Then, in one batch: the connections made under the old version are dropped (`drop`:
/// they belong to the old client or endpoint) or moved to the new version; pending consents
/// stay (the callback refuses them by version, and says so) but their flows end as
/// `server_changed` at once.
pub async fn update_server(db: &D1Database, row: &ServerRow, drop: bool) -> Result<bool> {
    let old = row.config_version as u64;
    let new = old + 1;
    // One batch (a transaction): a reader never sees the new config beside connections of
    // the old one. If another write came first, the first statement changes nothing and the
    // others find nothing at `old` (that write moved or dropped it).
    let mut batch = vec![stmt(
        db,
        "UPDATE servers SET name = ?2, config_public = ?3, config_sealed = ?4, provider = ?5, updated_at = ?6, \
         config_version = ?8 WHERE id = ?1 AND config_version = ?7",
        &[s(&row.id), s(&row.name), s(&row.config_public), s(&row.config_sealed), s(&row.provider), s(&row.updated_at), n(old), n(new)],
    )?];
    if drop {
        batch.push(stmt(
            db,
            "DELETE FROM connections WHERE server_id = ?1 AND config_version <= ?2",
            &[s(&row.id), n(old)],
        )?);
        batch.push(stmt(
            db,
            "DELETE FROM client_tokens WHERE server_id = ?1 AND EXISTS (SELECT 1 FROM servers WHERE id = ?1 AND config_version = ?2)",
            &[s(&row.id), n(new)],
        )?);
    } else {
        batch.push(stmt(
            db,
            "UPDATE connections SET config_version = ?3 WHERE server_id = ?1 AND config_version = ?2",
            &[s(&row.id), n(old), n(new)],
        )?);
    }
    batch.push(flows::end_server_flows(db, &row.id)?);
    let results = db.batch(batch).await?;
    let written = results
        .first()
        .and_then(|r| r.meta().ok().flatten())
        .and_then(|m| m.changes)
        .unwrap_or(0);
    Ok(written == 1)
}

pub async fn get_server(db: &D1Database, id: &str) -> Result<Option<ServerRow>> {
    stmt(
        db,
        &format!("SELECT {SERVER_COLUMNS} FROM servers WHERE id = ?1"),
        &[s(id)],
    )?
    .first(None)
    .await
}

pub async fn list_servers(db: &D1Database, limit: u32, offset: u32) -> Result<Vec<ServerRow>> {
    stmt(
        db,
        &format!("SELECT {SERVER_COLUMNS} FROM servers ORDER BY created_at, id LIMIT ?1 OFFSET ?2"),
        &[n(limit as u64), n(offset as u64)],
    )?
    .all()
    .await?
    .results()
}

/// Deletes a server with its attachments, pending consents, connections and cached tokens,
/// in one batch (a D1 batch is a transaction).
pub async fn delete_server(db: &D1Database, id: &str) -> Result<bool> {
    let mut batch = Vec::new();
    for table in [
        "agent_servers",
        "pending_consents",
        "connections",
        "client_tokens",
    ] {
        batch.push(stmt(
            db,
            &format!("DELETE FROM {table} WHERE server_id = ?1"),
            &[s(id)],
        )?);
    }
    batch.push(flows::end_server_flows(db, id)?);
    batch.push(stmt(db, "DELETE FROM servers WHERE id = ?1", &[s(id)])?);
    let results = db.batch(batch).await?;
    let deleted = results
        .last()
        .and_then(|r| r.meta().ok().flatten())
        .and_then(|m| m.changes)
        .unwrap_or(0);
    Ok(deleted > 0)
}

pub async fn attach(db: &D1Database, agent_id: &str, server_id: &str, now: &str) -> Result<()> {
    stmt(
        db,
        "INSERT INTO agent_servers (agent_id, server_id, created_at) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
        &[s(agent_id), s(server_id), s(now)],
    )?
    .run()
    .await?;
    Ok(())
}

pub async fn detach(db: &D1Database, agent_id: &str, server_id: &str) -> Result<()> {
    stmt(
        db,
        "DELETE FROM agent_servers WHERE agent_id = ?1 AND server_id = ?2",
        &[s(agent_id), s(server_id)],
    )?
    .run()
    .await?;
    Ok(())
}

pub async fn agent_servers(db: &D1Database, agent_id: &str) -> Result<Vec<ServerRow>> {
    stmt(
        db,
        "SELECT s.id, s.name, s.config_public, s.config_sealed, s.provider, s.created_at, s.updated_at, s.config_version \
         FROM servers s JOIN agent_servers a ON a.server_id = s.id WHERE a.agent_id = ?1 ORDER BY a.created_at, s.id",
        &[s(agent_id)],
    )?
    .all()
    .await?
    .results()
}

pub async fn is_attached(db: &D1Database, agent_id: &str, server_id: &str) -> Result<bool> {
    let row: Option<serde_json::Value> = stmt(
        db,
        "SELECT 1 AS x FROM agent_servers WHERE agent_id = ?1 AND server_id = ?2",
        &[s(agent_id), s(server_id)],
    )?
    .first(None)
    .await?;
    Ok(row.is_some())
}

const CONNECTION_COLUMNS: &str =
    "server_id, actor_id, status, tokens_sealed, expires_at, connected_at, version, config_version";

pub async fn get_connection(
    db: &D1Database,
    server_id: &str,
    actor_id: &str,
) -> Result<Option<ConnectionRow>> {
    stmt(
        db,
        &format!(
            "SELECT {CONNECTION_COLUMNS} FROM connections WHERE server_id = ?1 AND actor_id = ?2"
        ),
        &[s(server_id), s(actor_id)],
    )?
    .first(None)
    .await
}

pub async fn actor_connections(db: &D1Database, actor_id: &str) -> Result<Vec<ConnectionRow>> {
    stmt(
        db,
        &format!("SELECT {CONNECTION_COLUMNS} FROM connections WHERE actor_id = ?1"),
        &[s(actor_id)],
    )?
    .all()
    .await?
    .results()
}

/// Stores a new connection (or replaces the actor's old one) after a consent, made under
/// config version `config_version`, only if the server is still at that version. `false`
/// (nothing stored) when its config changed meanwhile.
pub async fn put_connection(
    db: &D1Database,
    server_id: &str,
    actor_id: &str,
    tokens_sealed: &str,
    expires_at: Option<u64>,
    now: &str,
    config_version: u64,
) -> Result<bool> {
    let stored = changes(stmt(
        db,
        "INSERT INTO connections (server_id, actor_id, status, tokens_sealed, expires_at, connected_at, version, config_version) \
         SELECT ?1, ?2, 'connected', ?3, ?4, ?5, 1, ?6 WHERE EXISTS (SELECT 1 FROM servers WHERE id = ?1 AND config_version = ?6) \
         ON CONFLICT (server_id, actor_id) DO UPDATE SET status = 'connected', tokens_sealed = excluded.tokens_sealed, \
         expires_at = excluded.expires_at, connected_at = excluded.connected_at, version = connections.version + 1, \
         refresh_until = NULL, config_version = excluded.config_version",
        &[s(server_id), s(actor_id), s(tokens_sealed), opt_n(expires_at), s(now), n(config_version)],
    )?)
    .await?;
    Ok(stored > 0)
}

pub async fn delete_connection(db: &D1Database, server_id: &str, actor_id: &str) -> Result<()> {
    stmt(
        db,
        "DELETE FROM connections WHERE server_id = ?1 AND actor_id = ?2",
        &[s(server_id), s(actor_id)],
    )?
    .run()
    .await?;
    Ok(())
}

/// Takes the refresh lease of a connection at `version`, unless another caller holds a live
/// one. True when this caller is the one to refresh.
pub async fn lease_refresh(
    db: &D1Database,
    c: &ConnectionRow,
    now: u64,
    until: u64,
) -> Result<bool> {
    let n_changed = changes(stmt(
        db,
        "UPDATE connections SET refresh_until = ?4 WHERE server_id = ?1 AND actor_id = ?2 AND version = ?3 \
         AND status = 'connected' AND (refresh_until IS NULL OR refresh_until < ?5)",
        &[s(&c.server_id), s(&c.actor_id), n(c.version as u64), n(until), n(now)],
    )?)
    .await?;
    Ok(n_changed == 1)
}

/// Stores refreshed tokens if the connection is still at `version` (compare-and-swap).
pub async fn finish_refresh(
    db: &D1Database,
    c: &ConnectionRow,
    tokens_sealed: &str,
    expires_at: Option<u64>,
) -> Result<bool> {
    let n_changed = changes(stmt(
        db,
        "UPDATE connections SET tokens_sealed = ?4, expires_at = ?5, version = version + 1, refresh_until = NULL \
         WHERE server_id = ?1 AND actor_id = ?2 AND version = ?3",
        &[s(&c.server_id), s(&c.actor_id), n(c.version as u64), s(tokens_sealed), opt_n(expires_at)],
    )?)
    .await?;
    Ok(n_changed == 1)
}

/// Marks a connection expired (its refresh token was refused), if still at `version`.
pub async fn mark_expired(db: &D1Database, c: &ConnectionRow) -> Result<()> {
    stmt(
        db,
        "UPDATE connections SET status = 'expired', version = version + 1, refresh_until = NULL \
         WHERE server_id = ?1 AND actor_id = ?2 AND version = ?3",
        &[s(&c.server_id), s(&c.actor_id), n(c.version as u64)],
    )?
    .run()
    .await?;
    Ok(())
}

/// Releases a refresh lease after a failure that is not the refresh token's fault.
pub async fn release_lease(db: &D1Database, c: &ConnectionRow) -> Result<()> {
    stmt(
        db,
        "UPDATE connections SET refresh_until = NULL WHERE server_id = ?1 AND actor_id = ?2 AND version = ?3",
        &[s(&c.server_id), s(&c.actor_id), n(c.version as u64)],
    )?
    .run()
    .await?;
    Ok(())
}

pub async fn get_client_token(db: &D1Database, server_id: &str) -> Result<Option<ClientTokenRow>> {
    stmt(
        db,
        "SELECT tokens_sealed FROM client_tokens WHERE server_id = ?1",
        &[s(server_id)],
    )?
    .first(None)
    .await
}

pub async fn put_client_token(
    db: &D1Database,
    server_id: &str,
    tokens_sealed: &str,
    expires_at: Option<u64>,
) -> Result<()> {
    stmt(
        db,
        "INSERT INTO client_tokens (server_id, tokens_sealed, expires_at) VALUES (?1, ?2, ?3) \
         ON CONFLICT (server_id) DO UPDATE SET tokens_sealed = excluded.tokens_sealed, expires_at = excluded.expires_at",
        &[s(server_id), s(tokens_sealed), opt_n(expires_at)],
    )?
    .run()
    .await?;
    Ok(())
}
