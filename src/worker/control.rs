//! The control plane (`/ai/...`, `Authorization: Bearer <ADMIN_API_KEY>`): discovery, servers,
//! attachments, session tickets and the agent runtime's access-token route.

use serde_json::{json, Value};
use worker::{D1Database, Method, Request};

use super::events::{self, Kind};
use super::http::{
    bearer, json_body, json_response, no_content, secrets_equal, ApiError, ApiResult,
};
use super::idempotency::{self, Begin};
use super::store::{self, ServerRow};
use super::{challenge, connections, not_found, now, rfc3339, tokens, Settings};
use crate::config::{validate_server_config, AuthConfig, ServerConfig, ServerConfigBody};
use crate::discovery::{discover, DiscoverOptions};
use crate::error::{Error, ErrorCode};
use crate::provision::{provision, Provider, ProvisionError, ProvisionOptions, Provisioned};
use crate::registration::RegistrationFailure;
use crate::ticket::{self, is_valid_platform_id, is_valid_server_id, TicketClaims};
use crate::{merge_patch, seal};

pub fn authenticate(req: &Request, s: &Settings) -> ApiResult<()> {
    match bearer(req) {
        Some(token) if secrets_equal(&token, &s.admin_key) => Ok(()),
        _ => Err(ApiError::new(
            401,
            "unauthorized",
            "Send Authorization: Bearer <ADMIN_API_KEY>.",
        )),
    }
}

pub async fn route(
    m: Method,
    segs: &[&str],
    req: &mut Request,
    db: &D1Database,
    s: &Settings,
) -> ApiResult {
    match (m, segs) {
        (Method::Post, ["mcp-servers", "discover"]) => discover_route(req, s).await,
        (Method::Post, ["mcp-servers"]) => {
            match idempotency::begin(req, db, s, "servers.create").await? {
                Begin::Replay(answer) => Ok(answer),
                Begin::Run(claim) => {
                    idempotency::finish(db, s, claim, create(req, db, s).await).await
                }
            }
        }
        (Method::Get, ["mcp-servers"]) => list(req, db).await,
        (Method::Get, ["mcp-servers", id]) => {
            Ok(json_response(&server_json(&load(db, id).await?), 200))
        }
        (Method::Patch, ["mcp-servers", id]) => update(req, db, s, id).await,
        (Method::Delete, ["mcp-servers", id]) => {
            check_id(id, "id")?;
            // Connections are revoked at the provider while the server's client is known.
            connections::end_all_of_server(db, s, id, "server_deleted").await?;
            if store::delete_server(db, id).await? {
                events::record(db, s, Kind::ServerDeleted, json!({ "server_id": id })).await;
                Ok(no_content())
            } else {
                Err(ApiError::not_found("server"))
            }
        }
        (Method::Post, ["agents", agent, "mcp-servers", id, "attach"]) => {
            check_platform_id(agent, "agent_id")?;
            load(db, id).await?;
            store::attach(db, agent, id, &rfc3339(now())).await?;
            Ok(no_content())
        }
        (Method::Post, ["agents", agent, "mcp-servers", id, "detach"]) => {
            check_platform_id(agent, "agent_id")?;
            check_id(id, "id")?;
            store::detach(db, agent, id).await?;
            connections::drop_pending_of_agent(db, s, agent, id).await?;
            Ok(no_content())
        }
        (Method::Get, ["agents", agent, "mcp-servers"]) => {
            check_platform_id(agent, "agent_id")?;
            let items: Vec<Value> = store::agent_servers(db, agent)
                .await?
                .iter()
                .map(server_json)
                .collect();
            Ok(json_response(&json!({ "items": items }), 200))
        }
        (Method::Post, ["agents", agent, "mcp-servers", id, "access-token"]) => {
            tokens::access_token(req, db, s, agent, id).await
        }
        (Method::Post, ["agents", agent, "mcp-servers", id, "challenge"]) => {
            challenge::challenge(req, db, s, agent, id).await
        }
        (Method::Post, ["session-tickets"]) => {
            match idempotency::begin(req, db, s, "session-tickets.create").await? {
                Begin::Replay(answer) => Ok(answer),
                Begin::Run(claim) => {
                    idempotency::finish(db, s, claim, session_ticket(req, s).await).await
                }
            }
        }
        _ => Err(not_found()),
    }
}

/// A server id (the Worker generates them): 400 unless 1 to 128 of `[A-Za-z0-9._:-]`.
pub fn check_id(id: &str, field: &str) -> ApiResult<()> {
    if is_valid_server_id(id) {
        Ok(())
    } else {
        Err(ApiError::at(
            400,
            "invalid_value",
            format!("{field} must be 1 to 128 characters from [A-Za-z0-9._:-]"),
            field,
        ))
    }
}

/// A platform's id (`actor_id`, `agent_id`): 400 unless 1 to 255 characters, no control
/// characters. Used as given.
pub fn check_platform_id(id: &str, field: &str) -> ApiResult<()> {
    if is_valid_platform_id(id) {
        Ok(())
    } else {
        Err(ApiError::at(
            400,
            "invalid_value",
            format!(
                "{field} must be 1 to {} characters with no control characters",
                ticket::MAX_ID_CHARS
            ),
            field,
        ))
    }
}

/// 404 unless the server is attached to the agent.
pub async fn require_attached(db: &D1Database, agent: &str, id: &str) -> ApiResult<()> {
    if store::is_attached(db, agent, id).await? {
        Ok(())
    } else {
        Err(ApiError::new(
            404,
            "not_found",
            "This server is not attached to the agent.",
        ))
    }
}

pub async fn load(db: &D1Database, id: &str) -> ApiResult<ServerRow> {
    check_id(id, "id")?;
    store::get_server(db, id)
        .await?
        .ok_or_else(|| ApiError::not_found("server"))
}

/// The server object of the API: secrets removed, flags in their place.
pub fn server_json(row: &ServerRow) -> Value {
    json!({
        "id": row.id,
        "name": row.name,
        "config": serde_json::from_str::<Value>(&row.config_public).unwrap_or(Value::Null),
        "provider": serde_json::from_str::<Value>(&row.provider).unwrap_or(Value::Null),
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    })
}

/// The full config of a stored server, secrets included.
pub fn open_config(row: &ServerRow, s: &Settings) -> ApiResult<ServerConfig> {
    let plain = seal::open(
        &s.seal_key,
        &row.config_sealed,
        config_aad(&row.id).as_bytes(),
    )
    .map_err(|_| {
        ApiError::new(
            500,
            "unsealable",
            "A stored config could not be opened: was SEAL_KEY changed?",
        )
    })?;
    serde_json::from_slice(&plain)
        .map_err(|_| ApiError::new(500, "internal_error", "A stored config is unreadable."))
}

fn config_aad(id: &str) -> String {
    format!("server:{id}:config")
}

fn discovery_error(e: Error) -> ApiError {
    let status = match e.code {
        ErrorCode::Unreachable => 502,
        _ => 400,
    };
    ApiError::new(status, e.code.as_str(), e.message)
}

async fn discover_route(req: &mut Request, s: &Settings) -> ApiResult {
    let body = json_body(req).await?;
    let Some(endpoint) = body.get("endpoint").and_then(Value::as_str) else {
        return Err(ApiError::at(
            400,
            "required",
            "Send {\"endpoint\": \"https://...\"}.",
            "endpoint",
        ));
    };
    let options = DiscoverOptions {
        policy: s.policy(),
        ..Default::default()
    };
    let result = discover(endpoint, &s.transport(), &options)
        .await
        .map_err(discovery_error)?;
    Ok(json_response(&result, 200))
}

pub fn provision_error(e: ProvisionError) -> ApiError {
    match e {
        ProvisionError::Invalid(errors) => ApiError::invalid(&errors),
        ProvisionError::NotHydrated(errors, d) => ApiError::invalid(&errors).with("discovery_result", to_value(&d)),
        ProvisionError::Discovery(e) => discovery_error(e),
        ProvisionError::NoAuthorizationServer(d) => ApiError::at(
            502,
            "authorization_server_unusable",
            format!(
                "Discovery found no usable authorization server for this config: {} Supply auth_url, token_url \
                 and client credentials by hand, or fix the provider's metadata.",
                d.message
            ),
            "config.auth",
        )
        .with("discovery_result", to_value(&d)),
        ProvisionError::AuthRequired(d) => ApiError::at(
            400,
            "auth_required",
            format!("The server requires authorization: add config.auth ({}).", d.message),
            "config.auth",
        )
        .with("discovery_result", to_value(&d)),
        ProvisionError::Registration(RegistrationFailure::Unavailable) => ApiError::at(
            400,
            "registration_unavailable",
            "The provider has no registration endpoint: supply client_id (and client_secret for a confidential client) by hand.",
            "config.auth.client_id",
        ),
        ProvisionError::Registration(failure) => {
            let tries: Vec<Value> = failure.tries().iter().map(to_value).collect();
            let message = Error::from(failure).message;
            let mut errors = vec![json!({"code": "registration_failed", "message": message})];
            errors.extend(tries.iter().map(|t| {
                json!({"code": "registration_failed", "message": format!("{}: {}", t["method"].as_str().unwrap_or("?"),
                    t["error_description"].as_str().or(t["error"].as_str()).unwrap_or("failed")), "try": t})
            }));
            ApiError { status: 502, errors, extra: None }
        }
    }
}

fn to_value<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

async fn run_provision(input: &Value, s: &Settings, id: &str) -> ApiResult<Provisioned> {
    let callback = s.callback_url();
    let redirect = super::clients::server_redirect_uri(s, id);
    let cimd = super::clients::cimd_for(s, id);
    let options = ProvisionOptions {
        policy: s.policy(),
        callback_url: &callback,
        server_redirect_uri: Some(&redirect),
        cimd: cimd.as_ref().map(|(u, r)| (u.as_str(), r.as_str())),
        timeout_ms: crate::transport::DEFAULT_TIMEOUT_MS,
    };
    provision(input, &s.transport(), &options)
        .await
        .map_err(provision_error)
}

pub fn row_for(
    id: &str,
    p: &ServerConfigBody,
    provider: &Provider,
    s: &Settings,
    created_at: &str,
) -> ApiResult<ServerRow> {
    let full = serde_json::to_vec(&p.config)
        .map_err(|_| ApiError::new(500, "internal_error", "config"))?;
    let sealed = seal::seal(&s.seal_key, &full, config_aad(id).as_bytes())
        .map_err(|_| ApiError::new(500, "internal_error", "The config could not be sealed."))?;
    Ok(ServerRow {
        id: id.to_owned(),
        name: p.name.clone(),
        config_public: p.config.redacted().to_string(),
        config_sealed: sealed,
        provider: to_value(provider).to_string(),
        created_at: created_at.to_owned(),
        updated_at: rfc3339(now()),
        config_version: 1.0,
    })
}

fn new_id() -> ApiResult<String> {
    let mut bytes = [0u8; 12];
    getrandom::fill(&mut bytes)
        .map_err(|_| ApiError::new(500, "internal_error", "No random source."))?;
    Ok(format!(
        "srv-{}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    ))
}

async fn create(req: &mut Request, db: &D1Database, s: &Settings) -> ApiResult {
    let body = json_body(req).await?;
    // The id comes first: the server's own redirect URI carries it.
    let id = new_id()?;
    let p = run_provision(&body, s, &id).await?;
    let row = row_for(&id, &p.body, &p.provider, s, &rfc3339(now()))?;
    store::insert_server(db, &row).await?;
    events::record(
        db,
        s,
        Kind::ServerCreated,
        json!({ "server_id": id, "name": row.name }),
    )
    .await;
    // Where the config contradicts discovery: warnings, not errors (the operator may know better).
    let discovery = match (&p.discovery, &p.body.config.auth) {
        (Some(d), _) => Some(d.clone()),
        // Token servers are not discovered to be provisioned; for the warnings they are.
        (None, Some(AuthConfig::Token(_))) => {
            let options = DiscoverOptions {
                policy: s.policy(),
                ..Default::default()
            };
            discover(&p.body.config.endpoint, &s.transport(), &options)
                .await
                .ok()
        }
        (None, _) => None,
    };
    let warnings: Vec<crate::diagnose::Finding> = discovery
        .as_ref()
        .map(|d| crate::diagnose::compare(&p.body.config, None, d))
        .unwrap_or_default();
    Ok(json_response(
        &json!({ "server": server_json(&row), "discovery_result": p.discovery, "warnings": warnings }),
        201,
    ))
}

async fn list(req: &Request, db: &D1Database) -> ApiResult {
    let url = req.url()?;
    let mut limit = 50u32;
    let mut offset = 0u32;
    for (k, v) in url.query_pairs() {
        let parsed = v.parse::<u32>().ok();
        match (k.as_ref(), parsed) {
            ("limit", Some(n)) if (1..=200).contains(&n) => limit = n,
            ("offset", Some(n)) => offset = n,
            ("limit", _) => {
                return Err(ApiError::at(
                    400,
                    "invalid_value",
                    "limit must be 1 to 200.",
                    "limit",
                ))
            }
            ("offset", _) => {
                return Err(ApiError::at(
                    400,
                    "invalid_value",
                    "offset must be a whole number.",
                    "offset",
                ))
            }
            _ => {}
        }
    }
    let mut rows = store::list_servers(db, limit + 1, offset).await?;
    let has_more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let items: Vec<Value> = rows.iter().map(server_json).collect();
    Ok(json_response(
        &json!({ "items": items, "limit": limit, "offset": offset, "has_more": has_more }),
        200,
    ))
}

/// `PATCH /ai/mcp-servers/{id}`: a JSON merge patch (RFC 7396) of `{name, config}` on the
/// stored body, secrets included (`crate::merge_patch`). A patch touching `config` provisions
/// the merged config again; connections are dropped only when the endpoint, the issuer, the
/// client or the token endpoint changed, and the answer says so (`connections_dropped`). A
/// config write moves the server to its next config version (`store::update_server`).
async fn update(req: &mut Request, db: &D1Database, s: &Settings, id: &str) -> ApiResult {
    let row = load(db, id).await?;
    let mut patch = json_body(req).await?;
    let obj = patch.as_object().cloned().unwrap_or_default();
    if let Some(k) = obj
        .keys()
        .find(|k| !matches!(k.as_str(), "name" | "config"))
    {
        return Err(ApiError::at(
            400,
            "unknown_field",
            format!("{k} is not a field of a server update: send name and/or config (a JSON merge patch)."),
            k,
        ));
    }
    merge_patch::strip_read_only(&mut patch);
    let old_config = open_config(&row, s)?;
    let old_provider: Provider = serde_json::from_str(&row.provider).unwrap_or_default();
    let mut merged = json!({ "name": row.name, "config": to_value(&old_config) });
    merge_patch::replace_auth_on_type_change(&mut merged, &patch);
    merge_patch::apply(&mut merged, &patch);
    merge_patch::forget_discovered(&mut merged, &patch, &old_config.endpoint);
    let (new_row, dropped) = if obj.contains_key("config") {
        let p = run_provision(&merged, s, id).await?;
        let dropped = merge_patch::drops_connections(
            &old_config,
            old_provider.issuer.as_deref(),
            &p.body.config,
            p.provider.issuer.as_deref(),
        );
        let mut new_row = row_for(id, &p.body, &p.provider, s, &row.created_at)?;
        // Written only if the server is still at the version this patch was merged into.
        new_row.config_version = row.config_version;
        (new_row, dropped)
    } else {
        // A rename: the stored config stays; the name is checked by the same contract.
        let checked =
            validate_server_config(&merged, s.policy()).map_err(|e| ApiError::invalid(&e))?;
        let mut r = row.clone();
        r.name = checked.name;
        r.updated_at = rfc3339(now());
        (r, false)
    };
    if dropped {
        // Revoked with the old client, before the config changes.
        connections::end_all_of_server(db, s, id, "server_config_changed").await?;
    }
    if !obj.contains_key("config") {
        store::rename_server(db, &new_row).await?;
    } else if !store::update_server(db, &new_row, dropped).await? {
        return Err(ApiError::new(
            409,
            "server_changed",
            "Another update of this server was written while this one ran, so this patch was not applied: read the server again and send the patch again.",
        ));
    }
    if obj.contains_key("config") {
        store::protocol::clear_server_step_ups(db, id).await?;
    }
    let mut answer = server_json(&new_row);
    answer["connections_dropped"] = json!(dropped);
    Ok(json_response(&answer, 200))
}

async fn session_ticket(req: &mut Request, s: &Settings) -> ApiResult {
    let body = json_body(req).await?;
    let actor_id = body
        .get("actor_id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    check_platform_id(&actor_id, "actor_id")?;
    let Some(agents) = body.get("agent_ids").and_then(Value::as_array) else {
        return Err(ApiError::at(
            400,
            "required",
            "agent_ids must be an array of agent ids.",
            "agent_ids",
        ));
    };
    let mut agent_ids = Vec::new();
    for (i, a) in agents.iter().enumerate() {
        let a = a.as_str().unwrap_or_default();
        check_platform_id(a, &format!("agent_ids[{i}]"))?;
        agent_ids.push(a.to_owned());
    }
    if agent_ids.is_empty() || agent_ids.len() > ticket::MAX_AGENT_IDS {
        let message = format!("agent_ids must name 1 to {} agents.", ticket::MAX_AGENT_IDS);
        return Err(ApiError::at(400, "invalid_value", message, "agent_ids"));
    }
    let ttl = match body.get("ttl_seconds") {
        None | Some(Value::Null) => 3600,
        Some(v) => match v.as_u64() {
            Some(t) if (1..=86_400).contains(&t) => t,
            _ => {
                return Err(ApiError::at(
                    400,
                    "invalid_value",
                    "ttl_seconds must be 1 to 86400.",
                    "ttl_seconds",
                ))
            }
        },
    };
    let issued_at = now();
    let claims = TicketClaims {
        actor_id,
        agent_ids,
        issued_at,
        expires_at: issued_at + ttl,
    };
    let ticket = ticket::issue(&s.ticket_key, &claims).map_err(|e| {
        ApiError::at(
            400,
            "invalid_value",
            format!("actor_id and agent_ids are too long together: {e}."),
            "agent_ids",
        )
    })?;
    Ok(json_response(
        &json!({ "ticket": ticket, "expires_at": rfc3339(claims.expires_at) }),
        201,
    ))
}
