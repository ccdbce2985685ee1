//! The runtime plane (`/service/mcp/...`, session tickets): the server list and disconnect.
//! The consent flow (connect, start, callback, flow status) and runtime discovery are in
//! `flows.rs`.

use serde_json::{json, Value};
use worker::D1Database;

use super::error::ApiResult;
use super::http::{json_response, no_content};
use super::servers::{check_id, require_attached};
use super::store;
use super::{rfc3339, Settings};
use crate::ticket;

pub async fn list(db: &D1Database, claims: &ticket::TicketClaims, agent: &str) -> ApiResult {
    let servers = store::agent_servers(db, agent).await?;
    let connections = store::actor_connections(db, &claims.actor_id).await?;
    let step_ups = super::step_ups::step_up_statuses(db, &claims.actor_id).await?;
    let items: Vec<Value> = servers
        .iter()
        .map(|row| {
            let config: Value = serde_json::from_str(&row.config_public).unwrap_or(Value::Null);
            let auth_type = config["auth"]["type"].as_str().map(str::to_owned);
            let needs_user = auth_type.as_deref().and_then(crate::auth_mode::AuthMode::parse).is_some_and(|m| m.is_authorization_code());
            let conn = connections.iter().find(|c| c.server_id == row.id);
            let status = match (needs_user, conn) {
                (false, _) => "ready",
                (true, None) => "not_connected",
                (true, Some(c)) if c.status == "expired" => "expired",
                (true, Some(_)) => "connected",
            };
            let mut item = json!({
                "id": row.id,
                "name": row.name,
                "endpoint": config["endpoint"],
                "auth_type": auth_type,
                "requires_user_connection": needs_user,
                "connection_status": status,
                "connected_at": conn.filter(|_| needs_user).map(|c| c.connected_at.clone()),
                // The current access token's expiry, not the connection's (it is refreshed on
                // demand): `token_expires_at`; `expires_at` is the same value, kept for
                // existing clients.
                "token_expires_at": conn.filter(|_| needs_user).and_then(|c| c.expires_at).map(|e| rfc3339(e as u64)),
                "expires_at": conn.filter(|_| needs_user).and_then(|c| c.expires_at).map(|e| rfc3339(e as u64)),
            });
            with_step_up(&mut item, needs_user, step_ups.iter().find(|(id, _)| *id == row.id));
            item
        })
        .collect();
    Ok(json_response(&json!({ "items": items }), 200))
}

/// A pending step-up (discovery.md §9) shows as `needs_consent` with its `required_scopes`.
fn with_step_up(item: &mut Value, needs_user: bool, step_up: Option<&(String, Vec<String>)>) {
    if let Some((_, scopes)) = step_up.filter(|_| needs_user) {
        item["connection_status"] = json!("needs_consent");
        item["required_scopes"] = json!(scopes);
    }
}

pub async fn disconnect(
    db: &D1Database,
    s: &Settings,
    claims: &ticket::TicketClaims,
    agent: &str,
    id: &str,
) -> ApiResult {
    check_id(id, "id")?;
    require_attached(db, agent, id).await?;
    // Revokes at the provider first (RFC 7009), then deletes whatever it said.
    super::connections::disconnect(db, s, id, &claims.actor_id).await?;
    Ok(no_content())
}
