//! The D1 statements of the platform routes (migration 0003): connections by id, idempotency
//! claims, events and their webhook delivery state. Parameterised like the rest of `store`.

use serde::Deserialize;
use wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement, Result};

fn s(v: &str) -> JsValue {
    JsValue::from_str(v)
}

fn n(v: u64) -> JsValue {
    JsValue::from_f64(v as f64)
}

fn opt_s(v: Option<&str>) -> JsValue {
    v.map(s).unwrap_or(JsValue::NULL)
}

fn stmt(db: &D1Database, sql: &str, args: &[JsValue]) -> Result<D1PreparedStatement> {
    db.prepare(sql).bind(args)
}

async fn changes(statement: D1PreparedStatement) -> Result<usize> {
    let result = statement.run().await?;
    Ok(result.meta()?.and_then(|m| m.changes).unwrap_or(0))
}

// ---- connections ----------------------------------------------------------------------

/// A connection as the control plane lists it (tokens still sealed).
#[derive(Debug, Clone, Deserialize)]
pub struct ConnectionListRow {
    pub pos: f64,
    pub id: Option<String>,
    pub server_id: String,
    pub actor_id: String,
    pub status: String,
    pub tokens_sealed: String,
    pub expires_at: Option<f64>,
    pub connected_at: String,
    pub last_error: Option<String>,
    /// The server's config version the connection was made under (migration 0005).
    #[serde(default)]
    pub config_version: f64,
}

const LIST_COLUMNS: &str = "rowid AS pos, id, server_id, actor_id, status, tokens_sealed, expires_at, connected_at, last_error, config_version";

/// Filters of `GET /ai/connections`.
#[derive(Debug, Default)]
pub struct ConnectionFilter {
    pub actor_id: Option<String>,
    pub server_id: Option<String>,
    pub status: Option<String>,
}

/// Connections after position `after` (the rowid, stable for a connection's life), in
/// insertion order, at most `limit`.
pub async fn list_connections(
    db: &D1Database,
    f: &ConnectionFilter,
    after: u64,
    limit: u32,
) -> Result<Vec<ConnectionListRow>> {
    stmt(
        db,
        &format!(
            "SELECT {LIST_COLUMNS} FROM connections WHERE rowid > ?1 \
             AND (?2 IS NULL OR actor_id = ?2) AND (?3 IS NULL OR server_id = ?3) AND (?4 IS NULL OR status = ?4) \
             ORDER BY rowid LIMIT ?5"
        ),
        &[
            n(after),
            opt_s(f.actor_id.as_deref()),
            opt_s(f.server_id.as_deref()),
            opt_s(f.status.as_deref()),
            n(limit as u64),
        ],
    )?
    .all()
    .await?
    .results()
}

pub async fn connection_by_id(db: &D1Database, id: &str) -> Result<Option<ConnectionListRow>> {
    stmt(
        db,
        &format!("SELECT {LIST_COLUMNS} FROM connections WHERE id = ?1"),
        &[s(id)],
    )?
    .first(None)
    .await
}

pub async fn connection_of(
    db: &D1Database,
    server_id: &str,
    actor_id: &str,
) -> Result<Option<ConnectionListRow>> {
    stmt(
        db,
        &format!("SELECT {LIST_COLUMNS} FROM connections WHERE server_id = ?1 AND actor_id = ?2"),
        &[s(server_id), s(actor_id)],
    )?
    .first(None)
    .await
}

pub async fn connections_of_actor(
    db: &D1Database,
    actor_id: &str,
) -> Result<Vec<ConnectionListRow>> {
    stmt(
        db,
        &format!("SELECT {LIST_COLUMNS} FROM connections WHERE actor_id = ?1 ORDER BY rowid"),
        &[s(actor_id)],
    )?
    .all()
    .await?
    .results()
}

pub async fn connections_of_server(
    db: &D1Database,
    server_id: &str,
) -> Result<Vec<ConnectionListRow>> {
    stmt(
        db,
        &format!("SELECT {LIST_COLUMNS} FROM connections WHERE server_id = ?1 ORDER BY rowid"),
        &[s(server_id)],
    )?
    .all()
    .await?
    .results()
}

/// Deletes one connection by id if its tokens are still `tokens_sealed` (a reconnect in the
/// meantime keeps its new tokens). True when a row was deleted.
pub async fn delete_connection_if(db: &D1Database, id: &str, tokens_sealed: &str) -> Result<bool> {
    Ok(changes(stmt(
        db,
        "DELETE FROM connections WHERE id = ?1 AND tokens_sealed = ?2",
        &[s(id), s(tokens_sealed)],
    )?)
    .await?
        == 1)
}

/// Records why the last refresh failed (`NULL` clears it).
pub async fn set_last_error(
    db: &D1Database,
    server_id: &str,
    actor_id: &str,
    code: Option<&str>,
) -> Result<()> {
    stmt(
        db,
        "UPDATE connections SET last_error = ?3 WHERE server_id = ?1 AND actor_id = ?2",
        &[s(server_id), s(actor_id), opt_s(code)],
    )?
    .run()
    .await?;
    Ok(())
}

/// Deletes the pending consent flows of `server_id` started through `agent_id` (detach).
/// Flows record their agent inside the sealed record only, so the caller passes the state
/// hashes it found by opening them.
pub async fn delete_pending(db: &D1Database, state_hashes: &[String]) -> Result<()> {
    if state_hashes.is_empty() {
        return Ok(());
    }
    let mut batch = Vec::new();
    for h in state_hashes {
        batch.push(stmt(
            db,
            "DELETE FROM pending_consents WHERE state_hash = ?1",
            &[s(h)],
        )?);
    }
    db.batch(batch).await?;
    Ok(())
}

#[derive(Debug, Clone, Deserialize)]
pub struct PendingOfServer {
    pub state_hash: String,
    pub sealed: String,
}

pub async fn pending_of_server(db: &D1Database, server_id: &str) -> Result<Vec<PendingOfServer>> {
    stmt(
        db,
        "SELECT state_hash, sealed FROM pending_consents WHERE server_id = ?1",
        &[s(server_id)],
    )?
    .all()
    .await?
    .results()
}

// ---- idempotency ----------------------------------------------------------------------

#[derive(Debug, Clone, Deserialize)]
pub struct IdempotencyRow {
    pub body_hash: String,
    pub status: Option<f64>,
    pub response_sealed: Option<String>,
}

/// Claims `(scope, key)` for a request with `body_hash`, after dropping claims older than
/// 24 hours and unfinished claims older than `stale_before` (a crashed request). True when
/// this request holds the claim and must do the work.
pub async fn claim_key(
    db: &D1Database,
    scope: &str,
    key: &str,
    body_hash: &str,
    now: u64,
    stale_before: u64,
) -> Result<bool> {
    let batch = vec![
        stmt(
            db,
            "DELETE FROM idempotency_keys WHERE created_at < ?1 OR (status IS NULL AND created_at < ?2)",
            &[n(now.saturating_sub(86_400)), n(stale_before)],
        )?,
        stmt(
            db,
            "INSERT INTO idempotency_keys (scope, key, body_hash, created_at) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (scope, key) DO NOTHING",
            &[s(scope), s(key), s(body_hash), n(now)],
        )?,
    ];
    let results = db.batch(batch).await?;
    let inserted = results
        .last()
        .and_then(|r| r.meta().ok().flatten())
        .and_then(|m| m.changes)
        .unwrap_or(0);
    Ok(inserted == 1)
}

pub async fn get_key(db: &D1Database, scope: &str, key: &str) -> Result<Option<IdempotencyRow>> {
    stmt(
        db,
        "SELECT body_hash, status, response_sealed FROM idempotency_keys WHERE scope = ?1 AND key = ?2",
        &[s(scope), s(key)],
    )?
    .first(None)
    .await
}

pub async fn finish_key(
    db: &D1Database,
    scope: &str,
    key: &str,
    status: u16,
    response_sealed: &str,
) -> Result<()> {
    stmt(
        db,
        "UPDATE idempotency_keys SET status = ?3, response_sealed = ?4 WHERE scope = ?1 AND key = ?2",
        &[s(scope), s(key), n(status as u64), s(response_sealed)],
    )?
    .run()
    .await?;
    Ok(())
}

/// Gives a claim up (the request failed: a retry with the same key runs again).
pub async fn release_key(db: &D1Database, scope: &str, key: &str) -> Result<()> {
    stmt(
        db,
        "DELETE FROM idempotency_keys WHERE scope = ?1 AND key = ?2 AND status IS NULL",
        &[s(scope), s(key)],
    )?
    .run()
    .await?;
    Ok(())
}

// ---- events ---------------------------------------------------------------------------

#[derive(Debug, Clone, Deserialize)]
pub struct EventRow {
    pub seq: f64,
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub data: String,
    pub created_at: f64,
    pub delivered_at: Option<f64>,
}

const EVENT_COLUMNS: &str = "seq, id, type, data, created_at, attempts, delivered_at";

/// Stores an event, sweeping the ones older than `keep_after` in the same batch.
pub async fn insert_event(
    db: &D1Database,
    id: &str,
    kind: &str,
    data: &str,
    now: u64,
    keep_after: u64,
) -> Result<()> {
    let batch = vec![
        stmt(
            db,
            "DELETE FROM events WHERE created_at < ?1",
            &[n(keep_after)],
        )?,
        stmt(
            db,
            "INSERT INTO events (id, type, data, created_at) VALUES (?1, ?2, ?3, ?4)",
            &[s(id), s(kind), s(data), n(now)],
        )?,
    ];
    db.batch(batch).await?;
    Ok(())
}

pub async fn events_after(
    db: &D1Database,
    after: u64,
    limit: u32,
    kind: Option<&str>,
) -> Result<Vec<EventRow>> {
    stmt(
        db,
        &format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE seq > ?1 AND (?2 IS NULL OR type = ?2) ORDER BY seq LIMIT ?3"
        ),
        &[n(after), opt_s(kind), n(limit as u64)],
    )?
    .all()
    .await?
    .results()
}

pub async fn event_by_id(db: &D1Database, id: &str) -> Result<Option<EventRow>> {
    stmt(
        db,
        &format!("SELECT {EVENT_COLUMNS} FROM events WHERE id = ?1"),
        &[s(id)],
    )?
    .first(None)
    .await
}

/// Counts one delivery try; `delivered_at` when it succeeded, else the failure (no secret).
pub async fn record_delivery(
    db: &D1Database,
    id: &str,
    delivered_at: Option<u64>,
    failure: Option<&str>,
) -> Result<u64> {
    #[derive(Deserialize)]
    struct Attempts {
        attempts: f64,
    }
    let row: Option<Attempts> = stmt(
        db,
        "UPDATE events SET attempts = attempts + 1, delivered_at = ?2, last_failure = ?3 WHERE id = ?1 RETURNING attempts",
        &[s(id), delivered_at.map(n).unwrap_or(JsValue::NULL), opt_s(failure)],
    )?
    .first(None)
    .await?;
    Ok(row.map(|r| r.attempts as u64).unwrap_or(0))
}
