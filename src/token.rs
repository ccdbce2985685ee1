//! Token requests (authorization code, refresh, client credentials) and the judgement of token
//! responses (RFC 6749 §4-§6, RFC 8707 `resource`, discovery.md §8). Sans-I/O: builders return
//! [`HttpRequest`]s, parsers take [`HttpResponse`]s and the current time.

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use url::form_urlencoded;

use crate::auth_mode::ClientAuthMethod;
use crate::authorize::{check_resource, http_url, non_empty, scope_param};
use crate::error::{Error, ErrorCode, Result};
use crate::secret::Secret;
use crate::transport::{HttpRequest, HttpResponse, DEFAULT_TIMEOUT_MS};

/// Largest token response body read (64 KiB).
pub const MAX_TOKEN_BODY_BYTES: usize = 64 * 1024;
/// The content type of every token request.
pub const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded";
/// Longest excerpt of an unexpected body kept in a [`TokenFailure`].
const EXCERPT_CHARS: usize = 120;

/// How the client authenticates at the token endpoint. `Debug` redacts the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientAuth {
    pub client_id: String,
    pub client_secret: Option<Secret>,
    pub method: ClientAuthMethod,
}

impl ClientAuth {
    /// A public client (`none`): `client_id` in the body, no secret.
    pub fn public(client_id: impl Into<String>) -> Self {
        ClientAuth {
            client_id: client_id.into(),
            client_secret: None,
            method: ClientAuthMethod::None,
        }
    }

    /// A confidential client using `method`.
    pub fn confidential(
        client_id: impl Into<String>,
        client_secret: Secret,
        method: ClientAuthMethod,
    ) -> Self {
        ClientAuth {
            client_id: client_id.into(),
            client_secret: Some(client_secret),
            method,
        }
    }
}

/// `grant_type=authorization_code` with `code`, `redirect_uri`, `code_verifier`, `resource`.
pub fn authorization_code_request(
    token_url: &str,
    auth: &ClientAuth,
    code: &str,
    redirect_uri: &str,
    code_verifier: &Secret,
    resource: &str,
) -> Result<HttpRequest> {
    non_empty("code", code)?;
    http_url("redirect_uri", redirect_uri)?;
    crate::pkce::challenge_s256(code_verifier.expose())?;
    check_resource(resource)?;
    token_request(
        token_url,
        auth,
        vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("code_verifier", code_verifier.expose()),
            ("resource", resource),
        ],
    )
}

/// `grant_type=refresh_token` with `refresh_token`, `scope` (when `scopes` is non-empty) and
/// `resource`.
pub fn refresh_request(
    token_url: &str,
    auth: &ClientAuth,
    refresh_token: &Secret,
    resource: &str,
    scopes: &[String],
) -> Result<HttpRequest> {
    non_empty("refresh_token", refresh_token.expose())?;
    check_resource(resource)?;
    let scope = scope_param(scopes)?;
    let mut params = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token.expose()),
    ];
    if let Some(scope) = &scope {
        params.push(("scope", scope));
    }
    params.push(("resource", resource));
    token_request(token_url, auth, params)
}

/// `grant_type=client_credentials` with `scope` (when `scopes` is non-empty) and `resource`
/// (when known). The grant is for confidential clients only: `none` is refused.
pub fn client_credentials_request(
    token_url: &str,
    auth: &ClientAuth,
    scopes: &[String],
    resource: Option<&str>,
) -> Result<HttpRequest> {
    if !auth.method.uses_secret() {
        return Err(Error::new(
            ErrorCode::InvalidArgument,
            "the client credentials grant needs a client secret: set token_endpoint_auth_method \
             to client_secret_basic or client_secret_post and supply client_secret",
        ));
    }
    if let Some(r) = resource {
        check_resource(r)?;
    }
    let scope = scope_param(scopes)?;
    let mut params = vec![("grant_type", "client_credentials")];
    if let Some(scope) = &scope {
        params.push(("scope", scope));
    }
    if let Some(r) = resource {
        params.push(("resource", r));
    }
    token_request(token_url, auth, params)
}

fn token_request<'a>(
    token_url: &str,
    auth: &'a ClientAuth,
    mut params: Vec<(&'a str, &'a str)>,
) -> Result<HttpRequest> {
    let url = http_url("token_url", token_url)?;
    if url.fragment().is_some() {
        return Err(Error::new(
            ErrorCode::InvalidArgument,
            format!("token_url {token_url:?} has a #fragment: remove it (RFC 6749 §3.2)"),
        ));
    }
    non_empty("client_id", &auth.client_id)?;
    let mut authorization = None;
    match auth.method {
        ClientAuthMethod::ClientSecretBasic => {
            let secret = require_secret(auth)?;
            let pair = format!(
                "{}:{}",
                form_encode(&auth.client_id),
                form_encode(secret.expose())
            );
            authorization = Some(format!("Basic {}", STANDARD.encode(pair)));
        }
        ClientAuthMethod::ClientSecretPost => {
            let secret = require_secret(auth)?;
            params.push(("client_id", &auth.client_id));
            params.push(("client_secret", secret.expose()));
        }
        ClientAuthMethod::None => params.push(("client_id", &auth.client_id)),
    }
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    let mut req = HttpRequest::post(token_url, FORM_CONTENT_TYPE, body)
        .header("accept", "application/json")
        .timeout_ms(DEFAULT_TIMEOUT_MS)
        .max_body_bytes(MAX_TOKEN_BODY_BYTES);
    if let Some(value) = authorization {
        req = req.header("authorization", value);
    }
    Ok(req)
}

fn require_secret(auth: &ClientAuth) -> Result<&Secret> {
    match &auth.client_secret {
        Some(s) if !s.is_empty() => Ok(s),
        _ => Err(Error::new(
            ErrorCode::InvalidArgument,
            format!(
                "client_secret is missing: token_endpoint_auth_method {} sends a client secret; \
                 supply client_secret, or use \"none\" for a public client",
                auth.method
            ),
        )),
    }
}

/// RFC 6749 Appendix B encoding, used for the Basic credentials (§2.3.1).
fn form_encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Tokens from a successful token response. `Debug` redacts the tokens; `Serialize` gives the
/// values (for the owner's sealed storage only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenSet {
    pub access_token: Secret,
    /// As the provider spelled it (`Bearer`, `bearer`); `Bearer` when the provider omitted it.
    pub token_type: String,
    pub refresh_token: Option<Secret>,
    /// Unix seconds (`now + expires_in`); `None` when the response had no `expires_in`.
    pub expires_at: Option<u64>,
    pub scope: Option<String>,
}

impl TokenSet {
    /// Whether the access token has expired, or will within `leeway_secs`.
    pub fn is_expired(&self, now_unix: u64, leeway_secs: u64) -> bool {
        self.expires_at
            .is_some_and(|at| now_unix.saturating_add(leeway_secs) >= at)
    }
}

/// Why a token response gave no tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenFailure {
    /// An OAuth error body `{error, error_description?, error_uri?}`, at any status.
    OAuth {
        status: u16,
        error: String,
        error_description: Option<String>,
        error_uri: Option<String>,
    },
    /// A body that is not JSON: an HTML page, plain text, a form-encoded body, or nothing.
    /// `excerpt` is short and sanitised (a form body shows only its keys).
    NotJson {
        status: u16,
        looks_like_html: bool,
        excerpt: String,
    },
    /// A 2xx JSON object without `access_token`; `keys` names (at most 10 of) its fields.
    MissingAccessToken { status: u16, keys: Vec<String> },
    /// A 2xx JSON body with a field of the wrong type or value (never quotes a token).
    Malformed {
        status: u16,
        field: &'static str,
        problem: String,
    },
    /// The body was longer than [`MAX_TOKEN_BODY_BYTES`].
    BodyTooLarge { status: u16 },
    /// A redirect, or an error status with no OAuth error in an empty or JSON body.
    BadStatus { status: u16 },
}

impl TokenFailure {
    /// The OAuth `error` (`"invalid_grant"`, ...) when the provider sent one.
    pub fn error(&self) -> Option<&str> {
        match self {
            TokenFailure::OAuth { error, .. } => Some(error),
            _ => None,
        }
    }

    /// Whether the grant (code or refresh token) is dead: the connection must be redone.
    pub fn is_invalid_grant(&self) -> bool {
        self.error() == Some("invalid_grant")
    }

    pub fn status(&self) -> u16 {
        match self {
            TokenFailure::OAuth { status, .. }
            | TokenFailure::NotJson { status, .. }
            | TokenFailure::MissingAccessToken { status, .. }
            | TokenFailure::Malformed { status, .. }
            | TokenFailure::BodyTooLarge { status }
            | TokenFailure::BadStatus { status } => *status,
        }
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            TokenFailure::OAuth { .. } => ErrorCode::OauthError,
            _ => ErrorCode::InvalidResponse,
        }
    }

    fn message(&self) -> String {
        const CHECK_URL: &str = "check that token_url is the provider's OAuth token endpoint";
        match self {
            TokenFailure::OAuth {
                status,
                error,
                error_description,
                ..
            } => {
                let desc = error_description
                    .as_deref()
                    .map(|d| format!(" ({})", clean(d, 300)))
                    .unwrap_or_default();
                format!(
                    "the token endpoint answered {status} with the OAuth error {}{desc}: {}",
                    clean(error, 80),
                    oauth_hint(error)
                )
            }
            TokenFailure::NotJson {
                status,
                looks_like_html,
                excerpt,
            } => {
                let what = if excerpt.is_empty() {
                    "an empty body".to_owned()
                } else if *looks_like_html {
                    format!("an HTML page ({excerpt})")
                } else {
                    format!("a body that is not JSON ({excerpt})")
                };
                format!("the token endpoint answered {status} with {what}, not JSON: {CHECK_URL}")
            }
            TokenFailure::MissingAccessToken { status, keys } => {
                format!(
                "the token endpoint answered {status} with JSON that has no access_token (fields: \
                 {}): {CHECK_URL}",
                if keys.is_empty() { "none".to_owned() } else { keys.join(", ") }
            )
            }
            TokenFailure::Malformed {
                status,
                field,
                problem,
            } => {
                format!("the token endpoint answered {status} with an unusable {field}: {problem}")
            }
            TokenFailure::BodyTooLarge { status } => format!(
                "the token endpoint answered {status} with a body over {} KiB: {CHECK_URL}",
                MAX_TOKEN_BODY_BYTES / 1024
            ),
            TokenFailure::BadStatus { status } if *status == 0 || (300..400).contains(status) => {
                format!(
                    "the token endpoint answered with a redirect ({status}), which is not \
                     followed: set token_url to the final URL of the token endpoint"
                )
            }
            TokenFailure::BadStatus { status } => format!(
                "the token endpoint answered {status} without an OAuth error: {CHECK_URL}, \
                 and that the provider is up"
            ),
        }
    }
}

fn oauth_hint(error: &str) -> &'static str {
    match error {
        "invalid_grant" => "the code or refresh token is invalid, expired, used or revoked: connect again",
        "invalid_client" => "the provider refused the client authentication: check client_id, client_secret and token_endpoint_auth_method",
        "unauthorized_client" => "this client may not use this grant: enable the grant type for it at the provider",
        "unsupported_grant_type" => "the provider does not support this grant: choose another auth type",
        "invalid_scope" => "the provider refused the scopes: fix the configured scopes",
        "invalid_target" => "the provider refused the resource: set resource to the MCP server URL it knows",
        "invalid_request" => "the provider refused the request: check redirect_uri, resource and the client's registration",
        _ => "see the provider's error_description",
    }
}

impl fmt::Display for TokenFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code().as_str(), self.message())
    }
}

impl std::error::Error for TokenFailure {}

impl From<TokenFailure> for Error {
    fn from(f: TokenFailure) -> Error {
        Error::new(f.code(), f.message())
    }
}

/// Judges a token response (any grant). `expires_in` (a number or numeric string of seconds)
/// becomes `expires_at = now_unix + expires_in`.
pub fn parse_token_response(resp: &HttpResponse, now_unix: u64) -> Result<TokenSet, TokenFailure> {
    let status = resp.status;
    if resp.body_too_large {
        return Err(TokenFailure::BodyTooLarge { status });
    }
    let body = resp.body.trim();
    let map = match serde_json::from_str::<Value>(body) {
        Ok(Value::Object(map)) => map,
        Ok(_) if !resp.is_success() => return Err(TokenFailure::BadStatus { status }),
        Ok(_) => {
            return Err(TokenFailure::Malformed {
                status,
                field: "body",
                problem: "the JSON is not an object".into(),
            })
        }
        Err(_) if body.is_empty() && !resp.is_success() => {
            return Err(TokenFailure::BadStatus { status })
        }
        Err(_) => {
            let (looks_like_html, excerpt) = sniff(resp);
            return Err(TokenFailure::NotJson {
                status,
                looks_like_html,
                excerpt,
            });
        }
    };
    if let Some(Value::String(error)) = map.get("error") {
        let text = |k: &str| map.get(k).and_then(Value::as_str).map(str::to_owned);
        return Err(TokenFailure::OAuth {
            status,
            error: error.clone(),
            error_description: text("error_description"),
            error_uri: text("error_uri"),
        });
    }
    if !resp.is_success() {
        return Err(TokenFailure::BadStatus { status });
    }
    token_set(status, &map, now_unix)
}

/// Judges a refresh response: as [`parse_token_response`], keeping `previous_refresh` when
/// the response carries no new refresh token.
pub fn parse_refresh_response(
    resp: &HttpResponse,
    now_unix: u64,
    previous_refresh: &Secret,
) -> Result<TokenSet, TokenFailure> {
    let mut set = parse_token_response(resp, now_unix)?;
    if set.refresh_token.is_none() && !previous_refresh.is_empty() {
        set.refresh_token = Some(previous_refresh.clone());
    }
    Ok(set)
}

fn token_set(status: u16, map: &Map<String, Value>, now: u64) -> Result<TokenSet, TokenFailure> {
    let bad = |field: &'static str, problem: String| TokenFailure::Malformed {
        status,
        field,
        problem,
    };
    let access_token = match map.get("access_token") {
        None | Some(Value::Null) => {
            return Err(TokenFailure::MissingAccessToken {
                status,
                keys: map.keys().take(10).map(|k| clean(k, 40)).collect(),
            })
        }
        Some(Value::String(s)) if s.is_empty() => {
            return Err(bad("access_token", "it is empty".into()))
        }
        Some(Value::String(s)) => Secret::new(s.as_str()),
        Some(_) => return Err(bad("access_token", "it is not a string".into())),
    };
    let token_type = match map.get("token_type") {
        None | Some(Value::Null) => "Bearer".to_owned(),
        Some(Value::String(t)) if t.eq_ignore_ascii_case("bearer") => t.clone(),
        Some(Value::String(t)) => {
            return Err(bad(
                "token_type",
                format!(
                    "{:?} is not Bearer: only bearer tokens can be sent to an MCP server; \
                     configure the client at the provider for bearer tokens",
                    clean(t, 40)
                ),
            ))
        }
        Some(_) => return Err(bad("token_type", "it is not a string".into())),
    };
    let refresh_token = match map.get("refresh_token") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) => Some(Secret::new(s.as_str())),
        Some(_) => return Err(bad("refresh_token", "it is not a string".into())),
    };
    let expires_in = match map.get("expires_in") {
        None => None,
        Some(v) => expires_in(v).map_err(|p| bad("expires_in", p))?,
    };
    let scope = match map.get("scope") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.trim().to_owned()).filter(|s| !s.is_empty()),
        Some(Value::Array(items)) if items.iter().all(Value::is_string) => {
            let joined: Vec<&str> = items.iter().filter_map(Value::as_str).collect();
            Some(joined.join(" ")).filter(|s| !s.is_empty())
        }
        Some(_) => return Err(bad("scope", "it is not a string".into())),
    };
    Ok(TokenSet {
        access_token,
        token_type,
        refresh_token,
        expires_at: expires_in.map(|s| now.saturating_add(s)),
        scope,
    })
}

/// Seconds from a number or a numeric string; negative, NaN and infinite values are refused,
/// fractions are rounded down.
fn expires_in(v: &Value) -> Result<Option<u64>, String> {
    let from_f64 = |f: f64, shown: &dyn fmt::Display| {
        if f.is_finite() && f >= 0.0 {
            Ok(Some(f as u64))
        } else {
            Err(format!("{shown} is not a non-negative number of seconds"))
        }
    };
    match v {
        Value::Null => Ok(None),
        Value::Number(n) => match (n.as_u64(), n.as_f64()) {
            (Some(u), _) => Ok(Some(u)),
            (None, Some(f)) => from_f64(f, n),
            (None, None) => Err(format!("{n} is not a number of seconds")),
        },
        Value::String(s) => {
            let t = s.trim();
            match (t.parse::<u64>(), t.parse::<f64>()) {
                (Ok(u), _) => Ok(Some(u)),
                (Err(_), Ok(f)) => from_f64(f, &format!("{:?}", clean(s, 40))),
                _ => Err(format!("{:?} is not a number of seconds", clean(s, 40))),
            }
        }
        _ => Err("it is not a number".into()),
    }
}

/// Whether a non-JSON body looks like HTML, and a short excerpt of it (see [`excerpt`]).
pub(crate) fn sniff(resp: &HttpResponse) -> (bool, String) {
    let body = resp.body.trim();
    let html = looks_like_html(resp, body);
    (html, excerpt(body, html))
}

fn looks_like_html(resp: &HttpResponse, body: &str) -> bool {
    if resp
        .header("content-type")
        .is_some_and(|ct| ct.to_ascii_lowercase().contains("html"))
    {
        return true;
    }
    let head: String = body
        .chars()
        .take(1024)
        .collect::<String>()
        .to_ascii_lowercase();
    head.starts_with("<!doctype html")
        || ["<html", "<head", "<body", "<title"]
            .iter()
            .any(|t| head.contains(t))
}

/// A short, single-line excerpt that never carries a form body's values (a form-encoded token
/// response would otherwise leak its token into an error message).
fn excerpt(body: &str, html: bool) -> String {
    if let Some(keys) = form_keys(body) {
        return format!("form-encoded fields: {}", keys.join(", "));
    }
    if !html {
        return clean(body, EXCERPT_CHARS);
    }
    let mut text = String::new();
    let mut in_tag = false;
    for c in body.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                text.push(' ');
            }
            _ if !in_tag => text.push(c),
            _ => {}
        }
    }
    clean(&text, EXCERPT_CHARS)
}

/// The keys of a body shaped `k=v&k2=v2` (no whitespace, every part a key=value pair).
fn form_keys(body: &str) -> Option<Vec<String>> {
    if body.is_empty() || body.chars().any(char::is_whitespace) || !body.contains('=') {
        return None;
    }
    let mut keys = Vec::new();
    for part in body.split('&').filter(|p| !p.is_empty()) {
        let (k, _) = part.split_once('=')?;
        let ok = !k.is_empty()
            && k.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
        if !ok {
            return None;
        }
        if keys.len() < 10 {
            keys.push(k.to_owned());
        }
    }
    Some(keys)
}

/// Control characters to spaces, whitespace collapsed, at most `max` characters (then `…`).
pub(crate) fn clean(s: &str, max: usize) -> String {
    let mut out = String::new();
    let mut count = 0;
    for word in s.split(|c: char| c.is_whitespace() || c.is_control()) {
        if word.is_empty() {
            continue;
        }
        for c in (!out.is_empty())
            .then_some(' ')
            .into_iter()
            .chain(word.chars())
        {
            if count == max {
                out.push('…');
                return out;
            }
            out.push(c);
            count += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const URL: &str = "https://auth.example.com/token";
    const RES: &str = "https://mcp.example.com/mcp";
    const CB: &str = "https://w.example.com/service/mcp/consent/callback";
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

    fn basic() -> ClientAuth {
        ClientAuth::confidential(
            "s6BhdRkqt3",
            "7Fjfp0ZBr1KtDRbnfVdmIw".into(),
            ClientAuthMethod::ClientSecretBasic,
        )
    }

    fn with(method: ClientAuthMethod) -> ClientAuth {
        ClientAuth { method, ..basic() }
    }

    fn code_req(auth: &ClientAuth) -> Result<HttpRequest> {
        authorization_code_request(URL, auth, "c0de", CB, &Secret::new(VERIFIER), RES)
    }

    fn header<'a>(r: &'a HttpRequest, name: &str) -> Option<&'a str> {
        r.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn resp(status: u16, body: &str) -> HttpResponse {
        HttpResponse {
            status,
            body: body.into(),
            ..HttpResponse::new(status)
        }
    }

    fn parse(status: u16, body: serde_json::Value) -> Result<TokenSet, TokenFailure> {
        parse_token_response(&resp(status, &body.to_string()), 1_000)
    }

    #[test]
    fn authorization_code_with_basic_auth() {
        let r = code_req(&basic()).unwrap();
        assert_eq!(r.method, crate::transport::Method::Post);
        assert_eq!(r.url, URL);
        assert_eq!(
            r.body.as_deref().unwrap(),
            "grant_type=authorization_code&code=c0de\
             &redirect_uri=https%3A%2F%2Fw.example.com%2Fservice%2Fmcp%2Fconsent%2Fcallback\
             &code_verifier=dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk\
             &resource=https%3A%2F%2Fmcp.example.com%2Fmcp"
        );
        // RFC 6749 §2.3.1's example credentials.
        assert_eq!(
            header(&r, "authorization"),
            Some("Basic czZCaGRSa3F0Mzo3RmpmcDBaQnIxS3REUmJuZlZkbUl3")
        );
        assert_eq!(
            header(&r, "content-type"),
            Some("application/x-www-form-urlencoded")
        );
        assert_eq!(header(&r, "accept"), Some("application/json"));
        assert_eq!(r.timeout_ms, DEFAULT_TIMEOUT_MS);
        assert_eq!(r.max_body_bytes, 65_536);
    }

    #[test]
    fn basic_credentials_are_form_urlencoded_first() {
        let auth = ClientAuth::confidential(
            "my client",
            "p:ss&+/é".into(),
            ClientAuthMethod::ClientSecretBasic,
        );
        let r = code_req(&auth).unwrap();
        let want = format!(
            "Basic {}",
            STANDARD.encode("my+client:p%3Ass%26%2B%2F%C3%A9")
        );
        assert_eq!(header(&r, "authorization"), Some(want.as_str()));
        assert!(!r.body.unwrap().contains("client_"));
    }

    #[test]
    fn post_and_none_put_the_client_in_the_body() {
        let r = code_req(&with(ClientAuthMethod::ClientSecretPost)).unwrap();
        assert!(r
            .body
            .as_deref()
            .unwrap()
            .ends_with("&client_id=s6BhdRkqt3&client_secret=7Fjfp0ZBr1KtDRbnfVdmIw"));
        assert_eq!(header(&r, "authorization"), None);
        // none never sends a secret, even when one is at hand.
        let r = code_req(&with(ClientAuthMethod::None)).unwrap();
        assert!(r
            .body
            .as_deref()
            .unwrap()
            .ends_with("&resource=https%3A%2F%2Fmcp.example.com%2Fmcp&client_id=s6BhdRkqt3"));
        assert_eq!(header(&r, "authorization"), None);
        assert!(code_req(&ClientAuth::public("pub"))
            .unwrap()
            .body
            .unwrap()
            .ends_with("&client_id=pub"));
    }

    #[test]
    fn secret_methods_need_a_secret() {
        for method in [
            ClientAuthMethod::ClientSecretBasic,
            ClientAuthMethod::ClientSecretPost,
        ] {
            for secret in [None, Some(Secret::new(""))] {
                let auth = ClientAuth {
                    client_id: "c".into(),
                    client_secret: secret,
                    method,
                };
                let e = code_req(&auth).unwrap_err();
                assert_eq!(e.code, ErrorCode::InvalidArgument);
                assert_eq!(
                    e.message,
                    format!("client_secret is missing: token_endpoint_auth_method {method} sends a client secret; supply client_secret, or use \"none\" for a public client")
                );
            }
        }
    }

    #[test]
    fn request_arguments_are_checked() {
        let a = basic();
        let v = Secret::new(VERIFIER);
        let e = |r: Result<HttpRequest>| r.unwrap_err();
        assert!(
            e(authorization_code_request("/token", &a, "c", CB, &v, RES))
                .message
                .starts_with("token_url \"/token\" is not an absolute URL")
        );
        assert!(e(authorization_code_request(
            "https://a.example/t#f",
            &a,
            "c",
            CB,
            &v,
            RES
        ))
        .message
        .contains("#fragment"));
        assert_eq!(
            e(authorization_code_request(URL, &a, "", CB, &v, RES)).message,
            "code is empty: supply it"
        );
        assert!(e(authorization_code_request(URL, &a, "c", "cb", &v, RES))
            .message
            .starts_with("redirect_uri \"cb\""));
        assert_eq!(
            e(authorization_code_request(
                URL,
                &a,
                "c",
                CB,
                &Secret::new("short"),
                RES
            ))
            .code,
            ErrorCode::InvalidVerifier
        );
        assert_eq!(
            e(authorization_code_request(URL, &a, "c", CB, &v, "")).message,
            "resource is empty: supply it"
        );
        assert_eq!(
            e(code_req(&ClientAuth::public(""))).message,
            "client_id is empty: supply it"
        );
        assert_eq!(
            e(refresh_request(URL, &a, &Secret::new(""), RES, &[])).message,
            "refresh_token is empty: supply it"
        );
        assert!(e(refresh_request(
            URL,
            &a,
            &Secret::new("r"),
            RES,
            &["a b".into()]
        ))
        .message
        .starts_with("scopes[0]"));
        let e = e(client_credentials_request(
            URL,
            &ClientAuth::public("c"),
            &[],
            None,
        ));
        assert_eq!(e.code, ErrorCode::InvalidArgument);
        assert!(e
            .message
            .starts_with("the client credentials grant needs a client secret"));
    }

    #[test]
    fn refresh_and_client_credentials_bodies() {
        let post = with(ClientAuthMethod::ClientSecretPost);
        let rt = Secret::new("rt/1+2");
        let r = refresh_request(URL, &post, &rt, RES, &["a".into(), "b:c".into()]).unwrap();
        assert_eq!(
            r.body.unwrap(),
            "grant_type=refresh_token&refresh_token=rt%2F1%2B2&scope=a+b%3Ac\
             &resource=https%3A%2F%2Fmcp.example.com%2Fmcp&client_id=s6BhdRkqt3&client_secret=7Fjfp0ZBr1KtDRbnfVdmIw"
        );
        let r = refresh_request(URL, &ClientAuth::public("p"), &rt, RES, &[]).unwrap();
        assert_eq!(r.body.unwrap(), "grant_type=refresh_token&refresh_token=rt%2F1%2B2&resource=https%3A%2F%2Fmcp.example.com%2Fmcp&client_id=p");
        let r = client_credentials_request(URL, &basic(), &["x".into()], Some(RES)).unwrap();
        assert_eq!(
            r.body.unwrap(),
            "grant_type=client_credentials&scope=x&resource=https%3A%2F%2Fmcp.example.com%2Fmcp"
        );
        assert!(header(&r_cc(), "authorization")
            .unwrap()
            .starts_with("Basic "));
        let r = client_credentials_request(URL, &post, &[], None).unwrap();
        assert_eq!(r.body.unwrap(), "grant_type=client_credentials&client_id=s6BhdRkqt3&client_secret=7Fjfp0ZBr1KtDRbnfVdmIw");
        assert_eq!(r.max_body_bytes, MAX_TOKEN_BODY_BYTES);
    }

    fn r_cc() -> HttpRequest {
        client_credentials_request(URL, &basic(), &[], None).unwrap()
    }

    #[test]
    fn debug_output_never_shows_secrets() {
        let a = basic();
        assert!(!format!("{a:?}").contains("7Fjfp0ZBr1KtDRbnfVdmIw"));
        let set = parse(
            200,
            json!({"access_token": "AT-123", "token_type": "Bearer", "refresh_token": "RT-456"}),
        )
        .unwrap();
        let dbg = format!("{set:?}");
        assert!(!dbg.contains("AT-123") && !dbg.contains("RT-456"), "{dbg}");
        let f = parse_token_response(&resp(200, "access_token=AT-123&token_type=bearer"), 0)
            .unwrap_err();
        assert!(!format!("{f:?}").contains("AT-123") && !Error::from(f).message.contains("AT-123"));
    }

    #[test]
    fn parses_a_full_response() {
        let set = parse(200, json!({"access_token": "AT", "token_type": "bearer", "refresh_token": "RT", "expires_in": 3600, "scope": "a b"})).unwrap();
        assert_eq!(set.access_token.expose(), "AT");
        assert_eq!(set.token_type, "bearer");
        assert_eq!(set.refresh_token.as_ref().map(Secret::expose), Some("RT"));
        assert_eq!(set.expires_at, Some(4_600));
        assert_eq!(set.scope.as_deref(), Some("a b"));
        assert!(!set.is_expired(4_539, 60) && set.is_expired(4_540, 60));
        assert_eq!(
            serde_json::to_value(&set).unwrap(),
            json!({"access_token": "AT", "token_type": "bearer", "refresh_token": "RT", "expires_at": 4600, "scope": "a b"})
        );
        let back: TokenSet = serde_json::from_value(serde_json::to_value(&set).unwrap()).unwrap();
        assert_eq!(back, set);
    }

    #[test]
    fn minimal_response_and_lenient_fields() {
        let set = parse(200, json!({"access_token": "AT", "token_type": "BEARER"})).unwrap();
        assert_eq!(
            (
                set.token_type.as_str(),
                set.refresh_token,
                set.expires_at,
                set.scope
            ),
            ("BEARER", None, None, None)
        );
        assert!(!TokenSet {
            expires_at: None,
            ..parse(200, json!({"access_token": "A"})).unwrap()
        }
        .is_expired(u64::MAX, 0));
        let set = parse(200, json!({"access_token": "AT"})).unwrap();
        assert_eq!(set.token_type, "Bearer");
        let set = parse(
            200,
            json!({"access_token": "AT", "scope": ["a", "b"], "refresh_token": ""}),
        )
        .unwrap();
        assert_eq!(
            (set.scope.as_deref(), set.refresh_token),
            (Some("a b"), None)
        );
    }

    #[test]
    fn expires_in_forms() {
        let at = |v: serde_json::Value| parse(200, json!({"access_token": "A", "expires_in": v}));
        assert_eq!(at(json!("3600")).unwrap().expires_at, Some(4_600));
        assert_eq!(at(json!(" 60 ")).unwrap().expires_at, Some(1_060));
        assert_eq!(at(json!(59.9)).unwrap().expires_at, Some(1_059));
        assert_eq!(at(json!("59.9")).unwrap().expires_at, Some(1_059));
        assert_eq!(at(json!(0)).unwrap().expires_at, Some(1_000));
        assert_eq!(at(json!(null)).unwrap().expires_at, None);
        assert_eq!(at(json!(u64::MAX)).unwrap().expires_at, Some(u64::MAX));
        for bad in [
            json!(-1),
            json!(-0.5),
            json!("-5"),
            json!("NaN"),
            json!("inf"),
            json!("soon"),
            json!(true),
            json!([1]),
        ] {
            match at(bad.clone()).unwrap_err() {
                TokenFailure::Malformed {
                    status: 200,
                    field: "expires_in",
                    ..
                } => {}
                other => panic!("{bad}: {other:?}"),
            }
        }
        assert_eq!(
            Error::from(at(json!(-1)).unwrap_err()).message,
            "the token endpoint answered 200 with an unusable expires_in: -1 is not a non-negative number of seconds"
        );
    }

    #[test]
    fn refresh_keeps_the_old_refresh_token_only_when_none_is_sent() {
        let old = Secret::new("RT-old");
        let r = resp(200, r#"{"access_token":"AT2","token_type":"Bearer"}"#);
        assert_eq!(
            parse_refresh_response(&r, 0, &old).unwrap().refresh_token,
            Some(old.clone())
        );
        let r = resp(
            200,
            r#"{"access_token":"AT2","token_type":"Bearer","refresh_token":"RT-new"}"#,
        );
        assert_eq!(
            parse_refresh_response(&r, 0, &old).unwrap().refresh_token,
            Some(Secret::new("RT-new"))
        );
        let r = resp(400, r#"{"error":"invalid_grant"}"#);
        assert!(parse_refresh_response(&r, 0, &old)
            .unwrap_err()
            .is_invalid_grant());
    }

    #[test]
    fn oauth_errors_at_any_status() {
        let f = parse(400, json!({"error": "invalid_grant", "error_description": "Code\nexpired", "error_uri": "https://d/x"})).unwrap_err();
        assert_eq!(
            f,
            TokenFailure::OAuth {
                status: 400,
                error: "invalid_grant".into(),
                error_description: Some("Code\nexpired".into()),
                error_uri: Some("https://d/x".into())
            }
        );
        assert_eq!(
            (f.error(), f.is_invalid_grant(), f.status(), f.code()),
            (Some("invalid_grant"), true, 400, ErrorCode::OauthError)
        );
        let e = Error::from(f);
        assert_eq!(e.code, ErrorCode::OauthError);
        assert_eq!(e.message, "the token endpoint answered 400 with the OAuth error invalid_grant (Code expired): the code or refresh token is invalid, expired, used or revoked: connect again");
        let f = parse(200, json!({"error": "invalid_client", "access_token": "x"})).unwrap_err();
        assert_eq!(
            (f.error(), f.is_invalid_grant()),
            (Some("invalid_client"), false)
        );
        assert!(f.to_string().starts_with("oauth_error: the token endpoint answered 200 with the OAuth error invalid_client: the provider refused the client authentication"));
        assert_eq!(
            parse(503, json!({"error": "temporarily_unavailable"}))
                .unwrap_err()
                .error(),
            Some("temporarily_unavailable")
        );
    }

    #[test]
    fn non_json_bodies_are_reported_briefly() {
        let page = format!("<!DOCTYPE html><html><head><title>502 Bad\nGateway</title></head><body>{}</body></html>", "x".repeat(5_000));
        let f = parse_token_response(&resp(502, &page), 0).unwrap_err();
        let TokenFailure::NotJson {
            status: 502,
            looks_like_html: true,
            excerpt,
        } = &f
        else {
            panic!("{f:?}")
        };
        assert!(
            excerpt.starts_with("502 Bad Gateway xxx") && excerpt.ends_with('…'),
            "{excerpt}"
        );
        assert_eq!(excerpt.chars().count(), EXCERPT_CHARS + 1);
        let e = Error::from(f.clone());
        assert_eq!(e.code, ErrorCode::InvalidResponse);
        assert!(
            e.message
                .starts_with("the token endpoint answered 502 with an HTML page (502 Bad Gateway"),
            "{e}"
        );
        assert!(
            e.message
                .ends_with("not JSON: check that token_url is the provider's OAuth token endpoint")
                && e.message.len() < 300
        );
        let mut r = resp(200, "hello\u{7}  world");
        r.headers.push(("content-type".into(), "text/plain".into()));
        assert_eq!(
            parse_token_response(&r, 0).unwrap_err(),
            TokenFailure::NotJson {
                status: 200,
                looks_like_html: false,
                excerpt: "hello world".into()
            }
        );
        r.headers[0].1 = "text/HTML; charset=utf-8".into();
        assert!(matches!(
            parse_token_response(&r, 0).unwrap_err(),
            TokenFailure::NotJson {
                looks_like_html: true,
                ..
            }
        ));
        let f = parse_token_response(
            &resp(200, "access_token=SECRET&token_type=bearer&scope=a"),
            0,
        )
        .unwrap_err();
        assert_eq!(
            f,
            TokenFailure::NotJson {
                status: 200,
                looks_like_html: false,
                excerpt: "form-encoded fields: access_token, token_type, scope".into()
            }
        );
        let f = parse_token_response(&resp(200, "  "), 0).unwrap_err();
        assert!(Error::from(f)
            .message
            .starts_with("the token endpoint answered 200 with an empty body, not JSON"));
    }

    #[test]
    fn unusable_json_bodies() {
        let f = parse(200, json!({"id_token": "x", "token_type": "Bearer"})).unwrap_err();
        assert_eq!(
            f,
            TokenFailure::MissingAccessToken {
                status: 200,
                keys: vec!["id_token".into(), "token_type".into()]
            }
        );
        assert!(Error::from(f).message.starts_with("the token endpoint answered 200 with JSON that has no access_token (fields: id_token, token_type)"));
        let malformed =
            |body: serde_json::Value, field: &str| match parse(200, body.clone()).unwrap_err() {
                TokenFailure::Malformed {
                    field: f, problem, ..
                } => {
                    assert_eq!(f, field, "{body}");
                    assert!(!problem.contains("SECRET"), "{problem}");
                    problem
                }
                other => panic!("{body}: {other:?}"),
            };
        malformed(json!([1]), "body");
        malformed(json!({"access_token": ""}), "access_token");
        malformed(json!({"access_token": 5}), "access_token");
        assert!(malformed(
            json!({"access_token": "SECRET", "token_type": "DPoP"}),
            "token_type"
        )
        .starts_with("\"DPoP\" is not Bearer"));
        malformed(
            json!({"access_token": "SECRET", "token_type": 1}),
            "token_type",
        );
        malformed(
            json!({"access_token": "SECRET", "refresh_token": 1}),
            "refresh_token",
        );
        malformed(json!({"access_token": "SECRET", "scope": 1}), "scope");
    }

    #[test]
    fn bad_statuses_too_large_and_redirects() {
        let mut big = resp(200, "{\"access_token\":");
        big.body_too_large = true;
        let f = parse_token_response(&big, 0).unwrap_err();
        assert_eq!(f, TokenFailure::BodyTooLarge { status: 200 });
        assert_eq!(Error::from(f).message, "the token endpoint answered 200 with a body over 64 KiB: check that token_url is the provider's OAuth token endpoint");
        for (status, body) in [
            (500, ""),
            (404, "{\"message\":\"nope\"}"),
            (401, "[]"),
            (403, "{\"access_token\":\"A\"}"),
        ] {
            assert_eq!(
                parse_token_response(&resp(status, body), 0).unwrap_err(),
                TokenFailure::BadStatus { status },
                "{status} {body}"
            );
        }
        let e = Error::from(parse_token_response(&resp(500, ""), 0).unwrap_err());
        assert_eq!((e.code, e.message.as_str()), (ErrorCode::InvalidResponse, "the token endpoint answered 500 without an OAuth error: check that token_url is the provider's OAuth token endpoint, and that the provider is up"));
        for status in [0, 302] {
            let e = Error::from(parse_token_response(&resp(status, ""), 0).unwrap_err());
            assert!(
                e.message.starts_with(&format!(
                    "the token endpoint answered with a redirect ({status})"
                )),
                "{e}"
            );
        }
    }
}
