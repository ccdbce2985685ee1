//! Diagnostics for a stored server (the control plane's `check` route and the warnings of
//! create): the troubleshooting an operator would do by hand, as findings with a code, a
//! message and a fix. Sans-I/O: the probes are planned here ([`authorization_probe`],
//! [`token_probe`], [`mcp_request`]) and their answers judged here; the Worker sends them.
//!
//! | code | found by |
//! |---|---|
//! | `auth_mode_mismatch` | the config's auth type against what discovery recommends now |
//! | `resource_mismatch` | the config's `resource` against the server's (RFC 9728 / 8707), or a token the server refuses for its audience |
//! | `scope_insufficient` | scopes the server asks for (challenge, metadata, 403 `insufficient_scope`) that the config does not request |
//! | `scope_not_advertised` | scopes the config requests that the server does not advertise |
//! | `issuer_changed` | the authorization server discovery finds against the one stored |
//! | `authorization_server_moved` | `auth_url` / `token_url` against the provider's metadata |
//! | `endpoint_moved` | the endpoint answers a redirect, 404 or 410 |
//! | `endpoint_unreachable` | the endpoint does not answer |
//! | `client_unknown_at_provider` | the authorization or token endpoint refuses the client (`invalid_client`) |
//! | `redirect_uri_not_registered` | the authorization endpoint refuses the Worker's callback URL |
//! | `not_connected`, `connection_expired`, `token_refresh_failed` | the actor's connection (with `actor_id`) |
//! | `token_rejected` | the MCP server answers 401 to the actor's token |
//! | `mcp_call_failed` | `initialize` or `tools/list` fails for another reason |

use serde::Serialize;
use serde_json::{json, Value};

use crate::auth_mode::AuthMode;
use crate::authorize::{build_authorization_url, AuthorizationRequest};
use crate::challenge::{bearer_hints, parse_headers};
use crate::config::{AuthConfig, ServerConfig};
use crate::discovery_result::DiscoveryResult;
use crate::secret::Secret;
use crate::token::{authorization_code_request, ClientAuth};
use crate::transport::{HttpRequest, HttpResponse, DEFAULT_TIMEOUT_MS};

/// One problem found, with what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Finding {
    pub code: &'static str,
    pub message: String,
    pub fix: String,
}

fn finding(code: &'static str, message: impl Into<String>, fix: impl Into<String>) -> Finding {
    Finding {
        code,
        message: message.into(),
        fix: fix.into(),
    }
}

fn kind(mode: Option<AuthMode>) -> &'static str {
    match mode {
        None => "no authorization",
        Some(AuthMode::Token) => "a static token",
        Some(m) if m.is_authorization_code() => "a user's OAuth consent",
        Some(_) => "OAuth client credentials",
    }
}

/// The OAuth fields of a config that discovery can contradict.
struct OauthFields<'a> {
    auth_url: Option<&'a str>,
    token_url: Option<&'a str>,
    resource: Option<&'a str>,
    scopes: &'a [String],
}

fn oauth_fields(auth: &AuthConfig) -> Option<OauthFields<'_>> {
    Some(match auth {
        AuthConfig::OauthAuthorizationCodePublicPkce(a) => OauthFields {
            auth_url: a.auth_url.as_deref(),
            token_url: a.token_url.as_deref(),
            resource: a.resource.as_deref(),
            scopes: &a.scopes,
        },
        AuthConfig::OauthAuthorizationCodeConfidentialPkce(a) => OauthFields {
            auth_url: a.auth_url.as_deref(),
            token_url: a.token_url.as_deref(),
            resource: a.resource.as_deref(),
            scopes: &a.scopes,
        },
        AuthConfig::OauthClientCredentials(a) => OauthFields {
            auth_url: None,
            token_url: a.token_url.as_deref(),
            resource: a.resource.as_deref(),
            scopes: &a.scopes,
        },
        AuthConfig::Token(_) => return None,
    })
}

/// What the config says against what discovery finds now. `stored_issuer` is the issuer the
/// server was provisioned with (`None` at create).
pub(crate) fn compare(
    config: &ServerConfig,
    stored_issuer: Option<&str>,
    d: &DiscoveryResult,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let mode = config.auth.as_ref().map(AuthConfig::mode);
    let recommended = d.recommended_auth_mode;
    let mismatch = match (mode, recommended) {
        (None, _) => d.requires_auth,
        (Some(AuthMode::Token), Some(r)) => r != AuthMode::Token,
        (Some(m), Some(AuthMode::Token)) => m != AuthMode::Token && d.issuer.is_none(),
        (Some(m), Some(r)) => m.is_authorization_code() != r.is_authorization_code(),
        (Some(_), None) => !d.requires_auth,
    };
    if mismatch {
        out.push(finding(
            "auth_mode_mismatch",
            format!(
                "The config uses {} but the server {}.",
                kind(mode),
                match recommended {
                    Some(r) => format!("asks for {} ({})", kind(Some(r)), r.as_str()),
                    None => "needs no authorization".into(),
                }
            ),
            match recommended {
                Some(r) => format!(
                    "Set config.auth.type to \"{}\" (PATCH the server).",
                    r.as_str()
                ),
                None => {
                    "Remove config.auth (PATCH the server with {\"config\": {\"auth\": null}})."
                        .into()
                }
            },
        ));
    }
    let Some(OauthFields {
        auth_url,
        token_url,
        resource,
        scopes,
    }) = config.auth.as_ref().and_then(oauth_fields)
    else {
        return out;
    };
    if let (Some(mine), Some(theirs)) = (resource, d.resource.as_deref()) {
        if mine != theirs {
            out.push(finding(
                "resource_mismatch",
                format!("config.auth.resource is {mine:?} but the server names itself {theirs:?}: its tokens will be refused."),
                format!("Set config.auth.resource to {theirs:?}, or remove it to use the server's."),
            ));
        }
    }
    let missing: Vec<&String> = d.scopes.iter().filter(|s| !scopes.contains(s)).collect();
    if !scopes.is_empty() && !missing.is_empty() {
        out.push(finding(
            "scope_insufficient",
            format!(
                "The server asks for scope(s) {} that config.auth.scopes does not request.",
                missing
                    .iter()
                    .map(|s| format!("{s:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            "Add them to config.auth.scopes; connected users then consent again.",
        ));
    }
    // OpenID Connect's own scopes belong to the authorization server, not to the MCP server.
    let unadvertised: Vec<&String> = scopes
        .iter()
        .filter(|s| !d.scopes.contains(s) && !matches!(s.as_str(), "openid" | "offline_access"))
        .collect();
    if !d.scopes.is_empty() && !unadvertised.is_empty() {
        out.push(finding(
            "scope_not_advertised",
            format!(
                "config.auth.scopes requests {} that the server does not advertise (it names {}).",
                unadvertised.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>().join(", "),
                d.scopes.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>().join(", ")
            ),
            "Request only scopes the server names; the provider may refuse the others (invalid_scope).",
        ));
    }
    if let (Some(stored), Some(now)) = (stored_issuer, d.issuer.as_deref()) {
        if stored != now {
            out.push(finding(
                "issuer_changed",
                format!("The server now names the authorization server {now:?}; it was provisioned with {stored:?}."),
                "PATCH the server's config (the client is registered again; connections are dropped).",
            ));
        }
    }
    for (field, mine, theirs) in [
        ("auth_url", auth_url, d.auth_url.as_deref()),
        ("token_url", token_url, d.token_url.as_deref()),
    ] {
        if let (Some(m), Some(t)) = (mine, theirs) {
            if m != t {
                out.push(finding(
                    "authorization_server_moved",
                    format!("config.auth.{field} is {m:?} but the provider's metadata says {t:?}."),
                    format!("Set config.auth.{field} to {t:?}, or remove it to use the metadata."),
                ));
            }
        }
    }
    out
}

/// The unauthenticated MCP `initialize` probe (to find a moved endpoint).
pub(crate) fn mcp_request(
    endpoint: &str,
    token: Option<&Secret>,
    session: Option<&str>,
    body: Value,
) -> HttpRequest {
    let mut req = HttpRequest::post(endpoint, "application/json", body.to_string())
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-06-18")
        .timeout_ms(DEFAULT_TIMEOUT_MS)
        .max_body_bytes(256 * 1024);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {}", t.expose()));
    }
    if let Some(sid) = session {
        req = req.header("mcp-session-id", sid);
    }
    req
}

pub(crate) fn initialize_body() -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "mcp-authlink-check", "version": crate::VERSION}}})
}

pub(crate) fn initialized_body() -> Value {
    json!({"jsonrpc": "2.0", "method": "notifications/initialized"})
}

pub(crate) fn tools_list_body() -> Value {
    json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}})
}

/// A redirect, 404 or 410 from the endpoint: it moved (or is gone).
pub(crate) fn judge_moved(resp: &HttpResponse, endpoint: &str) -> Option<Finding> {
    match resp.status {
        301 | 302 | 303 | 307 | 308 => {
            let to = resp.header("location").unwrap_or("(no Location)");
            Some(finding(
                "endpoint_moved",
                format!("{endpoint} answers HTTP {} to {to}.", resp.status),
                "Set config.endpoint to the new URL (PATCH the server); the Worker never follows redirects.",
            ))
        }
        404 | 410 => Some(finding(
            "endpoint_moved",
            format!(
                "{endpoint} answers HTTP {}: there is no MCP server at this URL any more.",
                resp.status
            ),
            "Find the server's current URL and set config.endpoint to it (PATCH the server).",
        )),
        _ => None,
    }
}

/// The authorization request a connect would send, with throw-away state and challenge: the
/// provider's answer shows whether it knows the client and the redirect URI.
pub(crate) fn authorization_probe(
    auth_url: &str,
    client_id: &str,
    redirect_uri: &str,
    scopes: &[String],
    resource: &str,
) -> Option<HttpRequest> {
    let url = build_authorization_url(&AuthorizationRequest {
        auth_url: auth_url.to_owned(),
        client_id: client_id.to_owned(),
        redirect_uri: redirect_uri.to_owned(),
        state: "mcp-authlink-check".into(),
        // The S256 challenge of RFC 7636 Appendix B's verifier: any valid value will do.
        code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGHSEP7wBA".into(),
        scopes: scopes.to_vec(),
        resource: resource.to_owned(),
    })
    .ok()?;
    Some(
        HttpRequest::get(url)
            .timeout_ms(DEFAULT_TIMEOUT_MS)
            .max_body_bytes(64 * 1024),
    )
}

/// Judges the authorization endpoint's answer: a redirect to the callback with `error`, or an
/// error page about the client or the redirect URI.
pub(crate) fn judge_authorization(resp: &HttpResponse, redirect_uri: &str) -> Option<Finding> {
    if resp.is_redirect() {
        let location = resp.header("location").unwrap_or_default();
        if !location.starts_with(redirect_uri) {
            return None; // on to the login page: the request was accepted
        }
        let error = url::Url::parse(location).ok().and_then(|u| {
            u.query_pairs()
                .find(|(k, _)| k == "error")
                .map(|(_, v)| v.into_owned())
        })?;
        return Some(match error.as_str() {
            "invalid_scope" => finding(
                "scope_insufficient",
                "The provider refuses the scopes in config.auth.scopes (invalid_scope).",
                "Request only scopes the provider offers (its scopes_supported).",
            ),
            "invalid_target" => finding(
                "resource_mismatch",
                "The provider refuses the resource indicator (invalid_target).",
                "Set config.auth.resource to the MCP server's resource, or remove it.",
            ),
            other => finding(
                "authorization_refused",
                format!("The provider refuses the authorization request ({other})."),
                "Check the client's settings at the provider.",
            ),
        });
    }
    if resp.status < 400 {
        return None;
    }
    let body = resp.body.to_ascii_lowercase();
    if body.contains("redirect_uri") || body.contains("redirect uri") {
        Some(finding(
            "redirect_uri_not_registered",
            format!(
                "The provider refuses the Worker's callback URL as redirect_uri (HTTP {}).",
                resp.status
            ),
            format!("Register {redirect_uri} as a redirect URI of the client at the provider."),
        ))
    } else if body.contains("invalid_client")
        || body.contains("client not found")
        || body.contains("unknown client")
    {
        Some(finding(
            "client_unknown_at_provider",
            format!("The provider does not know config.auth.client_id (HTTP {}, invalid_client).", resp.status),
            "Register the client again: PATCH the server with the client fields set to null to use DCR, or supply a client registered by hand.",
        ))
    } else {
        Some(finding(
            "authorization_refused",
            format!(
                "The authorization endpoint answers HTTP {} to a well-formed request.",
                resp.status
            ),
            "Open the authorization URL in a browser to read the provider's error.",
        ))
    }
}

/// A token request that can only fail: a made-up code. `invalid_grant` proves the client
/// authenticated; `invalid_client` proves it did not.
pub(crate) fn token_probe(
    token_url: &str,
    client: &ClientAuth,
    redirect_uri: &str,
    resource: &str,
) -> Option<HttpRequest> {
    let verifier = Secret::new("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
    authorization_code_request(
        token_url,
        client,
        "mcp-authlink-check-invalid-code",
        redirect_uri,
        &verifier,
        resource,
    )
    .ok()
}

/// Judges the token probe's answer.
pub(crate) fn judge_token(resp: &HttpResponse) -> Option<Finding> {
    let error = serde_json::from_str::<Value>(&resp.body)
        .ok()
        .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_owned));
    (error.as_deref() == Some("invalid_client") || resp.status == 401).then(|| {
        finding(
            "client_unknown_at_provider",
            format!("The token endpoint refuses the client's credentials (HTTP {}, invalid_client).", resp.status),
            "Register the client again (PATCH the client fields to null for DCR) or correct client_id / client_secret.",
        )
    })
}

/// Why the MCP server refused a person's token, from its status and challenge.
pub(crate) fn explain_refusal(
    resp: &HttpResponse,
    config_resource: Option<&str>,
    endpoint: &str,
) -> Finding {
    let challenges = parse_headers(resp.headers_all("www-authenticate"));
    let hints = bearer_hints(&challenges.challenges).unwrap_or_default();
    let described = hints
        .error_description
        .as_deref()
        .map(|d| format!(": {}", d.chars().take(200).collect::<String>()))
        .unwrap_or_default();
    if resp.status == 403 || hints.error.as_deref() == Some("insufficient_scope") {
        let wanted = if hints.scopes.is_empty() {
            "more scopes".to_owned()
        } else {
            format!("scope(s) {}", hints.scopes.join(" "))
        };
        return finding(
            "scope_insufficient",
            format!("The MCP server answers HTTP {} (insufficient_scope): it wants {wanted}{described}.", resp.status),
            "Add the scopes to config.auth.scopes; the person connects again.",
        );
    }
    if let Some(r) = config_resource.filter(|r| *r != endpoint) {
        return finding(
            "resource_mismatch",
            format!("The MCP server refuses the token (HTTP 401{described}); the token is for {r:?}, not {endpoint:?}."),
            "Set config.auth.resource to the server's resource (or remove it); the person connects again.",
        );
    }
    finding(
        "token_rejected",
        format!(
            "The MCP server refuses the person's token (HTTP {}{}{described}).",
            resp.status,
            hints.error.as_deref().map(|e| format!(", {e}")).unwrap_or_default()
        ),
        "Disconnect and connect again; if that does not help, check the token's audience and issuer at the provider.",
    )
}

/// The number of tools in a `tools/list` answer (JSON, or the first SSE `data:` line).
pub(crate) fn tool_count(resp: &HttpResponse) -> Option<usize> {
    let json_text = if resp.body.trim_start().starts_with('{') {
        resp.body.clone()
    } else {
        resp.body
            .lines()
            .find_map(|l| l.strip_prefix("data:"))
            .map(|d| d.trim().to_owned())?
    };
    let v: Value = serde_json::from_str(&json_text).ok()?;
    v["result"]["tools"].as_array().map(Vec::len)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(v: Value) -> ServerConfig {
        serde_json::from_value(v).unwrap()
    }

    fn discovery(v: Value) -> DiscoveryResult {
        let mut base = serde_json::to_value(DiscoveryResult::default()).unwrap();
        crate::merge_patch::apply(&mut base, &v);
        serde_json::from_value(base).unwrap()
    }

    fn codes(f: &[Finding]) -> Vec<&str> {
        f.iter().map(|f| f.code).collect()
    }

    #[test]
    fn token_mode_where_oauth_is_recommended() {
        let c = config(
            json!({"endpoint":"https://m.example/mcp","auth":{"type":"token","auth_token":"x"}}),
        );
        let d = discovery(
            json!({"requires_auth":true,"recommended_auth_mode":"oauth_authorization_code_public_pkce","issuer":"https://as"}),
        );
        let f = compare(&c, None, &d);
        assert_eq!(codes(&f), ["auth_mode_mismatch"]);
        assert!(
            f[0].fix.contains("oauth_authorization_code_public_pkce"),
            "{}",
            f[0].fix
        );
    }

    #[test]
    fn resource_scopes_issuer_and_urls() {
        let c = config(
            json!({"endpoint":"https://m.example/mcp","auth":{"type":"oauth_authorization_code_public_pkce",
            "client_id":"c","auth_url":"https://as/old-auth","token_url":"https://as/token","resource":"https://other.example/","scopes":["a"]}}),
        );
        let d = discovery(
            json!({"requires_auth":true,"recommended_auth_mode":"oauth_authorization_code_public_pkce",
            "issuer":"https://as2","resource":"https://m.example/mcp","scopes":["a","b"],"auth_url":"https://as/auth","token_url":"https://as/token"}),
        );
        let f = compare(&c, Some("https://as"), &d);
        assert_eq!(
            codes(&f),
            [
                "resource_mismatch",
                "scope_insufficient",
                "issuer_changed",
                "authorization_server_moved"
            ]
        );
        assert!(f[1].message.contains("\"b\""));
    }

    #[test]
    fn scopes_the_server_does_not_name() {
        let c = config(
            json!({"endpoint":"https://m.example/mcp","auth":{"type":"oauth_authorization_code_public_pkce","client_id":"c","scopes":["a","admin","openid"]}}),
        );
        let d = discovery(
            json!({"requires_auth":true,"recommended_auth_mode":"oauth_authorization_code_public_pkce","issuer":"https://as","scopes":["a"]}),
        );
        let f = compare(&c, Some("https://as"), &d);
        assert_eq!(codes(&f), ["scope_not_advertised"]);
        assert!(f[0].message.contains("\"admin\"") && !f[0].message.contains("\"openid\""));
    }

    #[test]
    fn a_matching_config_has_no_findings() {
        let c = config(
            json!({"endpoint":"https://m.example/mcp","auth":{"type":"oauth_authorization_code_public_pkce","client_id":"c","scopes":["a"]}}),
        );
        let d = discovery(
            json!({"requires_auth":true,"recommended_auth_mode":"oauth_authorization_code_confidential_pkce","issuer":"https://as","scopes":["a"]}),
        );
        assert!(compare(&c, Some("https://as"), &d).is_empty());
    }

    fn resp(status: u16, headers: &[(&str, &str)], body: &str) -> HttpResponse {
        let mut r = HttpResponse::new(status);
        r.headers = headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        r.body = body.into();
        r
    }

    #[test]
    fn authorization_answers() {
        let cb = "https://w.example/service/mcp/consent/callback";
        assert_eq!(
            judge_authorization(
                &resp(303, &[("location", "https://as/interaction/1")], ""),
                cb
            ),
            None
        );
        let f = judge_authorization(
            &resp(
                400,
                &[],
                "<pre>{&#34;error&#34;:&#34;invalid_redirect_uri&#34;}</pre>",
            ),
            cb,
        )
        .unwrap();
        assert_eq!(f.code, "redirect_uri_not_registered");
        assert!(f.fix.contains(cb));
        let f = judge_authorization(
            &resp(400, &[], "<pre>invalid_client: client is invalid</pre>"),
            cb,
        )
        .unwrap();
        assert_eq!(f.code, "client_unknown_at_provider");
        let f = judge_authorization(
            &resp(
                302,
                &[("location", &format!("{cb}?error=invalid_scope&state=x"))],
                "",
            ),
            cb,
        )
        .unwrap();
        assert_eq!(f.code, "scope_insufficient");
    }

    #[test]
    fn token_answers() {
        assert_eq!(
            judge_token(&resp(400, &[], r#"{"error":"invalid_grant"}"#)),
            None
        );
        assert_eq!(
            judge_token(&resp(401, &[], r#"{"error":"invalid_client"}"#))
                .unwrap()
                .code,
            "client_unknown_at_provider"
        );
    }

    #[test]
    fn refusals_explained_by_their_challenge() {
        let r = resp(
            403,
            &[(
                "www-authenticate",
                r#"Bearer error="insufficient_scope", scope="mcp:tools mcp:admin""#,
            )],
            "",
        );
        let f = explain_refusal(&r, None, "https://m/mcp");
        assert_eq!(f.code, "scope_insufficient");
        assert!(f.message.contains("mcp:tools mcp:admin"));
        let r = resp(
            401,
            &[("www-authenticate", r#"Bearer error="invalid_token""#)],
            "",
        );
        assert_eq!(
            explain_refusal(&r, Some("https://other/"), "https://m/mcp").code,
            "resource_mismatch"
        );
        assert_eq!(
            explain_refusal(&r, None, "https://m/mcp").code,
            "token_rejected"
        );
    }

    #[test]
    fn moved_endpoints_and_tool_counts() {
        assert_eq!(
            judge_moved(
                &resp(308, &[("location", "https://n/mcp")], ""),
                "https://m/mcp"
            )
            .unwrap()
            .code,
            "endpoint_moved"
        );
        assert_eq!(judge_moved(&resp(401, &[], ""), "https://m/mcp"), None);
        assert_eq!(
            tool_count(&resp(
                200,
                &[],
                "event: message\ndata: {\"result\":{\"tools\":[{},{}]}}\n\n"
            )),
            Some(2)
        );
        assert_eq!(
            tool_count(&resp(200, &[], "{\"result\":{\"tools\":[]}}")),
            Some(0)
        );
    }
}
