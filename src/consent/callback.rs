//! The rules of `GET /service/mcp/consent/callback` (api.md, runtime plane): parse the query,
//! then judge it against the pending consent its `state` named. Sans-I/O: the adapter looks the
//! state up (consuming it atomically), exchanges the code and stores the tokens.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::secret::Secret;
use crate::token::{clean, TokenFailure};

/// How long a pending consent lives: 15 minutes.
pub const PENDING_TTL_SECS: u64 = 900;
/// Longest value kept for a callback parameter (4 KiB); a longer one is refused.
pub const MAX_PARAM_BYTES: usize = 4 * 1024;

/// Longest provider-supplied description quoted on the page, in characters.
pub const MAX_PROVIDER_TEXT_CHARS: usize = 200;
/// The words that introduce a provider's own text on the page.
pub const PROVIDER_LABEL: &str = "The provider's own words (not checked by this service):";

/// A provider-supplied text as the page quotes it: Unicode format characters (bidi controls,
/// zero-width characters) removed, controls and whitespace runs as one space, at most
/// [`MAX_PROVIDER_TEXT_CHARS`] characters.
pub fn provider_words(s: &str) -> String {
    clean(&strip_format_chars(s), MAX_PROVIDER_TEXT_CHARS)
}

/// Removes the Unicode format characters (general category Cf: bidi embeddings, overrides and
/// isolates, zero-width joiners and spaces, the BOM, tag characters, ...) that could make a
/// provider's text read differently from what it says.
pub fn strip_format_chars(s: &str) -> String {
    s.chars().filter(|c| !is_format_char(*c)).collect()
}

/// Unicode general category Cf (Unicode 15).
pub fn is_format_char(c: char) -> bool {
    matches!(c as u32,
        0x00AD
        | 0x0600..=0x0605
        | 0x061C
        | 0x06DD
        | 0x070F
        | 0x0890..=0x0891
        | 0x08E2
        | 0x180E
        | 0x200B..=0x200F
        | 0x202A..=0x202E
        | 0x2060..=0x2064
        | 0x2066..=0x206F
        | 0xFEFF
        | 0xFFF9..=0xFFFB
        | 0x110BD
        | 0x110CD
        | 0x13430..=0x1343F
        | 0x1BCA0..=0x1BCA3
        | 0x1D173..=0x1D17A
        | 0xE0001
        | 0xE0020..=0xE007F)
}

/// The error codes of RFC 6749 §4.1.2.1 that an authorization response may carry.
const RFC6749_AUTHZ_ERRORS: [&str; 7] = [
    "access_denied",
    "invalid_request",
    "unauthorized_client",
    "unsupported_response_type",
    "invalid_scope",
    "server_error",
    "temporarily_unavailable",
];

/// A consent flow started by `connect`, waiting for its callback. Stored under `state`, single
/// use. `Debug` redacts the verifier; `Serialize` writes it (for the Worker's own storage only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingConsent {
    pub state: String,
    pub actor_id: String,
    pub agent_id: String,
    pub server_id: String,
    pub redirect_uri: String,
    pub code_verifier: Secret,
    /// The authorization server's issuer from its metadata; `None` when unknown.
    pub issuer: Option<String>,
    /// The metadata said `authorization_response_iss_parameter_supported` (RFC 9207).
    pub iss_required: bool,
    pub resource: String,
    /// The frontend origin to notify by `postMessage` (already checked against the allow list):
    /// the `Origin` of the start request, set when the flow is started.
    pub return_origin: Option<String>,
    /// The flow's public id (what `connect` answered and the status route takes).
    #[serde(default)]
    pub flow_id: String,
    /// Redirect mode: where the callback sends the browser back, the outcome in the fragment
    /// (already checked against the allow list, without fragment).
    #[serde(default)]
    pub return_to: Option<String>,
    /// The provider's authorization URL the start route redirects to.
    #[serde(default)]
    pub authorization_url: String,
    /// Unix seconds.
    pub created_at: u64,
    /// Unix seconds; the consent is expired from this instant on.
    pub expires_at: u64,
    /// The server's config version when the flow started (see [`super::version`]); `None`
    /// in a record sealed before versions existed, which no config matches.
    #[serde(default)]
    pub config_version: Option<u64>,
}

impl PendingConsent {
    pub fn is_expired(&self, now: u64) -> bool {
        now >= self.expires_at
    }
}

/// The callback's query parameters. A parameter given twice or longer than
/// [`MAX_PARAM_BYTES`] makes the whole request invalid (RFC 6749 §3.1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallbackParams {
    pub code: Option<String>,
    pub state: Option<String>,
    pub iss: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
    /// One of the five parameters above appeared more than once (the first value is kept).
    pub duplicated: bool,
    /// One of the five parameters above was too long (its value is dropped).
    pub too_long: bool,
    /// The first parameter that was duplicated or too long.
    pub invalid_param: Option<&'static str>,
}

/// Parses the query string (without `?`). Other parameters are ignored.
pub fn parse_callback_query(query: &str) -> CallbackParams {
    let mut p = CallbackParams::default();
    let mut seen = [false; 5];
    let query = query.strip_prefix('?').unwrap_or(query);
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        let (i, name, slot): (usize, &'static str, &mut Option<String>) = match key.as_ref() {
            "code" => (0, "code", &mut p.code),
            "state" => (1, "state", &mut p.state),
            "iss" => (2, "iss", &mut p.iss),
            "error" => (3, "error", &mut p.error),
            "error_description" => (4, "error_description", &mut p.error_description),
            _ => continue,
        };
        if std::mem::replace(&mut seen[i], true) {
            p.duplicated = true;
        } else if value.len() > MAX_PARAM_BYTES {
            p.too_long = true;
        } else {
            *slot = Some(value.into_owned());
            continue;
        }
        p.invalid_param.get_or_insert(name);
    }
    p
}

/// Why a callback connected nothing. `code()` is stable; `message()` is for the person who
/// consented and may quote provider-supplied text (the page HTML-escapes it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallbackError {
    /// No `state` in the query.
    MissingState,
    /// The state is unknown, already used, or belongs to another flow (never says which).
    UnknownState,
    /// The pending consent's 15 minutes have passed.
    StateExpired,
    /// A parameter was given more than once.
    Duplicated { param: &'static str },
    /// A parameter was longer than [`MAX_PARAM_BYTES`].
    TooLong { param: &'static str },
    /// The provider answered with `error` (RFC 6749 §4.1.2.1).
    ProviderError {
        error: String,
        description: Option<String>,
    },
    /// Neither `code` nor `error`.
    MissingCode,
    /// `iss` is not the issuer the request was sent to (RFC 9207 §2.4).
    IssuerMismatch,
    /// No `iss`, though the server's metadata promises it (RFC 9207 §3).
    IssuerMissing,
    /// The token endpoint did not exchange the code.
    TokenExchange {
        status: u16,
        /// The OAuth `error`, when the provider sent one.
        error: Option<String>,
        description: Option<String>,
        /// What went wrong when there is no OAuth error (an HTML page, not JSON, ...).
        note: Option<String>,
    },
    /// Storing the connection failed.
    Storage,
    /// This browser holds no binding cookie for the flow: it is not the browser that started
    /// it (or the flow was never started through the start route).
    BindingMissing,
    /// This browser's binding cookie is not the flow's.
    BindingMismatch,
    /// The token endpoint is a target the deployment refuses (private address, `http:`).
    BlockedTarget,
    /// The server's config changed since the flow started (its config version moved on):
    /// nothing is sent to the new config's endpoints and nothing is stored.
    ServerChanged,
}

impl CallbackError {
    /// The stable code (`missing_state`, `invalid_state`, ...).
    pub fn code(&self) -> &'static str {
        match self {
            CallbackError::MissingState => "missing_state",
            CallbackError::UnknownState => "invalid_state",
            CallbackError::StateExpired => "state_expired",
            CallbackError::Duplicated { .. } | CallbackError::TooLong { .. } => "invalid_request",
            CallbackError::ProviderError { error, .. } => RFC6749_AUTHZ_ERRORS
                .iter()
                .find(|c| **c == error.as_str())
                .copied()
                .unwrap_or("provider_error"),
            CallbackError::MissingCode => "missing_code",
            CallbackError::IssuerMismatch => "issuer_mismatch",
            CallbackError::IssuerMissing => "issuer_missing",
            CallbackError::TokenExchange { .. } => "token_exchange_failed",
            CallbackError::Storage => "storage_error",
            CallbackError::BindingMissing => "binding_missing",
            CallbackError::BindingMismatch => "binding_mismatch",
            CallbackError::BlockedTarget => "blocked_target",
            CallbackError::ServerChanged => "server_changed",
        }
    }

    /// A sentence for the person at the browser, naming what to do next.
    pub fn message(&self) -> String {
        const AGAIN: &str = "Start connecting again from the app.";
        const ADMIN: &str = "If it happens again, ask the administrator to check this server's \
                             OAuth settings.";
        match self {
            CallbackError::MissingState => format!(
                "This page was opened without the state of a consent flow, so nothing can be \
                 connected. {AGAIN}"
            ),
            CallbackError::UnknownState => format!(
                "This consent link is not valid: it is unknown, was already used, or belongs to \
                 another sign-in. {AGAIN}"
            ),
            CallbackError::StateExpired => {
                format!("The consent took longer than 15 minutes and expired. {AGAIN}")
            }
            CallbackError::Duplicated { param } => format!(
                "The provider's answer carried the parameter {param} more than once, so it was \
                 refused. {AGAIN}"
            ),
            CallbackError::TooLong { param } => format!(
                "The provider's answer carried an overlong {param} parameter, so it was \
                 refused. {AGAIN}"
            ),
            CallbackError::ProviderError { error, description } => {
                let desc = description
                    .as_deref()
                    .map(provider_words)
                    .filter(|d| !d.is_empty())
                    .map(|d| format!(" {PROVIDER_LABEL} \u{201c}{d}\u{201d}."))
                    .unwrap_or_default();
                match error.as_str() {
                    "access_denied" => format!(
                        "Access was not granted (access_denied), so nothing was connected.{desc} \
                         To connect, start again and approve the access."
                    ),
                    "temporarily_unavailable" | "server_error" => format!(
                        "The provider could not complete the sign-in ({error}).{desc} Wait a \
                         moment, then start connecting again."
                    ),
                    _ => format!(
                        "The provider refused the request ({}).{desc} {AGAIN} {ADMIN}",
                        clean(&strip_format_chars(error), 80)
                    ),
                }
            }
            CallbackError::MissingCode => format!(
                "The provider's answer had neither an authorization code nor an error. {AGAIN} \
                 {ADMIN}"
            ),
            CallbackError::IssuerMismatch => format!(
                "The answer came from a different authorization server than the one asked \
                 (iss mismatch, RFC 9207), so it was refused. {AGAIN} {ADMIN}"
            ),
            CallbackError::IssuerMissing => format!(
                "The provider promises to identify itself (iss, RFC 9207) but its answer did \
                 not, so it was refused. {AGAIN} {ADMIN}"
            ),
            CallbackError::TokenExchange {
                status,
                error,
                description,
                note,
            } => {
                let what = match (error, note) {
                    (Some(e), _) => {
                        let desc = description
                            .as_deref()
                            .map(provider_words)
                            .filter(|d| !d.is_empty())
                            .map(|d| format!(" ({PROVIDER_LABEL} \u{201c}{d}\u{201d})"))
                            .unwrap_or_default();
                        format!(
                            "the OAuth error {}{desc}",
                            clean(&strip_format_chars(e), 80)
                        )
                    }
                    (None, Some(n)) => n.clone(),
                    (None, None) => "an unusable answer".to_owned(),
                };
                format!(
                    "Access was granted, but the provider's token endpoint answered {status} \
                     with {what}, so nothing was connected. {AGAIN} {ADMIN}"
                )
            }
            CallbackError::Storage => format!(
                "Access was granted, but the connection could not be saved. {AGAIN} If it \
                 happens again, tell the administrator."
            ),
            CallbackError::BindingMissing => "This browser did not start this consent (it \
                holds no consent cookie for it), so nothing was connected, for anyone. Finish \
                connecting in the browser where Connect was pressed: start again from the app \
                there."
                .to_owned(),
            CallbackError::BindingMismatch => "This consent belongs to another browser (the \
                consent cookie does not match), so nothing was connected, for anyone. Start \
                connecting again from the app in this browser."
                .to_owned(),
            CallbackError::BlockedTarget => format!(
                "Access was granted, but the server's token endpoint is an address this \
                 deployment refuses to call (blocked_target), so nothing was connected. {ADMIN}"
            ),
            CallbackError::ServerChanged => format!(
                "The server's configuration was changed while you were connecting \
                 (server_changed), so nothing was connected and nothing was sent to its new \
                 provider. {AGAIN}"
            ),
        }
    }
}

impl fmt::Display for CallbackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code(), self.message())
    }
}

impl std::error::Error for CallbackError {}

/// Keeps the OAuth error and description; otherwise a short note of what the body was. Never
/// quotes a non-OAuth body (the page is no place for a token endpoint's excerpt).
impl From<&TokenFailure> for CallbackError {
    fn from(f: &TokenFailure) -> Self {
        let (error, description, note) = match f {
            TokenFailure::OAuth {
                error,
                error_description,
                ..
            } => (Some(error.clone()), error_description.clone(), None),
            TokenFailure::NotJson {
                looks_like_html,
                excerpt,
                ..
            } => {
                let n = if *looks_like_html {
                    "an HTML page instead of JSON"
                } else if excerpt.is_empty() {
                    "an empty body"
                } else {
                    "a body that is not JSON"
                };
                (None, None, Some(n))
            }
            TokenFailure::MissingAccessToken { .. } => {
                (None, None, Some("JSON without an access_token"))
            }
            TokenFailure::Malformed { .. } => (None, None, Some("a malformed token response")),
            TokenFailure::BodyTooLarge { .. } => (None, None, Some("an oversized body")),
            TokenFailure::BadStatus { status } if *status == 0 || (300..400).contains(status) => {
                (None, None, Some("a redirect"))
            }
            TokenFailure::BadStatus { .. } => (None, None, Some("an error status")),
        };
        CallbackError::TokenExchange {
            status: f.status(),
            error,
            description,
            note: note.map(str::to_owned),
        }
    }
}

impl From<TokenFailure> for CallbackError {
    fn from(f: TokenFailure) -> Self {
        CallbackError::from(&f)
    }
}

/// The `state` to look up. Fails when it is absent or empty ([`CallbackError::MissingState`]),
/// or was itself duplicated or too long (no single flow to look up; nothing is consumed).
pub fn state_param(params: &CallbackParams) -> Result<&str, CallbackError> {
    if params.invalid_param == Some("state") {
        return Err(invalid(params));
    }
    match params.state.as_deref() {
        Some(s) if !s.is_empty() => Ok(s),
        _ => Err(CallbackError::MissingState),
    }
}

fn invalid(params: &CallbackParams) -> CallbackError {
    let param = params.invalid_param.unwrap_or("unknown");
    if params.duplicated {
        CallbackError::Duplicated { param }
    } else {
        CallbackError::TooLong { param }
    }
}

/// Judges a callback against its (already consumed) pending consent; the code on success.
///
/// Order: duplicated or overlong parameter, expiry (`now >= expires_at`), `iss` (exact string
/// comparison with the issuer, also for error responses; ignored when the issuer is unknown
/// and not required), missing `iss` when required, the provider's `error`, a missing code.
pub fn check_callback(
    params: &CallbackParams,
    pending: &PendingConsent,
    now: u64,
) -> Result<String, CallbackError> {
    if params.duplicated || params.too_long {
        return Err(invalid(params));
    }
    if pending.is_expired(now) {
        return Err(CallbackError::StateExpired);
    }
    use crate::authorize::{check_iss, IssRefusal};
    match check_iss(
        params.iss.as_deref(),
        pending.issuer.as_deref(),
        pending.iss_required,
    ) {
        Err(IssRefusal::Mismatch) => return Err(CallbackError::IssuerMismatch),
        Err(IssRefusal::Missing) => return Err(CallbackError::IssuerMissing),
        Ok(()) => {}
    }
    if let Some(error) = &params.error {
        return Err(CallbackError::ProviderError {
            error: error.clone(),
            description: params.error_description.clone(),
        });
    }
    match &params.code {
        Some(code) if !code.is_empty() => Ok(code.clone()),
        _ => Err(CallbackError::MissingCode),
    }
}
