//! The consent flow, bound to the browser that started it (browser.md §1): `connect`, the start
//! route, the callback and the flow-status route, plus the runtime discovery route (§4).
//! The rules are in [`crate::consent`]; this module reads headers, talks to D1 and builds
//! responses.

use serde_json::{json, Value};
use worker::{D1Database, Headers, Request, Response};

use super::callers::authenticate_ticket;
use super::error::{ApiError, ApiResult};
use super::http::{json_response, optional_json_body, read_capped};
use super::sealed::pending_aad;
use super::servers::{check_id, load, open_config, require_attached};
use super::store::flows::{self as store, NewFlow, PendingRow};
use super::store::get_server;
use super::{now, rfc3339, Settings};
use crate::authorize::{build_authorization_url, AuthorizationRequest};
use crate::config::AuthConfig;
use crate::consent::{
    check_binding, check_callback, check_flow_config, check_return_to, check_start_origin,
    clear_cookie, cookie_name, cookie_values, new_nonce, parse_callback_query, render, return_url,
    secret_hash, set_cookie, state_param, CallbackError, CallbackParams, ConsentPage, FlowOutcome,
    PageStatus, PendingConsent, StartError, FIELD_FLOW_ID, FIELD_START_TOKEN, OUTCOME_TTL_SECS,
    PENDING_TTL_SECS, START_PATH, START_TTL_SECS,
};
use crate::provision::Provider;
use crate::ticket::TicketClaims;
use crate::token::{authorization_code_request, parse_token_response};
use crate::transport::{Transport, TransportErrorKind};
use crate::{pkce, seal};

/// Largest start form accepted (two short fields).
const MAX_FORM_BYTES: usize = 4096;

fn random() -> ApiResult<String> {
    pkce::generate_state().map_err(|_| ApiError::Internal {
        what_failed: "The Worker's random source failed while making a consent's state",
    })
}

/// Counts a call of `kind` by `actor` in the current minute; 429 `rate_limited` past `limit`.
async fn rate_limit(db: &D1Database, kind: &'static str, actor: &str, limit: u64) -> ApiResult<()> {
    let t = now();
    let bucket = format!("{kind}:{}", secret_hash(actor));
    let count = store::hit_rate(db, &bucket, t - t % 60).await?;
    if count > limit {
        let wait = 60 - t % 60;
        return Err(ApiError::RateLimited {
            what: kind,
            limit,
            retry_after: wait,
        });
    }
    Ok(())
}

/// `POST /service/mcp/agents/{agent}/servers/{id}/connect` `{return_to?}`.
pub async fn connect(
    req: &mut Request,
    db: &D1Database,
    s: &Settings,
    claims: &TicketClaims,
    agent: &str,
    id: &str,
) -> ApiResult {
    check_id(id, "id")?;
    rate_limit(db, "connect", &claims.actor_id, s.connect_per_minute).await?;
    let body = optional_json_body(req).await?;
    let return_to = match body.get("return_to") {
        None | Some(Value::Null) => None,
        Some(Value::String(url)) => Some(
            check_return_to(url, &s.allowed_origins).map_err(|_| ApiError::ReturnToNotAllowed)?,
        ),
        Some(_) => {
            return Err(ApiError::InvalidType {
                path: "return_to".into(),
                message: "return_to must be a string (a URL of the app).".into(),
            })
        }
    };
    if let Some(key) = body
        .as_object()
        .and_then(|o| o.keys().find(|k| k.as_str() != "return_to"))
    {
        return Err(ApiError::UnknownField {
            path: key.to_owned(),
            message: format!("connect takes only return_to (got {key})."),
        });
    }
    require_attached(db, agent, id).await?;
    let row = load(db, id).await?;
    let config = open_config(&row, s)?;
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
        _ => return Ok(json_response(&json!({ "requires_oauth": false }), 200)),
    };
    let provider: Provider = serde_json::from_str(&row.provider).unwrap_or_default();
    if provider.pkce_s256_supported == Some(false) && !allow_unadvertised {
        return Err(ApiError::PkceNotAdvertised);
    }
    let (Some(client_id), Some(auth_url)) = (client_id, auth_url) else {
        return Err(ApiError::NotConfigured {
            lacks: "client_id or auth_url",
        });
    };
    let resource = resource.unwrap_or_else(|| config.endpoint.clone());
    let scopes =
        super::step_ups::connect_scopes(db, id, &claims.actor_id, &scopes, &provider).await?;
    let pkce = pkce::generate().map_err(|_| ApiError::Internal {
        what_failed: "The Worker's random source failed while making a PKCE verifier",
    })?;
    let state = random()?;
    let flow_id = random()?;
    let start_token = random()?;
    let created_at = now();
    // The redirect URI the server's client was registered with (its own: issue 9 item 1).
    let redirect_uri = super::clients::redirect_uri_for(s, &provider);
    let authorization_url = build_authorization_url(&AuthorizationRequest {
        auth_url,
        client_id,
        redirect_uri: redirect_uri.clone(),
        state: state.clone(),
        code_challenge: pkce.code_challenge.clone(),
        scopes,
        resource: resource.clone(),
    })
    .map_err(|e| ApiError::Unconfigurable { reason: e.message })?;
    let pending = PendingConsent {
        state: state.clone(),
        actor_id: claims.actor_id.clone(),
        agent_id: agent.to_owned(),
        server_id: id.to_owned(),
        redirect_uri,
        code_verifier: pkce.code_verifier.clone(),
        issuer: provider.issuer.clone(),
        iss_required: provider.authorization_response_iss_parameter_supported,
        resource,
        return_origin: None,
        flow_id: flow_id.clone(),
        return_to,
        authorization_url,
        created_at,
        expires_at: created_at + PENDING_TTL_SECS,
        config_version: Some(row.config_version as u64),
    };
    let state_hash = secret_hash(&state);
    let plain = serde_json::to_vec(&pending).map_err(|_| ApiError::Internal {
        what_failed: "The pending consent could not be written as JSON",
    })?;
    let sealed =
        seal::seal(&s.seal_key, &plain, pending_aad(&state_hash).as_bytes()).map_err(|_| {
            ApiError::Internal {
                what_failed: "The pending consent could not be sealed",
            }
        })?;
    let start_hash = secret_hash(&start_token);
    store::put_flow(
        db,
        &NewFlow {
            flow_id: &flow_id,
            state_hash: &state_hash,
            start_hash: &start_hash,
            server_id: id,
            actor_id: &claims.actor_id,
            sealed: &sealed,
            start_expires_at: created_at + START_TTL_SECS,
            expires_at: pending.expires_at,
        },
        created_at,
        created_at + OUTCOME_TTL_SECS,
    )
    .await?;
    Ok(json_response(
        &json!({
            "requires_oauth": true,
            "flow_id": flow_id,
            "expires_at": rfc3339(pending.expires_at),
            "consent": {
                "url": format!("{}{START_PATH}", s.public_origin),
                "method": "POST",
                "fields": { FIELD_FLOW_ID: flow_id, FIELD_START_TOKEN: start_token },
            },
        }),
        200,
    ))
}

fn page(p: &ConsentPage, set_cookie: Option<&str>) -> ApiResult {
    let rendered = render(p, &new_nonce());
    let headers = Headers::new();
    for (k, v) in &rendered.headers {
        headers.set(k, v)?;
    }
    if let Some(c) = set_cookie {
        headers.append("set-cookie", c)?;
    }
    Ok(Response::ok(rendered.body)?
        .with_status(rendered.status)
        .with_headers(headers))
}

/// An error page that notifies nobody (no trusted opener or flow).
fn plain_error(code: &str, message: String) -> ApiResult {
    page(
        &ConsentPage {
            status: PageStatus::Error,
            server_id: None,
            server_name: None,
            error_code: Some(code.to_owned()),
            message,
            return_origin: None,
            flow_id: None,
        },
        None,
    )
}

fn start_refused(e: StartError) -> ApiResult {
    plain_error(e.code(), e.message())
}

/// `POST /service/mcp/consent/start` (form: `flow_id`, `start_token`): binds the flow to this
/// browser and sends it to the provider.
pub async fn start(req: &mut Request, db: &D1Database, s: &Settings) -> ApiResult {
    let origin = req.headers().get("origin").ok().flatten();
    let origin = match check_start_origin(origin.as_deref(), &s.allowed_origins) {
        Ok(o) => o,
        Err(e) => return start_refused(e),
    };
    let Ok(bytes) = read_capped(req, MAX_FORM_BYTES).await else {
        return start_refused(StartError::StartTokenInvalid);
    };
    let (mut flow_id, mut token) = (None, None);
    for (k, v) in url::form_urlencoded::parse(&bytes) {
        match k.as_ref() {
            FIELD_FLOW_ID => flow_id = Some(v.into_owned()),
            FIELD_START_TOKEN => token = Some(v.into_owned()),
            _ => {}
        }
    }
    let (Some(flow_id), Some(token)) = (flow_id, token) else {
        return start_refused(StartError::StartTokenInvalid);
    };
    if flow_id.is_empty() || flow_id.len() > 128 || token.is_empty() || token.len() > 128 {
        return start_refused(StartError::StartTokenInvalid);
    }
    let binding = random()?;
    let row = store::start_flow(
        db,
        &flow_id,
        &secret_hash(&token),
        &secret_hash(&binding),
        &origin,
        now(),
    )
    .await?;
    let Some(row) = row else {
        return start_refused(StartError::StartTokenInvalid);
    };
    let Some(pending) = open_pending(s, &row) else {
        return plain_error(
            CallbackError::Storage.code(),
            CallbackError::Storage.message(),
        );
    };
    // The authorization URL belongs to the config the flow started under.
    let current = match get_server(db, &pending.server_id).await? {
        Some(server) => check_flow_config(&pending, server.config_version as u64),
        None => Err(CallbackError::UnknownState),
    };
    if let Err(e) = current {
        return plain_error(e.code(), e.message());
    }
    let Ok(location) = url::Url::parse(&pending.authorization_url) else {
        return plain_error(
            CallbackError::Storage.code(),
            CallbackError::Storage.message(),
        );
    };
    let headers = Headers::new();
    headers.set("location", location.as_str())?;
    headers.append(
        "set-cookie",
        &set_cookie(&flow_id, &binding, s.secure_cookies(), PENDING_TTL_SECS),
    )?;
    headers.set("cache-control", "no-store")?;
    headers.set("referrer-policy", "no-referrer")?;
    Ok(Response::empty()?.with_status(303).with_headers(headers))
}

fn open_pending(s: &Settings, row: &PendingRow) -> Option<PendingConsent> {
    let plain = seal::open(
        &s.seal_key,
        &row.sealed,
        pending_aad(&row.state_hash).as_bytes(),
    )
    .ok()?;
    let mut p: PendingConsent = serde_json::from_slice(&plain).ok()?;
    if p.server_id != row.server_id
        || p.actor_id != row.actor_id
        || row.flow_id.as_deref() != Some(p.flow_id.as_str())
    {
        return None;
    }
    // The row's expiry column and the sealed record agree unless someone edited the row; the
    // earlier one counts.
    p.expires_at = p.expires_at.min(row.expires_at as u64);
    p.return_origin = row.opener_origin.clone();
    Some(p)
}

/// `GET /service/mcp/consent/callback`. Every answer is an HTML page (or, in redirect mode, a
/// 303 back to the app); a failure stores no connection.
pub async fn callback(req: &Request, db: &D1Database, s: &Settings) -> ApiResult {
    let query = req.url()?.query().unwrap_or_default().to_owned();
    let params = parse_callback_query(&query);
    let state = match state_param(&params) {
        Ok(st) => st.to_owned(),
        Err(e) => return plain_error(e.code(), e.message()),
    };
    let hash = secret_hash(&state);
    let invalid = || {
        plain_error(
            CallbackError::UnknownState.code(),
            CallbackError::UnknownState.message(),
        )
    };
    let row = match store::take_pending(db, &hash).await {
        Ok(Some(row)) => row,
        Ok(None) => return invalid(),
        Err(e) => {
            worker::console_error!("callback: reading the pending consent failed: {e}");
            return plain_error(
                CallbackError::Storage.code(),
                CallbackError::Storage.message(),
            );
        }
    };
    let Some(pending) = open_pending(s, &row) else {
        return invalid();
    };
    let cookie_header = req.headers().get("cookie").ok().flatten();
    let cookies = cookie_values(
        cookie_header.as_deref(),
        &cookie_name(&pending.flow_id, s.secure_cookies()),
    );
    if let Err(e) = check_binding(&cookies, row.binding_hash.as_deref()) {
        // Another browser: the flow is over for everyone (its state is consumed) and this
        // page notifies no one.
        record(db, &pending.flow_id, Some(&e)).await;
        super::connections::failed(db, s, &pending.server_id, &pending.actor_id, e.code()).await;
        return plain_error(e.code(), e.message());
    }
    // A response bounced through another server's client arrives at that server's redirect
    // URI (mix-up, RFC 9700 §4.4.2): refused before anything is exchanged.
    if !crate::authorize::redirect_matches(&pending.redirect_uri, &query) {
        let e = CallbackError::UnknownState;
        record(db, &pending.flow_id, Some(&e)).await;
        return plain_error(e.code(), e.message());
    }
    let (name, result) = complete(&params, &pending, db, s).await;
    record(db, &pending.flow_id, result.as_ref().err()).await;
    // Events: connection.connected / connection.failed (with the page's error code).
    match &result {
        Ok(()) => super::connections::connected(db, s, &pending.server_id, &pending.actor_id).await,
        Err(e) => {
            super::connections::failed(db, s, &pending.server_id, &pending.actor_id, e.code()).await
        }
    }
    let outcome = FlowOutcome {
        flow_id: pending.flow_id.clone(),
        server_id: pending.server_id.clone(),
        error_code: result.as_ref().err().map(|e| e.code().to_owned()),
    };
    let clear = clear_cookie(&pending.flow_id, s.secure_cookies());
    if let Some(return_to) = &pending.return_to {
        let headers = Headers::new();
        headers.set("location", &return_url(return_to, &outcome))?;
        headers.append("set-cookie", &clear)?;
        headers.set("cache-control", "no-store")?;
        headers.set("referrer-policy", "no-referrer")?;
        return Ok(Response::empty()?.with_status(303).with_headers(headers));
    }
    let p = match &result {
        Ok(()) => ConsentPage::connected(&pending, name),
        Err(e) => ConsentPage::error(e, Some(&pending), name),
    };
    page(&p, Some(&clear))
}

/// Stores a flow's outcome; a failure is logged (the page still tells the person).
async fn record(db: &D1Database, flow_id: &str, error: Option<&CallbackError>) {
    let message = error.map(CallbackError::message);
    let e = error.map(|e| e.code()).zip(message.as_deref());
    if let Err(err) = store::finish_flow(db, flow_id, e, now() + OUTCOME_TTL_SECS).await {
        worker::console_error!("callback: recording the flow outcome failed: {err}");
    }
}

/// The checks, the code exchange and the storage. Gives the server's name (when known) and the
/// outcome; every failure is a [`CallbackError`], never an API error.
async fn complete(
    params: &CallbackParams,
    pending: &PendingConsent,
    db: &D1Database,
    s: &Settings,
) -> (Option<String>, Result<(), CallbackError>) {
    let server = match get_server(db, &pending.server_id).await {
        Ok(Some(server)) => server,
        Ok(None) => return (None, Err(CallbackError::UnknownState)),
        Err(e) => {
            worker::console_error!("callback: reading the server failed: {e}");
            return (None, Err(CallbackError::Storage));
        }
    };
    let name = Some(server.name.clone());
    let result = exchange(params, pending, &server, db, s).await;
    (name, result)
}

async fn exchange(
    params: &CallbackParams,
    pending: &PendingConsent,
    server: &super::store::ServerRow,
    db: &D1Database,
    s: &Settings,
) -> Result<(), CallbackError> {
    // Before anything is sent: the config read here is the one the flow started under.
    let version = server.config_version as u64;
    check_flow_config(pending, version)?;
    let code = check_callback(params, pending, now())?;
    let config = open_config(server, s).map_err(|_| CallbackError::Storage)?;
    let tc = config.auth.as_ref().and_then(AuthConfig::token_client);
    let (token_url, client) = tc.map(|t| (t.token_url, t.client)).unwrap_or((None, None));
    let (Some(token_url), Some(client)) = (token_url, client) else {
        return Err(CallbackError::Storage);
    };
    if s.policy().check_str(&token_url).is_err() {
        return Err(CallbackError::BlockedTarget);
    }
    let request = authorization_code_request(
        &token_url,
        &client,
        &code,
        &pending.redirect_uri,
        &pending.code_verifier,
        &pending.resource,
    )
    .map_err(|_| CallbackError::Storage)?;
    let response = match s.transport().send(request).await {
        Ok(r) => r,
        Err(e) => {
            worker::console_warn!("token exchange: {}", e.message);
            let note = match e.kind {
                TransportErrorKind::Blocked => return Err(CallbackError::BlockedTarget),
                TransportErrorKind::Timeout => "the token endpoint did not answer in time",
                _ => "the token endpoint could not be reached",
            };
            return Err(CallbackError::TokenExchange {
                status: 0,
                error: None,
                description: None,
                note: Some(note.into()),
            });
        }
    };
    let tokens = match parse_token_response(&response, now()) {
        Ok(t) => t,
        // discovery.md §7: client_secret_basic refused -> one client_secret_post retry.
        Err(failure) => {
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
            match super::clients::retry_as_post(db, s, server, &client, &failure, &build).await {
                Some(t) => t,
                None => {
                    // discovery.md §7: a DCR client the provider no longer knows is registered
                    // once more; the person connects again with it.
                    if failure.error() == Some("invalid_client") {
                        let again =
                            super::clients::register_again_after_invalid_client(db, s, server);
                        if let Err(e) = again.await {
                            worker::console_warn!("callback: re-registration: {}", e.code());
                        }
                    }
                    return Err(CallbackError::from(&failure));
                }
            }
        }
    };
    let sealed = super::sealed::seal_tokens(s, &pending.server_id, &pending.actor_id, &tokens)
        .map_err(|_| CallbackError::Storage)?;
    let stored = super::store::put_connection(
        db,
        &pending.server_id,
        &pending.actor_id,
        &sealed,
        tokens.expires_at,
        &rfc3339(now()),
        version,
    )
    .await
    .map_err(|e| {
        worker::console_error!("callback: storing the connection failed: {e}");
        CallbackError::Storage
    })?;
    if !stored {
        // The config changed during the exchange: the tokens belong to the old one.
        return Err(CallbackError::ServerChanged);
    }
    // A consent completed: a pending step-up of this connection is satisfied.
    super::store::protocol::clear_step_up(db, &pending.server_id, &pending.actor_id)
        .await
        .map_err(|_| CallbackError::Storage)
}

/// `GET /service/mcp/consent/flows/{flow_id}`: the starter's view of a flow.
pub async fn status(req: &Request, db: &D1Database, s: &Settings, flow_id: &str) -> ApiResult {
    let claims = authenticate_ticket(req, s)?;
    if flow_id.is_empty() || flow_id.len() > 128 {
        return Err(ApiError::FlowNotFound);
    }
    let Some(row) = store::get_flow(db, flow_id).await? else {
        return Err(ApiError::FlowNotFound);
    };
    if row.actor_id != claims.actor_id {
        return Err(ApiError::FlowNotFound);
    }
    let t = now() as f64;
    let (status, error) = match row.status.as_str() {
        "pending" if row.expires_at <= t => (
            "error",
            Some(
                json!({"code": "consent_expired", "message": "The consent was not completed within 15 minutes. Connect again."}),
            ),
        ),
        "pending" => ("pending", None),
        _ if row.expires_at <= t => return Err(ApiError::FlowNotFound),
        "connected" => ("connected", None),
        _ => (
            "error",
            Some(json!({
                "code": row.error_code.unwrap_or_else(|| "consent_failed".into()),
                "message": row.error_message.unwrap_or_default(),
            })),
        ),
    };
    let mut body = json!({ "flow_id": row.flow_id, "server_id": row.server_id, "status": status });
    if let Some(e) = error {
        body["error"] = e;
    }
    Ok(json_response(&body, 200))
}

/// `POST /service/mcp/discover` `{endpoint}`: discovery at the edge for a browser whose own
/// try could not read an answer (CORS), with the Worker's outbound policy.
pub async fn discover_route(req: &mut Request, db: &D1Database, s: &Settings) -> ApiResult {
    let claims = authenticate_ticket(req, s)?;
    rate_limit(db, "discover", &claims.actor_id, s.discover_per_minute).await?;
    super::servers::discover_body(req, s).await
}

/// The page of a consent navigation (start or callback) that failed inside the Worker (D1
/// unreachable, no random source): never a JSON error in the person's window.
pub fn navigation_failure(e: ApiError) -> ApiResult {
    worker::console_error!("consent navigation failed: {}", e.code());
    plain_error(
        "internal_error",
        "The service could not complete this step of connecting, so nothing was connected. \
         Start connecting again from the app; if it happens again, tell the administrator."
            .to_owned(),
    )
}
