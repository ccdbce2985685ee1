//! The access-token route for agent runtimes, and the token lifecycle: refresh when expired
//! (one refresh at a time per connection, by a lease and a compare-and-swap on `version`),
//! `expired` when the refresh token is refused, and cached client-credentials tokens.

use std::time::Duration;

use serde_json::{json, Value};
use worker::{D1Database, Delay, Request};

use super::control::{check_platform_id, load, open_config, require_attached};
use super::http::{json_body, json_response, ApiError, ApiResult};
use super::store::{self, ConnectionRow};
use super::{connections, now, rfc3339, Settings};
use crate::config::{AuthConfig, TokenClient};
use crate::consent::{config_match, ConfigMatch};
use crate::seal;
use crate::token::{
    client_credentials_request, parse_refresh_response, parse_token_response, refresh_request,
    TokenSet,
};
use crate::transport::{Transport, TransportErrorKind};

/// How long a refresh lease lasts (a crashed refresher blocks others no longer than this).
const LEASE_SECS: u64 = 20;

fn tokens_aad(server_id: &str, actor_id: &str) -> String {
    format!("connection:{server_id}:{actor_id}:tokens")
}

pub fn seal_tokens(
    s: &Settings,
    server_id: &str,
    actor_id: &str,
    tokens: &TokenSet,
) -> ApiResult<String> {
    let plain =
        serde_json::to_vec(tokens).map_err(|_| ApiError::new(500, "internal_error", "tokens"))?;
    seal::seal(
        &s.seal_key,
        &plain,
        tokens_aad(server_id, actor_id).as_bytes(),
    )
    .map_err(|_| ApiError::new(500, "internal_error", "The tokens could not be sealed."))
}

pub fn open_tokens(
    s: &Settings,
    server_id: &str,
    actor_id: &str,
    sealed: &str,
) -> ApiResult<TokenSet> {
    seal::open(
        &s.seal_key,
        sealed,
        tokens_aad(server_id, actor_id).as_bytes(),
    )
    .ok()
    .and_then(|p| serde_json::from_slice(&p).ok())
    .ok_or_else(|| {
        ApiError::new(
            500,
            "unsealable",
            "Stored tokens could not be opened: was SEAL_KEY changed?",
        )
    })
}

fn token_json(t: &TokenSet) -> Value {
    json!({
        "access_token": t.access_token.expose(),
        "token_type": t.token_type,
        "expires_at": t.expires_at.map(rfc3339),
    })
}

fn fresh(t: &TokenSet, now: u64, leeway: u64) -> bool {
    t.expires_at.is_none_or(|e| now + leeway < e)
}

/// `POST /ai/agents/{agent_id}/mcp-servers/{id}/access-token` `{actor_id}`.
pub async fn access_token(
    req: &mut Request,
    db: &D1Database,
    s: &Settings,
    agent: &str,
    id: &str,
) -> ApiResult {
    check_platform_id(agent, "agent_id")?;
    let body = json_body(req).await?;
    let actor = body
        .get("actor_id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    check_platform_id(&actor, "actor_id")?;
    let row = load(db, id).await?;
    require_attached(db, agent, id).await?;
    let config = open_config(&row, s)?;
    match config.auth {
        None => Err(ApiError::new(
            409,
            "no_auth_required",
            "This server needs no authorization: call it without a token.",
        )),
        Some(AuthConfig::Token(t)) => Ok(json_response(
            &json!({"access_token": t.auth_token.expose(), "token_type": "Bearer", "expires_at": Value::Null}),
            200,
        )),
        Some(auth @ AuthConfig::OauthClientCredentials(_)) => {
            if let Some(cached) = store::get_client_token(db, id).await? {
                let t = open_tokens(s, id, "", &cached.tokens_sealed)?;
                if fresh(&t, now(), s.refresh_leeway) {
                    return Ok(json_response(&token_json(&t), 200));
                }
            }
            let tc = auth.token_client().expect("an OAuth config");
            let (Some(token_url), Some(client)) = (tc.token_url, tc.client) else {
                return Err(ApiError::not_configured("token_url"));
            };
            check_token_url(s, &token_url)?;
            let request =
                client_credentials_request(&token_url, &client, &tc.scopes, tc.resource.as_deref())
                    .map_err(|e| ApiError::new(409, "not_configured", e.message))?;
            let response = s
                .transport()
                .send(request)
                .await
                .map_err(|e| send_failed(&e))?;
            let t = parse_token_response(&response, now()).map_err(|f| upstream(&f.to_string()))?;
            store::put_client_token(db, id, &seal_tokens(s, id, "", &t)?, t.expires_at).await?;
            Ok(json_response(&token_json(&t), 200))
        }
        Some(auth) => {
            let tc = auth.token_client().expect("an OAuth config");
            let resource = tc
                .resource
                .clone()
                .unwrap_or_else(|| config.endpoint.clone());
            let version = row.config_version as u64;
            user_token(db, s, id, &actor, &tc, &resource, version).await
        }
    }
}

fn upstream(detail: &str) -> ApiError {
    ApiError::new(
        502,
        "token_request_failed",
        format!("The authorization server refused or failed the token request: {detail}"),
    )
}

fn not_connected() -> ApiError {
    ApiError::new(409, "not_connected", "The actor has not connected this server: start a consent with the runtime plane's connect.")
}

fn connection_expired() -> ApiError {
    ApiError::new(409, "connection_expired", "The connection expired (the provider refused the refresh token): the actor must connect again.")
}

/// `tc` is the token client of the server's config at `config_version`: a connection made
/// under another version is neither returned nor refreshed with it.
pub async fn user_token(
    db: &D1Database,
    s: &Settings,
    server_id: &str,
    actor: &str,
    tc: &TokenClient,
    resource: &str,
    config_version: u64,
) -> ApiResult {
    for _ in 0..40 {
        let Some(conn) = store::get_connection(db, server_id, actor).await? else {
            return Err(not_connected());
        };
        if conn.status == "expired" {
            return Err(connection_expired());
        }
        match config_match(Some(conn.config_version as u64), config_version) {
            ConfigMatch::Same => {}
            // Made under a config this request did not read: a retry reads the current one.
            ConfigMatch::Ahead => return Err(config_changed()),
            // Made under an older config that the server no longer has.
            ConfigMatch::Stale => {
                store::mark_expired(db, &conn).await?;
                connections::refresh_failed(db, s, server_id, actor, true, "server_changed").await;
                return Err(connection_expired());
            }
        }
        let tokens = open_tokens(s, server_id, actor, &conn.tokens_sealed)?;
        let t = now();
        if fresh(&tokens, t, s.refresh_leeway) {
            return Ok(json_response(&token_json(&tokens), 200));
        }
        let Some(refresh_token) = tokens.refresh_token.clone() else {
            store::mark_expired(db, &conn).await?;
            connections::refresh_failed(db, s, server_id, actor, true, "no_refresh_token").await;
            return Err(connection_expired());
        };
        if store::lease_refresh(db, &conn, t, t + LEASE_SECS).await? {
            return refresh(db, s, &conn, tc, &refresh_token, resource).await;
        }
        // Another caller is refreshing: wait for its new version.
        Delay::from(Duration::from_millis(150)).await;
    }
    Err(ApiError::new(
        503,
        "refresh_in_progress",
        "Another refresh of this connection is taking too long: retry shortly.",
    ))
}

async fn refresh(
    db: &D1Database,
    s: &Settings,
    conn: &ConnectionRow,
    tc: &TokenClient,
    refresh_token: &crate::secret::Secret,
    resource: &str,
) -> ApiResult {
    let (Some(token_url), Some(client)) = (tc.token_url.as_deref(), tc.client.as_ref()) else {
        store::release_lease(db, conn).await?;
        return Err(ApiError::not_configured("token_url or client_id"));
    };
    if let Err(e) = check_token_url(s, token_url) {
        store::release_lease(db, conn).await?;
        return Err(e);
    }
    let request = match refresh_request(token_url, client, refresh_token, resource, &tc.scopes) {
        Ok(r) => r,
        Err(e) => {
            store::release_lease(db, conn).await?;
            return Err(ApiError::new(409, "not_configured", e.message));
        }
    };
    let response = match s.transport().send(request).await {
        Ok(r) => r,
        Err(e) => {
            store::release_lease(db, conn).await?;
            connections::refresh_failed(
                db,
                s,
                &conn.server_id,
                &conn.actor_id,
                false,
                "token_endpoint_unreachable",
            )
            .await;
            return Err(send_failed(&e));
        }
    };
    match parse_refresh_response(&response, now(), refresh_token) {
        Ok(t) => {
            let sealed = seal_tokens(s, &conn.server_id, &conn.actor_id, &t)?;
            if store::finish_refresh(db, conn, &sealed, t.expires_at).await? {
                connections::refreshed(db, &conn.server_id, &conn.actor_id).await;
                Ok(json_response(&token_json(&t), 200))
            } else {
                Err(ApiError::new(409, "connection_changed", "The connection changed during the refresh (disconnected or reconnected): retry."))
            }
        }
        Err(f) if f.is_invalid_grant() => {
            store::mark_expired(db, conn).await?;
            connections::refresh_failed(
                db,
                s,
                &conn.server_id,
                &conn.actor_id,
                true,
                "invalid_grant",
            )
            .await;
            Err(connection_expired())
        }
        Err(f) => {
            store::release_lease(db, conn).await?;
            // The provider's OAuth error when it is a plain code, else the failure's own code.
            let reason = f
                .error()
                .filter(|e| e.len() <= 64 && e.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
                .unwrap_or(f.code().as_str())
                .to_owned();
            connections::refresh_failed(db, s, &conn.server_id, &conn.actor_id, false, &reason)
                .await;
            Err(upstream(&f.to_string()))
        }
    }
}

fn config_changed() -> ApiError {
    ApiError::new(
        409,
        "connection_changed",
        "The server's config changed while this request ran: retry.",
    )
}

/// 400 `blocked_target` (path `config.auth.token_url`) when the deployment refuses to call
/// the token endpoint: checked before any token request, on every route that sends one.
pub fn check_token_url(s: &Settings, token_url: &str) -> ApiResult<()> {
    s.policy()
        .check_str(token_url)
        .map(|_| ())
        .map_err(|r| blocked_token_url(&r.message(token_url)))
}

fn blocked_token_url(detail: &str) -> ApiError {
    ApiError::at(
        400,
        "blocked_target",
        format!(
            "The server's token endpoint is a target this deployment refuses to call ({detail}). \
             Fix config.auth.token_url (PATCH the server); private and loopback targets are for \
             local development only (ALLOW_PRIVATE_TARGETS=true)."
        ),
        "config.auth.token_url",
    )
}

/// A token request that was not answered: `blocked_target` (400) when the target policy
/// refused it, else 502.
fn send_failed(e: &crate::transport::TransportError) -> ApiError {
    match e.kind {
        TransportErrorKind::Blocked => blocked_token_url(&e.message),
        _ => upstream(&e.message),
    }
}
