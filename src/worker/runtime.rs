//! The runtime plane (`/service/mcp/...`, session tickets) and the consent callback.

use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use worker::{D1Database, Headers, Request, Response};

use super::control::{check_id, load, open_config, require_attached};
use super::http::{bearer, json_response, no_content, optional_json_body, ApiError, ApiResult};
use super::store::{self, PendingRow};
use super::{now, rfc3339, Settings};
use crate::authorize::{build_authorization_url, AuthorizationRequest};
use crate::config::AuthConfig;
use crate::consent::{
    check_callback, new_nonce, parse_callback_query, render, state_param, CallbackError,
    ConsentPage, PageStatus, PendingConsent, PENDING_TTL_SECS,
};
use crate::provision::Provider;
use crate::token::{authorization_code_request, parse_token_response};
use crate::transport::Transport;
use crate::{pkce, seal, ticket};

/// The ticket's claims, after checking it and that it covers `agent`.
pub fn authenticate(req: &Request, s: &Settings, agent: &str) -> ApiResult<ticket::TicketClaims> {
    let invalid = || {
        ApiError::new(401, "invalid_ticket", "Send Authorization: Bearer <session ticket>; get a fresh ticket from POST /ai/session-tickets.")
    };
    let token = bearer(req).ok_or_else(invalid)?;
    let claims = ticket::verify(&s.ticket_key, &token, now()).map_err(|_| invalid())?;
    if !claims.allows_agent(agent) {
        return Err(ApiError::new(
            403,
            "agent_not_in_scope",
            "The session ticket does not cover this agent.",
        ));
    }
    Ok(claims)
}

fn requires_consent(auth: Option<&AuthConfig>) -> bool {
    auth.is_some_and(|a| a.mode().is_authorization_code())
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

fn state_hash(state: &str) -> String {
    Sha256::digest(state.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn pending_aad(hash: &str) -> String {
    format!("pending:{hash}")
}

pub async fn connect(
    req: &mut Request,
    db: &D1Database,
    s: &Settings,
    claims: &ticket::TicketClaims,
    agent: &str,
    id: &str,
) -> ApiResult {
    check_id(id, "id")?;
    let body = optional_json_body(req).await?;
    require_attached(db, agent, id).await?;
    let row = load(db, id).await?;
    let return_origin = match body.get("return_origin") {
        None | Some(Value::Null) => None,
        Some(Value::String(o)) if s.allowed_origins.iter().any(|a| a == o) => Some(o.clone()),
        Some(_) => {
            return Err(ApiError::at(
                400,
                "return_origin_not_allowed",
                "return_origin must be one of ALLOWED_RETURN_ORIGINS (exact match).",
                "return_origin",
            ))
        }
    };
    let config = open_config(&row, s)?;
    if !requires_consent(config.auth.as_ref()) {
        return Ok(json_response(&json!({ "requires_oauth": false }), 200));
    }
    let provider: Provider = serde_json::from_str(&row.provider).unwrap_or_default();
    let (client_id, auth_url, scopes, resource, allow_unadvertised) = match config.auth.as_ref() {
        Some(AuthConfig::OauthAuthorizationCodePublicPkce(a)) => (
            a.client_id.clone(),
            a.auth_url.clone(),
            a.scopes.clone(),
            a.resource.clone(),
            a.allow_unadvertised_pkce,
        ),
        Some(AuthConfig::OauthAuthorizationCodeConfidentialPkce(a)) => (
            a.client_id.clone(),
            a.auth_url.clone(),
            a.scopes.clone(),
            a.resource.clone(),
            a.allow_unadvertised_pkce,
        ),
        _ => unreachable!("requires_consent checked the mode"),
    };
    if provider.pkce_s256_supported == Some(false) && !allow_unadvertised {
        return Err(ApiError::new(
            409,
            "pkce_not_advertised",
            "The authorization server does not advertise PKCE S256; set config.auth.allow_unadvertised_pkce to connect anyway.",
        ));
    }
    let (Some(client_id), Some(auth_url)) = (client_id, auth_url) else {
        return Err(ApiError::not_configured("client_id or auth_url"));
    };
    let resource = resource.unwrap_or_else(|| config.endpoint.clone());
    let scopes =
        super::challenge::connect_scopes(db, id, &claims.actor_id, &scopes, &provider).await?;
    let internal = |_| ApiError::new(500, "internal_error", "No random source.");
    let pkce = pkce::generate().map_err(internal)?;
    let state = pkce::generate_state().map_err(internal)?;
    let created_at = now();
    let pending = PendingConsent {
        state: state.clone(),
        actor_id: claims.actor_id.clone(),
        agent_id: agent.to_owned(),
        server_id: id.to_owned(),
        redirect_uri: s.callback_url(),
        code_verifier: pkce.code_verifier.clone(),
        issuer: provider.issuer.clone(),
        iss_required: provider.authorization_response_iss_parameter_supported,
        resource: resource.clone(),
        return_origin,
        created_at,
        expires_at: created_at + PENDING_TTL_SECS,
    };
    let oauth_url = build_authorization_url(&AuthorizationRequest {
        auth_url,
        client_id,
        redirect_uri: pending.redirect_uri.clone(),
        state: state.clone(),
        code_challenge: pkce.code_challenge.clone(),
        scopes,
        resource,
    })
    .map_err(|e| ApiError::new(409, "not_configured", e.message))?;
    let hash = state_hash(&state);
    let plain = serde_json::to_vec(&pending)
        .map_err(|_| ApiError::new(500, "internal_error", "pending"))?;
    let sealed = seal::seal(&s.seal_key, &plain, pending_aad(&hash).as_bytes()).map_err(|_| {
        ApiError::new(
            500,
            "internal_error",
            "The pending consent could not be sealed.",
        )
    })?;
    let row = PendingRow {
        server_id: id.to_owned(),
        actor_id: claims.actor_id.clone(),
        sealed,
        expires_at: pending.expires_at as f64,
    };
    store::put_pending(db, &hash, &row, created_at).await?;
    Ok(json_response(
        &json!({ "requires_oauth": true, "oauth_url": oauth_url }),
        200,
    ))
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

fn page(p: &ConsentPage) -> ApiResult {
    let rendered = render(p, &new_nonce());
    let headers = Headers::new();
    for (k, v) in &rendered.headers {
        headers.set(k, v)?;
    }
    Ok(Response::ok(rendered.body)?
        .with_status(rendered.status)
        .with_headers(headers))
}

fn error_page(
    e: &CallbackError,
    pending: Option<&PendingConsent>,
    server_name: Option<String>,
) -> ApiResult {
    page(&ConsentPage {
        status: PageStatus::Error,
        server_id: pending.map(|p| p.server_id.clone()),
        server_name,
        error_code: Some(e.code().to_owned()),
        message: e.message(),
        return_origin: pending.and_then(|p| p.return_origin.clone()),
    })
}

/// `GET /service/mcp/consent/callback`: consume the state, check it and `iss`, exchange the
/// code, store the tokens sealed. Any failure answers a 400 page and stores nothing.
pub async fn callback(req: &Request, db: &D1Database, s: &Settings) -> ApiResult {
    let query = req.url()?.query().unwrap_or_default().to_owned();
    let params = parse_callback_query(&query);
    let state = match state_param(&params) {
        Ok(st) => st.to_owned(),
        Err(e) => return error_page(&e, None, None),
    };
    let hash = state_hash(&state);
    let Some(row) = store::take_pending(db, &hash).await? else {
        return error_page(&CallbackError::UnknownState, None, None);
    };
    let mut pending: PendingConsent =
        match seal::open(&s.seal_key, &row.sealed, pending_aad(&hash).as_bytes())
            .ok()
            .and_then(|p| serde_json::from_slice::<PendingConsent>(&p).ok())
            .filter(|p| p.server_id == row.server_id && p.actor_id == row.actor_id)
        {
            Some(p) => p,
            None => return error_page(&CallbackError::UnknownState, None, None),
        };
    // The row's expiry column and the sealed record agree unless someone edited the row; the
    // earlier one counts.
    pending.expires_at = pending.expires_at.min(row.expires_at as u64);
    let server = match store::get_server(db, &pending.server_id).await? {
        Some(server) => server,
        None => return error_page(&CallbackError::UnknownState, Some(&pending), None),
    };
    let name = Some(server.name.clone());
    let code = match check_callback(&params, &pending, now()) {
        Ok(code) => code,
        Err(e) => return error_page(&e, Some(&pending), name),
    };
    let config = open_config(&server, s)?;
    let tc = config.auth.as_ref().and_then(AuthConfig::token_client);
    let (token_url, client) = tc.map(|t| (t.token_url, t.client)).unwrap_or((None, None));
    let (Some(token_url), Some(client)) = (token_url, client) else {
        return error_page(&CallbackError::Storage, Some(&pending), name);
    };
    let request = match authorization_code_request(
        &token_url,
        &client,
        &code,
        &pending.redirect_uri,
        &pending.code_verifier,
        &pending.resource,
    ) {
        Ok(r) => r,
        Err(_) => return error_page(&CallbackError::Storage, Some(&pending), name),
    };
    let transport = s.transport();
    let response = match transport.send(request).await {
        Ok(r) => r,
        Err(e) => {
            worker::console_warn!("token exchange: {}", e.message);
            let failure = CallbackError::TokenExchange {
                status: 0,
                error: None,
                description: None,
                note: Some(match e.kind {
                    crate::transport::TransportErrorKind::Timeout => {
                        "the token endpoint did not answer in time".into()
                    }
                    crate::transport::TransportErrorKind::Blocked => {
                        "the token endpoint is a refused target".into()
                    }
                    _ => "the token endpoint could not be reached".into(),
                }),
            };
            return error_page(&failure, Some(&pending), name);
        }
    };
    let tokens = match parse_token_response(&response, now()) {
        Ok(t) => t,
        Err(failure) => {
            // discovery.md §7: client_secret_basic refused -> one client_secret_post retry.
            let build = |c: &crate::token::ClientAuth| {
                let (redirect, verifier) = (&pending.redirect_uri, &pending.code_verifier);
                authorization_code_request(
                    &token_url,
                    c,
                    &code,
                    redirect,
                    verifier,
                    &pending.resource,
                )
            };
            match super::clients::retry_as_post(db, s, &server, &client, &failure, &build).await {
                Some(t) => t,
                None => return error_page(&CallbackError::from(&failure), Some(&pending), name),
            }
        }
    };
    let sealed = super::tokens::seal_tokens(s, &pending.server_id, &pending.actor_id, &tokens)?;
    store::put_connection(
        db,
        &pending.server_id,
        &pending.actor_id,
        &sealed,
        tokens.expires_at,
        &rfc3339(now()),
    )
    .await?;
    store::protocol::clear_step_up(db, &pending.server_id, &pending.actor_id).await?;
    page(&ConsentPage {
        status: PageStatus::Connected,
        server_id: Some(pending.server_id.clone()),
        server_name: name,
        error_code: None,
        message: "The server is connected. You can close this window.".into(),
        return_origin: pending.return_origin.clone(),
    })
}
