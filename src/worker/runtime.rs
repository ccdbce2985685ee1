//! The runtime plane (`/service/mcp/...`, session tickets): the server list and disconnect.
//! The consent flow (connect, start, callback, flow status) and runtime discovery are in
//! `flows.rs`.

use serde_json::{json, Value};
use worker::{D1Database, Request};

use super::control::{check_id, require_attached};
use super::http::{bearer, json_response, no_content, ApiError, ApiResult};
use super::store;
use super::{now, rfc3339, Settings};
use crate::ticket;

/// The ticket's claims after checking it (any agent scope).
pub fn authenticate_ticket(req: &Request, s: &Settings) -> ApiResult<ticket::TicketClaims> {
    let invalid = || {
        ApiError::new(401, "invalid_ticket", "Send Authorization: Bearer <session ticket>; get a fresh ticket from POST /ai/session-tickets.")
    };
    let token = bearer(req).ok_or_else(invalid)?;
    ticket::verify(&s.ticket_key, &token, now()).map_err(|_| invalid())
}

/// The ticket's claims, after checking it and that it covers `agent`.
pub fn authenticate(req: &Request, s: &Settings, agent: &str) -> ApiResult<ticket::TicketClaims> {
    let claims = authenticate_ticket(req, s)?;
    if !claims.allows_agent(agent) {
        return Err(ApiError::new(
            403,
            "agent_not_in_scope",
            "The session ticket does not cover this agent.",
        ));
    }
    Ok(claims)
}

pub async fn list(db: &D1Database, claims: &ticket::TicketClaims, agent: &str) -> ApiResult {
    let servers = store::agent_servers(db, agent).await?;
    let connections = store::actor_connections(db, &claims.actor_id).await?;
    let step_ups = super::challenge::step_up_statuses(db, &claims.actor_id).await?;
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
    claims: &ticket::TicketClaims,
    agent: &str,
    id: &str,
) -> ApiResult {
    check_id(id, "id")?;
    require_attached(db, agent, id).await?;
    store::delete_connection(db, id, &claims.actor_id).await?;
    Ok(no_content())
}
