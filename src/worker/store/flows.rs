//! The consent flows' statements (migrations/0002_consent_binding.sql): pending consents with
//! their start token and browser binding, flow outcomes, and the per-actor rate counters.

use serde::Deserialize;
use worker::{D1Database, Result};

use super::{n, s, stmt};

/// A pending consent: the sealed [`PendingConsent`](crate::consent::PendingConsent) and the
/// columns the start route and the callback need before opening it.
#[derive(Debug, Clone, Deserialize)]
pub struct PendingRow {
    pub state_hash: String,
    pub server_id: String,
    pub actor_id: String,
    pub sealed: String,
    pub expires_at: f64,
    pub flow_id: Option<String>,
    pub binding_hash: Option<String>,
    pub opener_origin: Option<String>,
}

/// A flow's row for the status route.
#[derive(Debug, Clone, Deserialize)]
pub struct FlowRow {
    pub flow_id: String,
    pub actor_id: String,
    pub server_id: String,
    pub status: String,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub expires_at: f64,
}

/// What `connect` stores.
pub struct NewFlow<'a> {
    pub flow_id: &'a str,
    pub state_hash: &'a str,
    pub start_hash: &'a str,
    pub server_id: &'a str,
    pub actor_id: &'a str,
    pub sealed: &'a str,
    pub start_expires_at: u64,
    pub expires_at: u64,
}

const PENDING_COLUMNS: &str =
    "state_hash, server_id, actor_id, sealed, expires_at, flow_id, binding_hash, opener_origin";

/// Stores a new flow in one batch: sweeps what expired before `now`, ends the actor's earlier
/// pending flow for the same server (its outcome becomes `consent_replaced`; one pending
/// consent per actor and server), then inserts the pending consent and its flow row.
pub async fn put_flow(
    db: &D1Database,
    f: &NewFlow<'_>,
    now: u64,
    outcome_until: u64,
) -> Result<()> {
    let batch = vec![
        stmt(db, "DELETE FROM pending_consents WHERE expires_at < ?1", &[n(now)])?,
        stmt(db, "DELETE FROM consent_flows WHERE expires_at < ?1", &[n(now)])?,
        stmt(
            db,
            "UPDATE consent_flows SET status = 'error', error_code = 'consent_replaced', \
             error_message = 'A newer connect for this server replaced this consent.', expires_at = ?3 \
             WHERE actor_id = ?1 AND server_id = ?2 AND status = 'pending'",
            &[s(f.actor_id), s(f.server_id), n(outcome_until)],
        )?,
        stmt(
            db,
            "DELETE FROM pending_consents WHERE actor_id = ?1 AND server_id = ?2",
            &[s(f.actor_id), s(f.server_id)],
        )?,
        stmt(
            db,
            "INSERT INTO pending_consents (state_hash, server_id, actor_id, sealed, expires_at, flow_id, start_hash, start_expires_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            &[s(f.state_hash), s(f.server_id), s(f.actor_id), s(f.sealed), n(f.expires_at), s(f.flow_id), s(f.start_hash), n(f.start_expires_at)],
        )?,
        stmt(
            db,
            "INSERT INTO consent_flows (flow_id, actor_id, server_id, status, expires_at) VALUES (?1, ?2, ?3, 'pending', ?4)",
            &[s(f.flow_id), s(f.actor_id), s(f.server_id), n(f.expires_at)],
        )?,
    ];
    db.batch(batch).await?;
    Ok(())
}

/// The start route: consumes the start token of `flow_id` atomically (it must be unused and
/// unexpired) and records the browser binding and the opener's origin. `None` when the token
/// is unknown, used or expired.
pub async fn start_flow(
    db: &D1Database,
    flow_id: &str,
    start_hash: &str,
    binding_hash: &str,
    origin: &str,
    now: u64,
) -> Result<Option<PendingRow>> {
    stmt(
        db,
        &format!(
            "UPDATE pending_consents SET start_hash = NULL, binding_hash = ?3, opener_origin = ?4 \
             WHERE flow_id = ?1 AND start_hash = ?2 AND start_expires_at > ?5 AND expires_at > ?5 \
             RETURNING {PENDING_COLUMNS}"
        ),
        &[
            s(flow_id),
            s(start_hash),
            s(binding_hash),
            s(origin),
            n(now),
        ],
    )?
    .first(None)
    .await
}

/// Consumes a pending consent atomically: of two concurrent callers with one state, exactly
/// one gets the row.
pub async fn take_pending(db: &D1Database, state_hash: &str) -> Result<Option<PendingRow>> {
    stmt(
        db,
        &format!("DELETE FROM pending_consents WHERE state_hash = ?1 RETURNING {PENDING_COLUMNS}"),
        &[s(state_hash)],
    )?
    .first(None)
    .await
}

/// Records a flow's outcome (after its pending consent was consumed), readable until `until`.
pub async fn finish_flow(
    db: &D1Database,
    flow_id: &str,
    error: Option<(&str, &str)>,
    until: u64,
) -> Result<()> {
    let (status, code, message) = match error {
        None => ("connected", None, None),
        Some((c, m)) => ("error", Some(c), Some(m)),
    };
    let opt = |v: Option<&str>| v.map(s).unwrap_or(wasm_bindgen::JsValue::NULL);
    stmt(
        db,
        "UPDATE consent_flows SET status = ?2, error_code = ?3, error_message = ?4, expires_at = ?5 WHERE flow_id = ?1",
        &[s(flow_id), s(status), opt(code), opt(message), n(until)],
    )?
    .run()
    .await?;
    Ok(())
}

pub async fn get_flow(db: &D1Database, flow_id: &str) -> Result<Option<FlowRow>> {
    stmt(
        db,
        "SELECT flow_id, actor_id, server_id, status, error_code, error_message, expires_at FROM consent_flows WHERE flow_id = ?1",
        &[s(flow_id)],
    )?
    .first(None)
    .await
}

#[derive(Debug, Deserialize)]
struct Count {
    count: f64,
}

/// Counts one call in `bucket`'s fixed window starting at `window_start` and returns the
/// calls counted in that window so far (this one included). One statement, so concurrent
/// callers never lose a count; old windows are swept in the same batch.
pub async fn hit_rate(db: &D1Database, bucket: &str, window_start: u64) -> Result<u64> {
    let batch = vec![
        stmt(
            db,
            "DELETE FROM rate_limits WHERE window_start < ?1",
            &[n(window_start.saturating_sub(3600))],
        )?,
        stmt(
            db,
            "INSERT INTO rate_limits (bucket, window_start, count) VALUES (?1, ?2, 1) \
             ON CONFLICT (bucket) DO UPDATE SET \
             count = CASE WHEN rate_limits.window_start = excluded.window_start THEN rate_limits.count + 1 ELSE 1 END, \
             window_start = excluded.window_start \
             RETURNING count",
            &[s(bucket), n(window_start)],
        )?,
    ];
    let results = db.batch(batch).await?;
    let count = results
        .last()
        .map(|r| r.results::<Count>())
        .transpose()?
        .and_then(|rows| rows.into_iter().next())
        .map(|c| c.count as u64)
        .unwrap_or(u64::MAX);
    Ok(count)
}
