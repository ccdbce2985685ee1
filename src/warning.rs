//! Warnings: non-fatal findings that discovery and challenge parsing report alongside a result.

use serde::{Deserialize, Serialize};

/// Stable warning codes (discovery.md §5). Their `snake_case` spelling is public API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WarningCode {
    ChallengeOnSuccess,
    Redirected,
    Inconclusive,
    EndpointNotFound,
    MalformedChallenge,
    DuplicateParam,
    NetworkError,
    MetadataInvalid,
    MetadataTooLarge,
    ResourceMismatch,
    AuthorizationServerIsMetadataUrl,
    IssuerMismatch,
    IssuerTrailingSlash,
    PkceNotAdvertised,
    UnsupportedClientAuth,
    /// Legacy mode (2025-03-26): the origin's metadata names another issuer, used anyway.
    LegacyMetadata,
    /// Legacy mode (2025-03-26): the default endpoints under the origin are used.
    DefaultEndpoints,
    /// The PRM lists more authorization servers than are tried.
    TooManyAuthorizationServers,
}

/// One warning: `{code, message, url?, status?}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warning {
    pub code: WarningCode,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
}

impl Warning {
    pub fn new(code: WarningCode, message: impl Into<String>) -> Self {
        Warning {
            code,
            message: message.into(),
            url: None,
            status: None,
        }
    }

    pub fn with_url(mut self, url: impl Into<String>) -> Self {
        self.url = Some(url.into());
        self
    }

    pub fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }
}
