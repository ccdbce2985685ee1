//! Token requests (authorization code, refresh, client credentials) and the judgement of token
//! responses (RFC 6749 §4-§6, RFC 8707 `resource`, discovery.md §8). Sans-I/O: builders return
//! [`HttpRequest`](crate::transport::HttpRequest)s, parsers take [`HttpResponse`]s and the
//! current time.

pub mod assertion;
mod request;
mod response;

#[cfg(test)]
mod tests;

// For token revocation (RFC 7009), which only the Worker sends.
#[cfg(any(test, all(target_arch = "wasm32", feature = "worker")))]
pub(crate) use request::authenticate_client;
pub use request::{authorization_code_request, client_credentials_request, refresh_request};
pub use response::{
    parse_refresh_response, parse_token_response, TokenFailure, TokenSet, TokenState,
    MAX_EXPIRES_IN_SECS,
};

use crate::auth_mode::ClientAuthMethod;
use crate::secret::Secret;
use crate::transport::HttpResponse;

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
    /// For `private_key_jwt`: the signed client assertion of this one request (see
    /// [`assertion`]); the builders refuse that method without it.
    pub assertion: Option<Secret>,
}

impl ClientAuth {
    /// A public client (`none`): `client_id` in the body, no secret.
    pub fn public(client_id: impl Into<String>) -> Self {
        ClientAuth {
            client_id: client_id.into(),
            client_secret: None,
            method: ClientAuthMethod::None,
            assertion: None,
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
            assertion: None,
        }
    }

    /// The method to retry with after `failure` (discovery.md §7): a `client_secret_basic`
    /// request answered `invalid_client` is retried once as `client_secret_post` when the
    /// provider lists that method (some providers demand `client_id` in the body). `None`:
    /// no retry. The caller remembers the method that worked.
    pub fn retry_method(&self, failure: &TokenFailure, advertised: &[String]) -> Option<Self> {
        let listed = advertised
            .iter()
            .any(|m| m == ClientAuthMethod::ClientSecretPost.as_str());
        (self.method == ClientAuthMethod::ClientSecretBasic
            && failure.error() == Some("invalid_client")
            && listed)
            .then(|| ClientAuth {
                method: ClientAuthMethod::ClientSecretPost,
                ..self.clone()
            })
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
