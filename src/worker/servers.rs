//! The servers service: the rules several routes share about a stored server (its ids, whether
//! it exists and is attached to an agent, its sealed config and its row). Routes parse and
//! answer; this module holds the shared rules; `store` holds the SQL.

use serde_json::{json, Value};
use worker::D1Database;

use super::error::{ApiError, ApiResult};
use super::store::{self, ServerRow};
use super::{now, rfc3339, Settings};
use crate::config::{ServerConfig, ServerConfigBody};
use crate::provision::Provider;
use crate::seal;
use crate::ticket::{is_valid_platform_id, is_valid_server_id};

/// A server id (the Worker generates them): 400 unless 1 to 128 of `[A-Za-z0-9._:-]`.
pub fn check_id(id: &str, field: &str) -> ApiResult<()> {
    if is_valid_server_id(id) {
        Ok(())
    } else {
        Err(ApiError::BadServerId {
            field: field.to_owned(),
        })
    }
}

/// A platform's id (`actor_id`, `agent_id`): 400 unless 1 to 255 characters, no control
/// characters. Used as given.
pub fn check_platform_id(id: &str, field: &str) -> ApiResult<()> {
    if is_valid_platform_id(id) {
        Ok(())
    } else {
        Err(ApiError::BadPlatformId {
            field: field.to_owned(),
        })
    }
}

/// 404 unless the server is attached to the agent.
pub async fn require_attached(db: &D1Database, agent: &str, id: &str) -> ApiResult<()> {
    if store::is_attached(db, agent, id).await? {
        Ok(())
    } else {
        Err(ApiError::NotAttached)
    }
}

/// The stored server `id`: 400 for an id that cannot be one, 404 when there is none.
pub async fn load(db: &D1Database, id: &str) -> ApiResult<ServerRow> {
    check_id(id, "id")?;
    store::get_server(db, id)
        .await?
        .ok_or(ApiError::NotFound { what: "server" })
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
    .map_err(|_| ApiError::Unsealable {
        what: "A stored config",
    })?;
    serde_json::from_slice(&plain).map_err(|_| ApiError::Internal {
        what_failed: "A stored config was opened but is not a config this Worker can read",
    })
}

fn config_aad(id: &str) -> String {
    format!("server:{id}:config")
}

/// The row that stores a provisioned server: its config sealed, a redacted copy public.
pub fn row_for(
    id: &str,
    p: &ServerConfigBody,
    provider: &Provider,
    s: &Settings,
    created_at: &str,
) -> ApiResult<ServerRow> {
    let full = serde_json::to_vec(&p.config).map_err(|_| ApiError::Internal {
        what_failed: "The server's config could not be written as JSON",
    })?;
    let sealed = seal::seal(&s.seal_key, &full, config_aad(id).as_bytes()).map_err(|_| {
        ApiError::Internal {
            what_failed: "The server's config could not be sealed",
        }
    })?;
    Ok(ServerRow {
        id: id.to_owned(),
        name: p.name.clone(),
        config_public: p.config.redacted().to_string(),
        config_sealed: sealed,
        provider: serde_json::to_value(provider)
            .unwrap_or(Value::Null)
            .to_string(),
        created_at: created_at.to_owned(),
        updated_at: rfc3339(now()),
        config_version: 1.0,
    })
}

/// Discovery of the `endpoint` a request body names, under the Worker's outbound policy: the
/// control plane's `discover` and the runtime plane's browser fallback answer the same.
pub async fn discover_body(req: &mut worker::Request, s: &Settings) -> ApiResult {
    let body = super::http::json_body(req).await?;
    let Some(endpoint) = body.get("endpoint").and_then(Value::as_str) else {
        return Err(ApiError::Required {
            path: "endpoint".into(),
            message: "Send {\"endpoint\": \"https://...\"}.".into(),
        });
    };
    let options = crate::discovery::DiscoverOptions {
        policy: s.policy(),
        ..Default::default()
    };
    let result = crate::discovery::discover(endpoint, &s.transport(), &options)
        .await
        .map_err(ApiError::Discovery)?;
    Ok(super::http::json_response(&result, 200))
}

/// The `actor_id` a control-plane body names (access-token, challenge): a platform id.
pub fn actor_of(body: &Value) -> ApiResult<String> {
    let actor = body
        .get("actor_id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    check_platform_id(&actor, "actor_id")?;
    Ok(actor)
}
