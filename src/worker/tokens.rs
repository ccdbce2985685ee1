//! The token lifecycle service (the access-token route is `access`, the challenge route
//! `challenge`, the check route `check`): refresh when expired
//! (one refresh at a time per connection, by a lease and a compare-and-swap on `version`),
//! `expired` when the refresh token is refused or when a token without a refresh token really
//! expires (discovery.md §8), cached client-credentials tokens, and the client's own lifecycle
//! on `invalid_client` (see [`super::clients`]).

use std::time::Duration;

use serde_json::{json, Value};
use worker::{D1Database, Delay};

use super::clients::{
    register_again_after_invalid_client, remember_method, send_token_request, TokenCallError,
};
use super::error::{ApiError, ApiResult, ExpiredBecause};
use super::sealed::{open_tokens, seal_tokens};
use super::store::{self, ConnectionRow, ServerRow};
use super::{connections, now, rfc3339, Settings};
use crate::config::{AuthConfig, TokenClient};
use crate::consent::{config_match, ConfigMatch};
use crate::provision::Provider;
use crate::token::{
    client_credentials_request, parse_refresh_response, parse_token_response, refresh_request,
    TokenSet, TokenState, MAX_EXPIRES_IN_SECS,
};

/// How long a refresh lease lasts (a crashed refresher blocks others no longer than this).
const LEASE_SECS: u64 = 20;

/// The API's token object. `expires_at` is capped as a new token's would be (a row stored
/// before the cap existed cannot make the date formatting fail).
pub fn token_json(t: &TokenSet) -> Value {
    let cap = now().saturating_add(MAX_EXPIRES_IN_SECS);
    json!({
        "access_token": t.access_token.expose(),
        "token_type": t.token_type,
        "expires_at": t.expires_at.map(|e| rfc3339(e.min(cap))),
    })
}

fn fresh(t: &TokenSet, now: u64, leeway: u64) -> bool {
    t.expires_at.is_none_or(|e| now + leeway < e)
}

/// A client-credentials token: the cached one while fresh (unless `renew`: the MCP server
/// refused it), else a new one from the token endpoint.
pub async fn client_token(
    db: &D1Database,
    s: &Settings,
    row: &ServerRow,
    auth: &AuthConfig,
    renew: bool,
) -> ApiResult<TokenSet> {
    let id = row.id.as_str();
    if !renew {
        if let Some(cached) = store::get_client_token(db, id).await? {
            let t = open_tokens(s, id, "", &cached.tokens_sealed)?;
            if fresh(&t, now(), s.refresh_leeway) {
                return Ok(t);
            }
        }
    }
    let Some(tc) = auth.token_client() else {
        return Err(ApiError::NotConfigured { lacks: "token_url" });
    };
    if let Some(url) = tc.token_url.as_deref() {
        check_token_url(s, url)?;
    }
    let provider: Provider = serde_json::from_str(&row.provider).unwrap_or_default();
    let build = |url: &str, client: &crate::token::ClientAuth| {
        client_credentials_request(url, client, &tc.scopes, tc.resource.as_deref())
    };
    let judge = |r: &crate::transport::HttpResponse| parse_token_response(r, now());
    let (t, switched) = match send_token_request(s, &tc, &provider, &build, &judge).await {
        Ok(ok) => ok,
        Err(TokenCallError::NotConfigured(m)) => {
            return Err(ApiError::Unconfigurable { reason: m })
        }
        Err(TokenCallError::Transport(m)) => return Err(upstream(&m)),
        Err(TokenCallError::Failure(f)) => return Err(upstream(&f.to_string())),
    };
    if let Some(method) = switched {
        remember_method(db, s, row, method).await;
    }
    store::put_client_token(db, id, &seal_tokens(s, id, "", &t)?, t.expires_at).await?;
    Ok(t)
}

fn upstream(detail: &str) -> ApiError {
    ApiError::TokenRequestFailed {
        detail: detail.to_owned(),
    }
}

pub fn connection_expired() -> ApiError {
    ApiError::ConnectionExpired(ExpiredBecause::RefreshRefused)
}

fn expired_without_refresh() -> ApiError {
    ApiError::ConnectionExpired(ExpiredBecause::NoRefreshToken)
}

/// The actor's access token: the stored one while fresh, refreshed first when inside the
/// leeway (one refresh at a time per connection), kept until it really expires when the
/// provider issued no refresh token. `force_version`: refresh even a fresh token if the
/// connection is still at this version (the MCP server refused it; a caller that finds a newer
/// version gets that one).
/// `row` is the server at the config version this request read: a connection made under
/// another version is neither returned nor refreshed with it.
pub async fn user_token(
    db: &D1Database,
    s: &Settings,
    row: &ServerRow,
    actor: &str,
    auth: &AuthConfig,
    endpoint: &str,
    force_version: Option<f64>,
) -> ApiResult<TokenSet> {
    let Some(tc) = auth.token_client() else {
        return Err(ApiError::NotConfigured { lacks: "token_url" });
    };
    let resource = tc.resource.clone().unwrap_or_else(|| endpoint.to_owned());
    let server_id = row.id.as_str();
    let config_version = row.config_version as u64;
    for _ in 0..40 {
        let Some(conn) = store::get_connection(db, server_id, actor).await? else {
            return Err(ApiError::NotConnected);
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
        let forced = force_version == Some(conn.version);
        let state = match tokens.state(t, s.refresh_leeway) {
            TokenState::Fresh | TokenState::UsableUntilExpiry if forced => {
                if tokens.refresh_token.is_some() {
                    TokenState::Refresh
                } else {
                    TokenState::ExpiredWithoutRefresh
                }
            }
            other => other,
        };
        let refresh_token = match state {
            TokenState::Fresh | TokenState::UsableUntilExpiry => return Ok(tokens),
            TokenState::ExpiredWithoutRefresh => {
                store::mark_expired(db, &conn).await?;
                connections::refresh_failed(db, s, server_id, actor, true, "no_refresh_token")
                    .await;
                return Err(expired_without_refresh());
            }
            TokenState::Refresh => match tokens.refresh_token.clone() {
                Some(r) => r,
                None => return Err(expired_without_refresh()),
            },
        };
        if store::lease_refresh(db, &conn, t, t + LEASE_SECS).await? {
            return refresh(db, s, row, &conn, &tc, &refresh_token, &resource).await;
        }
        // Another caller is refreshing: wait for its new version.
        Delay::from(Duration::from_millis(150)).await;
    }
    Err(ApiError::RefreshInProgress)
}

async fn refresh(
    db: &D1Database,
    s: &Settings,
    row: &ServerRow,
    conn: &ConnectionRow,
    tc: &TokenClient,
    refresh_token: &crate::secret::Secret,
    resource: &str,
) -> ApiResult<TokenSet> {
    let provider: Provider = serde_json::from_str(&row.provider).unwrap_or_default();
    let build = |url: &str, client: &crate::token::ClientAuth| {
        refresh_request(url, client, refresh_token, resource, &tc.scopes)
    };
    let judge =
        |r: &crate::transport::HttpResponse| parse_refresh_response(r, now(), refresh_token);
    if let Some(url) = tc.token_url.as_deref() {
        if let Err(e) = check_token_url(s, url) {
            store::release_lease(db, conn).await?;
            return Err(e);
        }
    }
    match send_token_request(s, tc, &provider, &build, &judge).await {
        Ok((t, switched)) => {
            if let Some(method) = switched {
                remember_method(db, s, row, method).await;
            }
            let sealed = seal_tokens(s, &conn.server_id, &conn.actor_id, &t)?;
            if store::finish_refresh(db, conn, &sealed, t.expires_at).await? {
                connections::refreshed(db, &conn.server_id, &conn.actor_id).await;
                Ok(t)
            } else {
                Err(ApiError::ConnectionChanged)
            }
        }
        Err(TokenCallError::Failure(f)) if f.is_invalid_grant() => {
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
        Err(e) if e.is_invalid_client() => {
            if register_again_after_invalid_client(db, s, row).await? {
                return Err(ApiError::ConnectionExpired(
                    ExpiredBecause::ClientRegisteredAgain,
                ));
            }
            store::release_lease(db, conn).await?;
            Err(refresh_failure(db, s, conn, e).await)
        }
        Err(e) => {
            store::release_lease(db, conn).await?;
            Err(refresh_failure(db, s, conn, e).await)
        }
    }
}

/// The answer to a refresh that failed without voiding the connection (it stays `connected`),
/// recorded on the connection and as a `connection.refresh_failed` event.
async fn refresh_failure(
    db: &D1Database,
    s: &Settings,
    conn: &ConnectionRow,
    e: TokenCallError,
) -> ApiError {
    let (reason, answer) = match e {
        TokenCallError::NotConfigured(m) => {
            return ApiError::Unconfigurable { reason: m };
        }
        TokenCallError::Transport(m) => ("token_endpoint_unreachable".to_owned(), upstream(&m)),
        TokenCallError::Failure(f) => {
            // The provider's OAuth error when it is a plain code, else the failure's own code.
            let reason = f
                .error()
                .filter(|e| e.len() <= 64 && e.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
                .unwrap_or(f.code().as_str())
                .to_owned();
            (reason, upstream(&f.to_string()))
        }
    };
    connections::refresh_failed(db, s, &conn.server_id, &conn.actor_id, false, &reason).await;
    answer
}

fn config_changed() -> ApiError {
    ApiError::ConfigChangedDuringRequest
}

/// 400 `blocked_target` (path `config.auth.token_url`) when the deployment refuses to call
/// the token endpoint: checked before any token request, on every route that sends one.
pub fn check_token_url(s: &Settings, token_url: &str) -> ApiResult<()> {
    s.policy()
        .check_str(token_url)
        .map(|_| ())
        .map_err(|r| ApiError::BlockedTokenUrl {
            detail: r.message(token_url),
        })
}
