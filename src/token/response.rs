//! Token responses: [`TokenSet`] on success, [`TokenFailure`] saying why not (RFC 6749 §5,
//! discovery.md §8).

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{clean, sniff, MAX_TOKEN_BODY_BYTES};
use crate::error::{Error, ErrorCode};
use crate::secret::Secret;
use crate::transport::HttpResponse;

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

/// The longest lifetime a token response may claim: a larger `expires_in` counts as this
/// (one year; discovery.md §8). Beyond it, dates stop being representable downstream.
pub const MAX_EXPIRES_IN_SECS: u64 = 365 * 24 * 3600;

/// What to do with a stored token set now (discovery.md §8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenState {
    /// Valid beyond the refresh leeway: hand it out.
    Fresh,
    /// Inside the leeway or expired, with a refresh token: refresh it.
    Refresh,
    /// Inside the leeway without a refresh token, but not yet expired: hand it out until it
    /// really expires (the provider issued no refresh token; nothing better can be had).
    UsableUntilExpiry,
    /// Expired and no refresh token: the connection is over.
    ExpiredWithoutRefresh,
}

impl TokenSet {
    /// Whether the access token has expired, or will within `leeway_secs`.
    pub fn is_expired(&self, now_unix: u64, leeway_secs: u64) -> bool {
        self.expires_at
            .is_some_and(|at| now_unix.saturating_add(leeway_secs) >= at)
    }

    /// The [`TokenState`] at `now_unix` with a refresh leeway of `leeway_secs`.
    pub fn state(&self, now_unix: u64, leeway_secs: u64) -> TokenState {
        if !self.is_expired(now_unix, leeway_secs) {
            TokenState::Fresh
        } else if self.refresh_token.as_ref().is_some_and(|r| !r.is_empty()) {
            TokenState::Refresh
        } else if !self.is_expired(now_unix, 0) {
            TokenState::UsableUntilExpiry
        } else {
            TokenState::ExpiredWithoutRefresh
        }
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
                let fields = if keys.is_empty() {
                    "none".to_owned()
                } else {
                    keys.join(", ")
                };
                format!(
                    "the token endpoint answered {status} with JSON that has no access_token \
                     (fields: {fields}): {CHECK_URL}"
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
        "invalid_grant" => {
            "the code or refresh token is invalid, expired, used or revoked: connect again"
        }
        "invalid_client" => {
            "the provider refused the client authentication: check client_id, client_secret and \
             token_endpoint_auth_method"
        }
        "unauthorized_client" => {
            "this client may not use this grant: enable the grant type for it at the provider"
        }
        "unsupported_grant_type" => {
            "the provider does not support this grant: choose another auth type"
        }
        "invalid_scope" => "the provider refused the scopes: fix the configured scopes",
        "invalid_target" => {
            "the provider refused the resource: set resource to the MCP server URL it knows"
        }
        "invalid_request" => {
            "the provider refused the request: check redirect_uri, resource and the client's \
             registration"
        }
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
    let access_token =
        match map.get("access_token") {
            None | Some(Value::Null) => {
                return Err(TokenFailure::MissingAccessToken {
                    status,
                    keys: map.keys().take(10).map(|k| clean(k, 40)).collect(),
                })
            }
            Some(Value::String(s)) if s.is_empty() => {
                return Err(bad("access_token", "it is empty".into()))
            }
            Some(Value::String(s)) if !is_b64token(s) => return Err(bad(
                "access_token",
                "it holds characters a bearer token may not (RFC 6750 b64token: letters, digits, \
                 - . _ ~ + / and trailing =; no spaces or control characters)"
                    .into(),
            )),
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
        expires_at: expires_in.map(|s| now.saturating_add(s.min(MAX_EXPIRES_IN_SECS))),
        scope,
    })
}

/// RFC 6750 §2.1 `b64token`: `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
pub(crate) fn is_b64token(s: &str) -> bool {
    let body = s.trim_end_matches('=');
    !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
}

/// Seconds from a JSON number (RFC 6749 §5.1); fractions are rounded down, values above
/// [`MAX_EXPIRES_IN_SECS`] are capped by the caller. A string, a negative number or anything
/// else is a malformed response.
fn expires_in(v: &Value) -> Result<Option<u64>, String> {
    match v {
        Value::Null => Ok(None),
        Value::Number(n) => match (n.as_u64(), n.as_f64()) {
            (Some(u), _) => Ok(Some(u)),
            (None, Some(f)) if f.is_finite() && f >= 0.0 => Ok(Some(f as u64)),
            _ => Err(format!("{n} is not a non-negative number of seconds")),
        },
        Value::String(s) => Err(format!(
            "{:?} is a string, not a number of seconds",
            clean(s, 40)
        )),
        _ => Err("it is not a number".into()),
    }
}
