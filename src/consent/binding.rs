//! Consent bound to the browser that started it (browser.md §1): the one-time start token, the
//! binding cookie, the redirect-mode `return_to` and the outcome fragment. Rules only; the
//! Worker stores the hashes and reads the headers.
//!
//! A flow goes: `connect` (ticket) stores the pending consent with the SHA-256 of a random
//! start token and answers `{flow_id, consent: {url, method: "POST", fields}}`; the browser
//! submits the fields as a form from a page of an allowed origin; the start route checks
//! `Origin`, consumes the start token, sets the binding cookie (a random value whose SHA-256
//! is stored with the flow) and answers 303 to the provider; the callback requires the cookie.

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::callback::CallbackError;

/// How long a start token can be used after `connect`: 5 minutes (the flow itself lives 15).
pub const START_TTL_SECS: u64 = 300;
/// How long a finished flow's outcome stays readable: 1 hour.
pub const OUTCOME_TTL_SECS: u64 = 3600;
/// The path the consent routes live under (start, callback, flow status).
pub const CONSENT_PATH: &str = "/service/mcp/consent";
/// The start route (form-encoded `flow_id` and `start_token`).
pub const START_PATH: &str = "/service/mcp/consent/start";
/// The name of the fragment parameter that carries a redirect-mode outcome.
pub const FRAGMENT_KEY: &str = "mcp-authlink";
/// The form fields of the start route.
pub const FIELD_FLOW_ID: &str = "flow_id";
pub const FIELD_START_TOKEN: &str = "start_token";

/// Lowercase hex SHA-256 of a secret (start tokens, bindings and states are stored this way).
pub fn secret_hash(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Equality of two strings in time that depends only on their lengths.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The binding cookie's name for a flow. Over https: `__Host-` prefixed (the browser then
/// insists on `Secure`, `Path=/` and no `Domain`, so no sibling host can plant one); over
/// plain http (loopback development only): without the prefix, which http cannot carry.
/// One cookie per flow, so two consents under way in one browser do not overwrite each other.
pub fn cookie_name(flow_id: &str, secure: bool) -> String {
    if secure {
        format!("__Host-mcp-authlink-consent-{flow_id}")
    } else {
        format!("mcp-authlink-consent-{flow_id}")
    }
}

fn cookie_attributes(secure: bool) -> String {
    if secure {
        // __Host- requires Path=/ (a narrower path makes the browser drop the cookie).
        "Path=/; Secure; HttpOnly; SameSite=Lax".to_owned()
    } else {
        format!("Path={CONSENT_PATH}; HttpOnly; SameSite=Lax")
    }
}

/// The `Set-Cookie` value that binds `flow_id` to this browser, for `max_age` seconds.
pub fn set_cookie(flow_id: &str, binding: &str, secure: bool, max_age: u64) -> String {
    format!(
        "{}={binding}; Max-Age={max_age}; {}",
        cookie_name(flow_id, secure),
        cookie_attributes(secure)
    )
}

/// The `Set-Cookie` value that removes the binding cookie of `flow_id`.
pub fn clear_cookie(flow_id: &str, secure: bool) -> String {
    format!(
        "{}=; Max-Age=0; {}",
        cookie_name(flow_id, secure),
        cookie_attributes(secure)
    )
}

/// Every value of the cookie `name` in a `Cookie` header (a browser may send two with one
/// name when their paths differ).
pub fn cookie_values(header: Option<&str>, name: &str) -> Vec<String> {
    header
        .unwrap_or_default()
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(k, _)| k.trim() == name)
        .map(|(_, v)| v.trim().trim_matches('"').to_owned())
        .filter(|v| !v.is_empty())
        .collect()
}

/// The callback's binding check: some value of the flow's cookie must hash to the stored
/// binding hash (compared in constant time). A flow that was never started through the start
/// route has no stored hash and fails as [`CallbackError::BindingMissing`].
pub fn check_binding(cookies: &[String], stored_hash: Option<&str>) -> Result<(), CallbackError> {
    let Some(stored) = stored_hash.filter(|h| !h.is_empty()) else {
        return Err(CallbackError::BindingMissing);
    };
    if cookies.is_empty() {
        return Err(CallbackError::BindingMissing);
    }
    // Every candidate is hashed and compared, so the time does not say which one matched.
    let matched = cookies
        .iter()
        .map(|c| constant_time_eq(&secret_hash(c), stored))
        .fold(false, |acc, m| acc | m);
    if matched {
        Ok(())
    } else {
        Err(CallbackError::BindingMismatch)
    }
}

/// Why the start route refused (a 400 page; nothing set).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartError {
    /// No `Origin` header, or one not in `ALLOWED_RETURN_ORIGINS`.
    OriginNotAllowed,
    /// The start token is missing, unknown, already used or expired.
    StartTokenInvalid,
}

impl StartError {
    pub fn code(self) -> &'static str {
        match self {
            StartError::OriginNotAllowed => "origin_not_allowed",
            StartError::StartTokenInvalid => "start_token_invalid",
        }
    }

    pub fn message(self) -> String {
        match self {
            StartError::OriginNotAllowed => "This consent was not started from a page of the app \
                (the request's origin is missing or not allowed), so it was refused and nothing \
                was set. Start connecting again from the app."
                .to_owned(),
            StartError::StartTokenInvalid => "This consent start was already used, has expired \
                (after 5 minutes), or is unknown, so it was refused and nothing was set. Start \
                connecting again from the app."
                .to_owned(),
        }
    }
}

/// The start route's `Origin` rule: present and exactly one of the allowed origins.
pub fn check_start_origin(origin: Option<&str>, allowed: &[String]) -> Result<String, StartError> {
    match origin {
        Some(o) if allowed.iter().any(|a| a == o) => Ok(o.to_owned()),
        _ => Err(StartError::OriginNotAllowed),
    }
}

/// A redirect-mode `return_to` that is not an http(s) URL on an allowed origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReturnToNotAllowed;

/// Checks a redirect-mode `return_to`: an absolute http(s) URL without userinfo whose origin
/// is exactly one of `allowed`. Gives the URL without its fragment (the outcome goes there).
pub fn check_return_to(return_to: &str, allowed: &[String]) -> Result<String, ReturnToNotAllowed> {
    let mut url = url::Url::parse(return_to).map_err(|_| ReturnToNotAllowed)?;
    if !matches!(url.scheme(), "https" | "http")
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return Err(ReturnToNotAllowed);
    }
    let origin = url.origin().ascii_serialization();
    if !allowed.contains(&origin) {
        return Err(ReturnToNotAllowed);
    }
    url.set_fragment(None);
    Ok(url.into())
}

/// What the client learns when a flow finishes: the `postMessage` data (with `type`), the
/// redirect-mode fragment (without it), and the flow-status route's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowOutcome {
    pub flow_id: String,
    pub server_id: String,
    /// `None`: connected.
    pub error_code: Option<String>,
}

impl FlowOutcome {
    pub fn status(&self) -> &'static str {
        if self.error_code.is_some() {
            "error"
        } else {
            "connected"
        }
    }

    /// `{flow_id, status, server_id, error?}` (`error` is the stable code).
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("flow_id".into(), json!(self.flow_id));
        m.insert("status".into(), json!(self.status()));
        m.insert("server_id".into(), json!(self.server_id));
        if let Some(code) = &self.error_code {
            m.insert("error".into(), json!(code));
        }
        Value::Object(m)
    }
}

/// `return_to` with the outcome in its fragment: `#mcp-authlink=<JSON>`, the JSON
/// form-urlencoded, so `new URLSearchParams(location.hash.slice(1)).get("mcp-authlink")`
/// gives it back. Any fragment `return_to` had is replaced.
pub fn return_url(return_to: &str, outcome: &FlowOutcome) -> String {
    let json = outcome.to_json().to_string();
    let encoded: String = url::form_urlencoded::byte_serialize(json.as_bytes()).collect();
    let base = return_to.split('#').next().unwrap_or(return_to);
    format!("{base}#{FRAGMENT_KEY}={encoded}")
}
