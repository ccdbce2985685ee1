//! `POST /ai/agents/{agent_id}/mcp-servers/{id}/access-token` `{actor_id}`: the agent
//! runtime's token for a server (api.md). The token lifecycle is `tokens`.

use serde_json::{json, Value};
use worker::{D1Database, Request};

use super::error::{ApiError, ApiResult};
use super::http::{json_body, json_response};
use super::servers::{check_platform_id, load, open_config, require_attached};
use super::tokens::{client_token, token_json, user_token};
use super::Settings;
use crate::config::AuthConfig;

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
    let actor = super::servers::actor_of(&body)?;
    let row = load(db, id).await?;
    require_attached(db, agent, id).await?;
    let config = open_config(&row, s)?;
    match config.auth {
        None => Err(ApiError::NoAuthRequired),
        Some(AuthConfig::Token(t)) => Ok(json_response(
            &json!({"access_token": t.auth_token.expose(), "token_type": "Bearer", "expires_at": Value::Null}),
            200,
        )),
        Some(auth @ AuthConfig::OauthClientCredentials(_)) => {
            let t = client_token(db, s, &row, &auth, false).await?;
            Ok(json_response(&token_json(&t), 200))
        }
        Some(auth) => {
            let t = user_token(db, s, &row, &actor, &auth, &config.endpoint, None).await?;
            Ok(json_response(&token_json(&t), 200))
        }
    }
}
