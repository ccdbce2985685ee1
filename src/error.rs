//! The one error type of the core: a stable machine-readable `code` and a message that names
//! the fix. The wasm bindings turn it into a JavaScript `Error` with a `code` property.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Stable error codes. Their `snake_case` spelling is part of the public API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The endpoint is not an absolute http(s) URL, or is `http:` where that is not allowed.
    InvalidEndpoint,
    /// The probe failed with a network error or a timeout.
    Unreachable,
    /// The caller aborted the operation.
    Aborted,
    /// A PKCE code verifier outside RFC 7636's alphabet or length.
    InvalidVerifier,
    /// An argument of the wrong shape (a missing field, a value that is not a URL, ...).
    InvalidArgument,
    /// A peer answered with something the protocol does not allow (non-JSON, HTML, ...).
    InvalidResponse,
    /// The authorization server answered with an OAuth error (`error`, `error_description`).
    OauthError,
    /// Dynamic client registration failed for every method tried.
    RegistrationFailed,
    /// The provider has no registration endpoint: credentials must be supplied by hand.
    RegistrationUnavailable,
    /// An outbound target refused by policy (http, private or loopback address).
    BlockedTarget,
}

impl ErrorCode {
    /// Every code.
    pub const ALL: [ErrorCode; 10] = [
        ErrorCode::InvalidEndpoint,
        ErrorCode::Unreachable,
        ErrorCode::Aborted,
        ErrorCode::InvalidVerifier,
        ErrorCode::InvalidArgument,
        ErrorCode::InvalidResponse,
        ErrorCode::OauthError,
        ErrorCode::RegistrationFailed,
        ErrorCode::RegistrationUnavailable,
        ErrorCode::BlockedTarget,
    ];

    /// The stable wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidEndpoint => "invalid_endpoint",
            ErrorCode::Unreachable => "unreachable",
            ErrorCode::Aborted => "aborted",
            ErrorCode::InvalidVerifier => "invalid_verifier",
            ErrorCode::InvalidArgument => "invalid_argument",
            ErrorCode::InvalidResponse => "invalid_response",
            ErrorCode::OauthError => "oauth_error",
            ErrorCode::RegistrationFailed => "registration_failed",
            ErrorCode::RegistrationUnavailable => "registration_unavailable",
            ErrorCode::BlockedTarget => "blocked_target",
        }
    }
}

/// An error with a stable code and a message a person can act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Error {
    pub code: ErrorCode,
    pub message: String,
}

impl Error {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Error {
            code,
            message: message.into(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for Error {}

pub(crate) type Result<T, E = Error> = std::result::Result<T, E>;
