//! The connection lifecycle service, used by the routes that end, make or refresh a
//! connection (the platform's connection routes are in `platform`). The one way a
//! connection ends on request: revoke its refresh token at the provider (RFC 7009, when the
//! authorization server has a `revocation_endpoint`), then delete it locally whatever the
//! provider said, and record `connection.disconnected`. The runtime plane's `disconnect`
//! uses the same path; `detach` drops the agent's pending consent flows.

use serde_json::{json, Value};
use worker::D1Database;

use super::error::ApiResult;
use super::events::{self, connection_data, Kind};
use super::sealed::{open_tokens, pending_aad};
use super::servers::open_config;
use super::store::platform::{self as pstore, ConnectionListRow};
use super::store::{self};
use super::Settings;
use crate::consent::{config_match, ConfigMatch};
use crate::revocation::{revoke, Revocation, TokenKind};
use crate::seal;

/// The runtime plane's disconnect: the actor's connection to the server, if any, ends.
pub async fn disconnect(
    db: &D1Database,
    s: &Settings,
    server_id: &str,
    actor_id: &str,
) -> ApiResult<()> {
    if let Some(row) = pstore::connection_of(db, server_id, actor_id).await? {
        end(db, s, &row, "disconnected_by_user").await?;
    }
    Ok(())
}

/// Every connection of a server ends (revoked, deleted, `connection.disconnected` with
/// `reason`): before the server is deleted, or before a config change voids them.
pub async fn end_all_of_server(
    db: &D1Database,
    s: &Settings,
    server_id: &str,
    reason: &str,
) -> ApiResult<()> {
    for row in pstore::connections_of_server(db, server_id).await? {
        end(db, s, &row, reason).await?;
    }
    Ok(())
}

/// Revokes at the provider (best effort), deletes the row (only if it still holds the tokens
/// that were revoked), records `connection.disconnected`.
pub async fn end(
    db: &D1Database,
    s: &Settings,
    row: &ConnectionListRow,
    reason: &str,
) -> ApiResult<()> {
    let outcome = revoke_tokens(db, s, row).await;
    let id = row.id.clone().unwrap_or_default();
    match &outcome {
        Revocation::Revoked | Revocation::Unsupported => {}
        other => worker::console_warn!(
            "connection {id}: revocation failed ({}: {other}); deleted locally anyway",
            other.code()
        ),
    }
    let deleted = if row.id.is_some() {
        pstore::delete_connection_if(db, &id, &row.tokens_sealed).await?
    } else {
        store::delete_connection(db, &row.server_id, &row.actor_id).await?;
        true
    };
    if deleted {
        let mut data = connection_data(
            row.id.as_deref(),
            &row.server_id,
            &row.actor_id,
            Some(reason),
        );
        data["revocation"] = json!(outcome.code());
        events::record(db, s, Kind::ConnectionDisconnected, data).await;
    }
    Ok(())
}

async fn revoke_tokens(db: &D1Database, s: &Settings, row: &ConnectionListRow) -> Revocation {
    let Ok(tokens) = open_tokens(s, &row.server_id, &row.actor_id, &row.tokens_sealed) else {
        return Revocation::NotConfigured("the stored tokens could not be opened".into());
    };
    let server = match store::get_server(db, &row.server_id).await {
        Ok(Some(server)) => server,
        _ => return Revocation::NotConfigured("the server could not be read".into()),
    };
    // A token goes only to the revocation endpoint of the config it was made under.
    if config_match(
        Some(row.config_version as u64),
        server.config_version as u64,
    ) != ConfigMatch::Same
    {
        return Revocation::NotConfigured(
            "the server's config changed since this connection was made".into(),
        );
    }
    let Ok(config) = open_config(&server, s) else {
        return Revocation::NotConfigured("the server's config could not be opened".into());
    };
    let Some(client) = config
        .auth
        .as_ref()
        .and_then(|a| a.token_client())
        .and_then(|tc| tc.client)
    else {
        return Revocation::NotConfigured("the server's config has no OAuth client".into());
    };
    let provider: Value = serde_json::from_str(&server.provider).unwrap_or(Value::Null);
    let issuer = provider["issuer"].as_str();
    let known = provider["revocation_endpoint"].as_str();
    let (token, kind) = match &tokens.refresh_token {
        Some(rt) => (rt, TokenKind::Refresh),
        None => (&tokens.access_token, TokenKind::Access),
    };
    revoke(&s.transport(), issuer, known, &client, token, kind).await
}

/// `detach`: the pending consent flows of `server_id` that were started through `agent_id`
/// are dropped (a flow records its agent in its sealed record).
pub async fn drop_pending_of_agent(
    db: &D1Database,
    s: &Settings,
    agent: &str,
    server_id: &str,
) -> ApiResult<()> {
    let mut doomed = Vec::new();
    for p in pstore::pending_of_server(db, server_id).await? {
        let opened = seal::open(
            &s.seal_key,
            &p.sealed,
            pending_aad(&p.state_hash).as_bytes(),
        )
        .ok()
        .and_then(|plain| serde_json::from_slice::<Value>(&plain).ok());
        match opened {
            Some(record) if record["agent_id"].as_str() == Some(agent) => doomed.push(p.state_hash),
            Some(_) => {}
            // A flow that cannot be read cannot complete either.
            None => doomed.push(p.state_hash),
        }
    }
    pstore::delete_pending(db, &doomed).await?;
    Ok(())
}

/// Records `connection.expired` or `connection.refresh_failed` and the connection's
/// `last_error` (the token route calls this after a refresh).
pub async fn refresh_failed(
    db: &D1Database,
    s: &Settings,
    server_id: &str,
    actor_id: &str,
    expired: bool,
    code: &str,
) {
    if let Err(e) = pstore::set_last_error(db, server_id, actor_id, Some(code)).await {
        worker::console_error!("connection last_error not stored: {e}");
    }
    let id = pstore::connection_of(db, server_id, actor_id)
        .await
        .ok()
        .flatten()
        .and_then(|r| r.id);
    let kind = if expired {
        Kind::ConnectionExpired
    } else {
        Kind::ConnectionRefreshFailed
    };
    events::record(
        db,
        s,
        kind,
        connection_data(id.as_deref(), server_id, actor_id, Some(code)),
    )
    .await;
}

/// A refresh succeeded: `last_error` is cleared.
pub async fn refreshed(db: &D1Database, server_id: &str, actor_id: &str) {
    if let Err(e) = pstore::set_last_error(db, server_id, actor_id, None).await {
        worker::console_error!("connection last_error not cleared: {e}");
    }
}

/// After a successful consent: `connection.connected` with the connection's id.
pub async fn connected(db: &D1Database, s: &Settings, server_id: &str, actor_id: &str) {
    let id = pstore::connection_of(db, server_id, actor_id)
        .await
        .ok()
        .flatten()
        .and_then(|r| r.id);
    events::record(
        db,
        s,
        Kind::ConnectionConnected,
        connection_data(id.as_deref(), server_id, actor_id, None),
    )
    .await;
}

/// A consent that did not end in a connection: `connection.failed` with the reason (the
/// callback page's error code).
pub async fn failed(db: &D1Database, s: &Settings, server_id: &str, actor_id: &str, reason: &str) {
    events::record(
        db,
        s,
        Kind::ConnectionFailed,
        connection_data(None, server_id, actor_id, Some(reason)),
    )
    .await;
}
