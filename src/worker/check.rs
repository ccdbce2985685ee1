//! `POST /ai/agents/{agent}/mcp-servers/{id}/check {actor_id?}`: the troubleshooting an
//! operator would do by hand, answered as `{ok, findings: [{code, message, fix}]}`. The rules
//! and probes are `crate::diagnose`; this route sends the probes and collects the findings.
//!
//! 1. Discovery again, compared with the stored config (`diagnose::compare`), and the
//!    endpoint probed unauthenticated for a redirect or 404 (`endpoint_moved`).
//! 2. The registered client: the authorization request a connect would send (does the
//!    provider know the client and the redirect URI?) and a token request with a made-up
//!    code (`invalid_client` against `invalid_grant`).
//! 3. With `actor_id`: the person's connection, and `initialize` + `tools/list` at the MCP
//!    server with their access token; a 401/403 is explained by its challenge.

use serde_json::{json, Value};
use worker::{D1Database, Request};

use super::error::{ApiError, ApiResult};
use super::http::{json_response, optional_json_body};
use super::servers::{check_platform_id, load, open_config, require_attached};
use super::store;
use super::{now, tokens, Settings};
use crate::config::AuthConfig;
use crate::consent::{config_match, ConfigMatch};
use crate::diagnose::{self, Finding};
use crate::discovery::{discover, DiscoverOptions};
use crate::provision::Provider;
use crate::transport::Transport;

pub async fn run(
    req: &mut Request,
    db: &D1Database,
    s: &Settings,
    agent: &str,
    id: &str,
) -> ApiResult {
    check_platform_id(agent, "agent_id")?;
    let body = optional_json_body(req).await?;
    let actor = match body.get("actor_id") {
        None | Some(Value::Null) => None,
        Some(Value::String(a)) => {
            check_platform_id(a, "actor_id")?;
            Some(a.clone())
        }
        Some(_) => {
            return Err(ApiError::InvalidType {
                path: "actor_id".into(),
                message: "actor_id must be a string.".into(),
            })
        }
    };
    if let Some(k) = body
        .as_object()
        .and_then(|o| o.keys().find(|k| *k != "actor_id"))
    {
        return Err(ApiError::UnknownField {
            path: k.to_owned(),
            message: format!(
                "{k} is not a field of a check: send {{}} or {{\"actor_id\": \"...\"}}."
            ),
        });
    }
    let row = load(db, id).await?;
    require_attached(db, agent, id).await?;
    let config = open_config(&row, s)?;
    // A token endpoint the deployment refuses: the same 400 as the access-token route.
    if let Some(url) = config
        .auth
        .as_ref()
        .and_then(|a| a.token_client())
        .and_then(|tc| tc.token_url)
    {
        tokens::check_token_url(s, &url)?;
    }
    let provider: Provider = serde_json::from_str(&row.provider).unwrap_or_default();
    let transport = s.transport();
    let mut findings: Vec<Finding> = Vec::new();

    // 1. The endpoint, and discovery against the config.
    let probe = diagnose::mcp_request(&config.endpoint, None, None, diagnose::initialize_body());
    match transport.send(probe).await {
        Ok(resp) => findings.extend(diagnose::judge_moved(&resp, &config.endpoint)),
        Err(e) => findings.push(Finding {
            code: "endpoint_unreachable",
            message: format!("{} does not answer: {}.", config.endpoint, e.message),
            fix: "Check that the MCP server is up and that config.endpoint is its URL.".into(),
        }),
    }
    let unreachable = findings.iter().any(|f| f.code == "endpoint_unreachable");
    if !unreachable {
        let options = DiscoverOptions {
            policy: s.policy(),
            allow_issuer_mismatch: config
                .auth
                .as_ref()
                .is_some_and(AuthConfig::allow_issuer_mismatch),
            ..Default::default()
        };
        if let Ok(d) = discover(&config.endpoint, &transport, &options).await {
            findings.extend(diagnose::compare(&config, provider.issuer.as_deref(), &d));
        }
    }

    // 2. The registered client.
    // The redirect URI the client is registered with (the server's own, or the documented one).
    let callback = super::clients::redirect_uri_for(s, &provider);
    let resource = config
        .auth
        .as_ref()
        .and_then(|a| a.token_client())
        .and_then(|tc| tc.resource)
        .unwrap_or_else(|| config.endpoint.clone());
    let mut client_unknown = false;
    if let Some((auth_url, client_id, scopes)) = authorization_parts(config.auth.as_ref()) {
        if let Some(req) =
            diagnose::authorization_probe(&auth_url, &client_id, &callback, &scopes, &resource)
        {
            if let Ok(resp) = transport.send(req).await {
                if let Some(f) = diagnose::judge_authorization(&resp, &callback) {
                    client_unknown |= f.code == "client_unknown_at_provider";
                    push_new(&mut findings, f);
                }
            }
        }
    }
    if !client_unknown {
        if let Some(tc) = config.auth.as_ref().and_then(|a| a.token_client()) {
            if let (Some(token_url), Some(client)) = (tc.token_url.as_deref(), tc.client.as_ref()) {
                if let Some(req) = diagnose::token_probe(token_url, client, &callback, &resource) {
                    if let Ok(resp) = transport.send(req).await {
                        if let Some(f) = diagnose::judge_token(&resp) {
                            push_new(&mut findings, f);
                        }
                    }
                }
            }
        }
    }

    // 3. The person's connection, used as the agent would.
    let mut tools = None;
    if let Some(actor) = actor.as_deref() {
        let needs_user = config
            .auth
            .as_ref()
            .is_some_and(|a| a.mode().is_authorization_code());
        if needs_user {
            match store::get_connection(db, id, actor).await? {
                None => findings.push(Finding {
                    code: "not_connected",
                    message: format!("{actor:?} has not connected this server."),
                    fix: "The person connects from the frontend (runtime plane: connect).".into(),
                }),
                Some(c) if c.status == "expired" => findings.push(Finding {
                    code: "connection_expired",
                    message: format!(
                        "{actor:?}'s connection expired: the provider refused its refresh token."
                    ),
                    fix: "The person connects again.".into(),
                }),
                Some(c) => {
                    let token_resource = config
                        .auth
                        .as_ref()
                        .and_then(|a| a.token_client())
                        .and_then(|tc| tc.resource);
                    match person_token(db, s, &row, actor, &c, &config).await? {
                        Ok(token) => {
                            tools = call_tools(
                                &transport,
                                &config.endpoint,
                                &token,
                                token_resource.as_deref(),
                                &mut findings,
                            )
                            .await;
                        }
                        Err(f) => findings.push(f),
                    }
                }
            }
        }
    }

    let mut answer = json!({ "ok": findings.is_empty(), "findings": findings });
    if let Some(n) = tools {
        answer["tools"] = json!(n);
    }
    Ok(json_response(&answer, 200))
}

/// The person's access token, refreshed first when it has expired (the access-token route's
/// own lifecycle: one refresh at a time); a refusal becomes a finding.
async fn person_token(
    db: &D1Database,
    s: &Settings,
    row: &store::ServerRow,
    actor: &str,
    conn: &store::ConnectionRow,
    config: &crate::config::ServerConfig,
) -> ApiResult<Result<crate::secret::Secret, Finding>> {
    let t = super::sealed::open_tokens(s, &row.id, actor, &conn.tokens_sealed)?;
    // A connection made under another config goes through the token route's own judgement.
    let same = config_match(Some(conn.config_version as u64), row.config_version as u64)
        == ConfigMatch::Same;
    if same && t.expires_at.is_none_or(|e| now() + s.refresh_leeway < e) {
        return Ok(Ok(t.access_token));
    }
    let Some(auth) = config.auth.as_ref() else {
        return Ok(Ok(t.access_token));
    };
    match tokens::user_token(db, s, row, actor, auth, &config.endpoint, None).await {
        Ok(fresh) => Ok(Ok(fresh.access_token)),
        Err(e) => {
            let message = e.message();
            Ok(Err(if matches!(e, ApiError::ConnectionExpired(_)) {
                Finding {
                    code: "connection_expired",
                    message: format!(
                        "{actor:?}'s connection expired: the provider refused its refresh token."
                    ),
                    fix: "The person connects again.".into(),
                }
            } else {
                Finding {
                    code: "token_refresh_failed",
                    message: format!(
                        "The access token expired and refreshing it failed: {message}"
                    ),
                    fix:
                        "Run the check again; if it persists, check the provider's token endpoint."
                            .into(),
                }
            }))
        }
    }
}

fn push_new(findings: &mut Vec<Finding>, f: Finding) {
    if !findings.iter().any(|x| x.code == f.code) {
        findings.push(f);
    }
}

fn authorization_parts(auth: Option<&AuthConfig>) -> Option<(String, String, Vec<String>)> {
    match auth? {
        AuthConfig::OauthAuthorizationCodePublicPkce(a) => {
            Some((a.auth_url.clone()?, a.client_id.clone()?, a.scopes.clone()))
        }
        AuthConfig::OauthAuthorizationCodeConfidentialPkce(a) => {
            Some((a.auth_url.clone()?, a.client_id.clone()?, a.scopes.clone()))
        }
        _ => None,
    }
}

/// `initialize`, `notifications/initialized` and `tools/list` with the person's token; the
/// number of tools, or a finding.
async fn call_tools(
    transport: &dyn Transport,
    endpoint: &str,
    token: &crate::secret::Secret,
    resource: Option<&str>,
    findings: &mut Vec<Finding>,
) -> Option<usize> {
    let failed = |what: &str, detail: String| Finding {
        code: "mcp_call_failed",
        message: format!("{what} failed: {detail}."),
        fix: "Check the MCP server's logs; the authorization itself was accepted.".into(),
    };
    let init = diagnose::mcp_request(endpoint, Some(token), None, diagnose::initialize_body());
    let resp = match transport.send(init).await {
        Ok(r) => r,
        Err(e) => {
            findings.push(failed("initialize", e.message));
            return None;
        }
    };
    if resp.status == 401 || resp.status == 403 {
        findings.push(diagnose::explain_refusal(&resp, resource, endpoint));
        return None;
    }
    if !resp.is_success() {
        findings.push(failed("initialize", format!("HTTP {}", resp.status)));
        return None;
    }
    let session = resp.header("mcp-session-id").map(str::to_owned);
    let notify = diagnose::mcp_request(
        endpoint,
        Some(token),
        session.as_deref(),
        diagnose::initialized_body(),
    );
    let _ = transport.send(notify.max_body_bytes(0)).await;
    let list = diagnose::mcp_request(
        endpoint,
        Some(token),
        session.as_deref(),
        diagnose::tools_list_body(),
    );
    match transport.send(list).await {
        Ok(r) if r.status == 401 || r.status == 403 => {
            findings.push(diagnose::explain_refusal(&r, resource, endpoint));
            None
        }
        Ok(r) if r.is_success() => diagnose::tool_count(&r).or_else(|| {
            findings.push(failed("tools/list", "the answer holds no tool list".into()));
            None
        }),
        Ok(r) => {
            findings.push(failed("tools/list", format!("HTTP {}", r.status)));
            None
        }
        Err(e) => {
            findings.push(failed("tools/list", e.message));
            None
        }
    }
}
