//! The control plane (`/ai/...`, `Authorization: Bearer <ADMIN_API_KEY>`): discovery, servers,
//! attachments, session tickets and the agent runtime's access-token route.

use serde_json::{json, Value};
use worker::{D1Database, Method, Request};

use super::error::{ApiError, ApiResult};
use super::events::{self, Kind};
use super::http::{json_body, json_response, no_content};
use super::idempotency::{self, Begin};
use super::servers::{check_id, check_platform_id, load, open_config, row_for, server_json};
use super::store;
use super::{connections, now, rfc3339, Settings};
use crate::config::{validate_server_config, AuthConfig};
use crate::discovery::{discover, DiscoverOptions};
use crate::merge_patch;
use crate::provision::{provision, Provider, Provisioned};
use crate::ticket::{self, TicketClaims};

pub async fn route(
    m: Method,
    segs: &[&str],
    req: &mut Request,
    db: &D1Database,
    s: &Settings,
) -> ApiResult {
    match (m, segs) {
        (Method::Post, ["mcp-servers", "discover"]) => super::servers::discover_body(req, s).await,
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
                Err(ApiError::NotFound { what: "server" })
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
        (Method::Post, ["session-tickets"]) => {
            match idempotency::begin(req, db, s, "session-tickets.create").await? {
                Begin::Replay(answer) => Ok(answer),
                Begin::Run(claim) => {
                    idempotency::finish(db, s, claim, session_ticket(req, s).await).await
                }
            }
        }
        _ => Err(ApiError::NoRoute),
    }
}

async fn run_provision(input: &Value, s: &Settings, id: &str) -> ApiResult<Provisioned> {
    let targets = super::clients::ProvisionTargets::for_server(s, id);
    let options = targets.options();
    provision(input, &s.transport(), &options)
        .await
        .map_err(ApiError::Provision)
}

fn new_id() -> ApiResult<String> {
    let mut bytes = [0u8; 12];
    getrandom::fill(&mut bytes).map_err(|_| ApiError::Internal {
        what_failed: "The Worker's random source failed while making a server id",
    })?;
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
                return Err(ApiError::InvalidValue {
                    path: "limit".into(),
                    message: "limit must be 1 to 200.".into(),
                })
            }
            ("offset", _) => {
                return Err(ApiError::InvalidValue {
                    path: "offset".into(),
                    message: "offset must be a whole number.".into(),
                })
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
        return Err(ApiError::UnknownField {
            path: k.clone(),
            message: format!("{k} is not a field of a server update: send name and/or config (a JSON merge patch)."),
        });
    }
    merge_patch::strip_read_only(&mut patch);
    let old_config = open_config(&row, s)?;
    let old_provider: Provider = serde_json::from_str(&row.provider).unwrap_or_default();
    let mut merged = json!({ "name": row.name, "config": serde_json::to_value(&old_config).unwrap_or(Value::Null) });
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
            validate_server_config(&merged, s.policy()).map_err(|errors| ApiError::Invalid {
                errors,
                discovery: None,
            })?;
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
        return Err(ApiError::ServerChanged);
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
        return Err(ApiError::Required {
            path: "agent_ids".into(),
            message: "agent_ids must be an array of agent ids.".into(),
        });
    };
    let mut agent_ids = Vec::new();
    for (i, a) in agents.iter().enumerate() {
        let a = a.as_str().unwrap_or_default();
        check_platform_id(a, &format!("agent_ids[{i}]"))?;
        agent_ids.push(a.to_owned());
    }
    if agent_ids.is_empty() || agent_ids.len() > ticket::MAX_AGENT_IDS {
        let message = format!("agent_ids must name 1 to {} agents.", ticket::MAX_AGENT_IDS);
        return Err(ApiError::InvalidValue {
            path: "agent_ids".into(),
            message,
        });
    }
    let ttl = match body.get("ttl_seconds") {
        None | Some(Value::Null) => 3600,
        Some(v) => match v.as_u64() {
            Some(t) if (1..=86_400).contains(&t) => t,
            _ => {
                return Err(ApiError::InvalidValue {
                    path: "ttl_seconds".into(),
                    message: "ttl_seconds must be 1 to 86400.".into(),
                })
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
    let ticket = ticket::issue(&s.ticket_key, &claims).map_err(|e| ApiError::InvalidValue {
        path: "agent_ids".into(),
        message: format!("actor_id and agent_ids are too long together: {e}."),
    })?;
    Ok(json_response(
        &json!({ "ticket": ticket, "expires_at": rfc3339(claims.expires_at) }),
        201,
    ))
}
