//! Runtime challenges and step-up (discovery.md §9): the agent runtime hands the MCP server's
//! 401/403 answer to `POST /ai/agents/{agent}/mcp-servers/{id}/challenge` and does what the
//! answer says (`retry` with a new token, `consent_required` with the scopes the next connect
//! asks for, or `reconnect`). The runtime never parses a challenge itself. Also the scopes a
//! connect asks for and the `needs_consent` status of the runtime list.

use serde_json::{json, Value};
use worker::{D1Database, Request};

use super::error::{ApiError, ApiResult};
use super::http::{json_body, json_response};
use super::sealed::open_tokens;
use super::servers::{check_platform_id, load, open_config, require_attached, row_for};
use super::step_ups::{connect_scopes, MAX_STEP_UPS, STEP_UP_WINDOW_SECS};
use super::store::{self, ServerRow};
use super::tokens::{client_token, token_json, user_token};
use super::{now, rfc3339, Settings};
use crate::authorize::{authorization_scopes, scope_union};
use crate::challenge::{bearer_hints, parse_headers};
use crate::config::{AuthConfig, ServerConfig};
use crate::provision::{provision_from_challenge, Provider, ProvisionError};
use crate::registration::ClientSource;

/// Most `WWW-Authenticate` values read from one body.
const MAX_CHALLENGE_HEADERS: usize = 16;

struct ChallengeBody {
    actor: String,
    status: u16,
    www_authenticate: Vec<String>,
}

fn read_body(body: &Value) -> ApiResult<ChallengeBody> {
    let actor = super::servers::actor_of(body)?;
    let status = match body.get("status").and_then(Value::as_u64) {
        Some(s @ (401 | 403)) => s as u16,
        _ => return Err(ApiError::InvalidValue {
            path: "status".into(),
            message:
                "status must be 401 or 403: the MCP server's status that came with the challenge."
                    .into(),
        }),
    };
    let list = match body.get("www_authenticate") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) if items.len() <= MAX_CHALLENGE_HEADERS => {
            let mut out = Vec::new();
            for (i, v) in items.iter().enumerate() {
                match v.as_str() {
                    Some(s) if s.len() <= 8192 => out.push(s.to_owned()),
                    _ => {
                        return Err(ApiError::InvalidType { path: format!("www_authenticate[{i}]"), message: "Each www_authenticate item must be one WWW-Authenticate header value (a string of at most 8192 characters).".into() })
                    }
                }
            }
            out
        }
        Some(_) => {
            return Err(ApiError::InvalidType { path: "www_authenticate".into(), message: "www_authenticate must be an array of the WWW-Authenticate header values the MCP server sent (at most 16).".into() })
        }
    };
    Ok(ChallengeBody {
        actor,
        status,
        www_authenticate: list,
    })
}

fn reconnect() -> ApiResult {
    Ok(json_response(&json!({ "action": "reconnect" }), 200))
}

fn consent_required(scopes: &[String]) -> ApiResult {
    Ok(json_response(
        &json!({ "action": "consent_required", "required_scopes": scopes }),
        200,
    ))
}

fn retry(t: &crate::token::TokenSet) -> ApiResult {
    let mut v = token_json(t);
    v["action"] = json!("retry");
    Ok(json_response(&v, 200))
}

/// `POST /ai/agents/{agent_id}/mcp-servers/{id}/challenge`
/// `{actor_id, status, www_authenticate: [string]}`.
pub async fn challenge(
    req: &mut Request,
    db: &D1Database,
    s: &Settings,
    agent: &str,
    id: &str,
) -> ApiResult {
    check_platform_id(agent, "agent_id")?;
    let body = read_body(&json_body(req).await?)?;
    let row = load(db, id).await?;
    require_attached(db, agent, id).await?;
    let config = open_config(&row, s)?;
    let hints =
        bearer_hints(&parse_headers(body.www_authenticate.iter().map(String::as_str)).challenges)
            .unwrap_or_default();
    let auth = match &config.auth {
        // Saved as needing no auth: discovery from this challenge makes it connectable.
        None => return become_connectable(db, s, &row, &config, &body).await,
        Some(AuthConfig::Token(_)) => return Err(ApiError::TokenRejected),
        Some(auth) => auth.clone(),
    };
    let insufficient_scope = body.status == 403
        && hints.error.as_deref() == Some("insufficient_scope")
        && !hints.scopes.is_empty();
    if body.status == 403 && !insufficient_scope {
        return Err(ApiError::Forbidden);
    }
    if let AuthConfig::OauthClientCredentials(_) = auth {
        if insufficient_scope {
            return Err(ApiError::ScopesNotByConsent {
                scopes: hints.scopes.clone(),
            });
        }
        let t = client_token(db, s, &row, &auth, true).await?;
        return retry(&t);
    }
    if insufficient_scope {
        return step_up(db, s, &row, &config, &body.actor, &hints.scopes).await;
    }
    // 401: the token was refused. First, whether the server now names another issuer.
    if let Some(answer) = issuer_changed(db, s, &row, &config, &body).await? {
        return Ok(answer);
    }
    let conn = store::get_connection(db, id, &body.actor).await?;
    let Some(conn) = conn.filter(|c| c.status == "connected") else {
        return reconnect();
    };
    match user_token(
        db,
        s,
        &row,
        &body.actor,
        &auth,
        &config.endpoint,
        Some(conn.version),
    )
    .await
    {
        Ok(t) => retry(&t),
        Err(e) if e.status() == 409 => reconnect(),
        Err(e) => Err(e),
    }
}

/// 403 `insufficient_scope`: the union of the granted and the challenged scopes becomes the
/// connection's required scopes (SEP-2350), at most [`MAX_STEP_UPS`] an hour.
async fn step_up(
    db: &D1Database,
    s: &Settings,
    row: &ServerRow,
    config: &ServerConfig,
    actor: &str,
    challenged: &[String],
) -> ApiResult {
    let t = now();
    let since = t.saturating_sub(STEP_UP_WINDOW_SECS);
    let conn = store::get_connection(db, &row.id, actor).await?;
    // The consent that made the connection counts when it was within the window (RFC 3339
    // UTC strings of one format compare as text).
    let consented = conn
        .as_ref()
        .is_some_and(|c| c.connected_at.as_str() > rfc3339(since).as_str());
    let asked = store::protocol::step_ups_since(db, &row.id, actor, since).await?;
    if asked + u64::from(consented) >= MAX_STEP_UPS {
        return Err(ApiError::StepUpLimit { max: MAX_STEP_UPS });
    }
    let provider: Provider = serde_json::from_str(&row.provider).unwrap_or_default();
    let config_scopes = config
        .auth
        .as_ref()
        .and_then(AuthConfig::token_client)
        .map(|tc| tc.scopes)
        .unwrap_or_default();
    // What was granted: the token response's scope when the provider said, else what the
    // last consent asked for.
    let asked = connect_scopes(db, &row.id, actor, &config_scopes, &provider).await?;
    let granted = match conn {
        Some(conn) => open_tokens(s, &row.id, actor, &conn.tokens_sealed)?
            .scope
            .map(|sc| {
                sc.split(' ')
                    .filter(|x| !x.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or(asked),
        None => asked,
    };
    let required = authorization_scopes(
        Some(&scope_union(&granted, challenged)),
        &[],
        provider.offline_access_supported,
    );
    store::protocol::put_step_up(db, &row.id, actor, &required, t, since).await?;
    consent_required(&required)
}

/// Provisions `config` from a runtime challenge for server `id` (its redirect URI and CIMD
/// document are its own).
async fn provision_for(
    s: &Settings,
    id: &str,
    name: &str,
    config: &ServerConfig,
    body: &ChallengeBody,
) -> Result<crate::provision::Provisioned, ProvisionError> {
    let targets = super::clients::ProvisionTargets::for_server(s, id);
    let options = targets.options();
    provision_from_challenge(
        name,
        config,
        body.status,
        &body.www_authenticate,
        &s.transport(),
        &options,
    )
    .await
}

/// A server saved as needing no auth, challenged at run time: discovery from the challenge,
/// then hydration and registration; the server is stored with its new auth (connections and
/// step-ups of the old config dropped) and the person must consent.
async fn become_connectable(
    db: &D1Database,
    s: &Settings,
    row: &ServerRow,
    config: &ServerConfig,
    body: &ChallengeBody,
) -> ApiResult {
    let p = provision_for(s, &row.id, &row.name, config, body)
        .await
        .map_err(|e| match e {
            ProvisionError::AuthRequired(d) => ApiError::NotConnectable(d),
            other => ApiError::Provision(other),
        })?;
    let mut new_row = row_for(&row.id, &p.body, &p.provider, s, &row.created_at)?;
    // Written at the version it was read at (update_server moves it on).
    new_row.config_version = row.config_version;
    store::update_server(db, &new_row, true).await?;
    store::protocol::clear_server_step_ups(db, &row.id).await?;
    let scopes = p
        .body
        .config
        .auth
        .as_ref()
        .and_then(AuthConfig::token_client)
        .map(|tc| tc.scopes)
        .unwrap_or_default();
    consent_required(&authorization_scopes(
        None,
        &scopes,
        p.provider.offline_access_supported,
    ))
}

/// 401 from a server whose client was obtained for one issuer: when discovery from the
/// challenge names another authorization server, the old client and its connections are not
/// used there (SEP-2352). A client the Worker obtained (CIMD, DCR) is obtained again for the new
/// issuer and everyone must reconnect; a pre-registered one cannot be, and the answer says so.
/// `None` when the issuer is unchanged or discovery says nothing usable.
async fn issuer_changed(
    db: &D1Database,
    s: &Settings,
    row: &ServerRow,
    config: &ServerConfig,
    body: &ChallengeBody,
) -> ApiResult<Option<worker::Response>> {
    let provider: Provider = serde_json::from_str(&row.provider).unwrap_or_default();
    let Some(old) = provider.client_issuer.clone().or(provider.issuer.clone()) else {
        return Ok(None);
    };
    let replay = crate::provision::ChallengeReplay {
        inner: &s.transport(),
        endpoint: config.endpoint.clone(),
        status: body.status,
        www_authenticate: body.www_authenticate.clone(),
    };
    let options = crate::discovery::DiscoverOptions {
        policy: s.policy(),
        allow_issuer_mismatch: config
            .auth
            .as_ref()
            .is_some_and(AuthConfig::allow_issuer_mismatch),
        ..Default::default()
    };
    let Ok(d) = crate::discovery::discover(&config.endpoint, &replay, &options).await else {
        return Ok(None);
    };
    let Some(new) = d.issuer.clone() else {
        return Ok(None);
    };
    if new == old {
        return Ok(None);
    }
    if !matches!(
        provider.client_source,
        Some(ClientSource::Cimd | ClientSource::Dcr)
    ) {
        return Err(ApiError::IssuerChanged { old, new });
    }
    let stripped = ServerConfig {
        auth: None,
        ..config.clone()
    };
    let p = provision_for(s, &row.id, &row.name, &stripped, body)
        .await
        .map_err(ApiError::Provision)?;
    let mut new_row = row_for(&row.id, &p.body, &p.provider, s, &row.created_at)?;
    // Written at the version it was read at (update_server moves it on).
    new_row.config_version = row.config_version;
    store::update_server(db, &new_row, true).await?;
    store::protocol::clear_server_step_ups(db, &row.id).await?;
    Ok(Some(json_response(&json!({ "action": "reconnect" }), 200)))
}
