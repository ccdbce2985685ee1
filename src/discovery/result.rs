//! The DiscoveryResult (discovery.md §5): what discovery learned about one endpoint.

use serde::{Deserialize, Serialize};

use crate::auth_mode::AuthMode;
use crate::warning::Warning;

/// Whether protected resource metadata was found (`evidence.prm`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrmEvidence {
    /// A PRM document was accepted.
    Usable,
    /// None was accepted, but some candidate answered 200 with a JSON object.
    Unusable,
    #[default]
    None,
}

/// Whether authorization server metadata was found (`evidence.authorization_server`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AsEvidence {
    /// A document was accepted.
    Usable,
    /// None was, but some candidate answered 200 with a JSON object.
    Rejected,
    /// Neither, but some candidate failed with a network error.
    Unreachable,
    #[default]
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Evidence {
    #[serde(default)]
    pub prm: PrmEvidence,
    #[serde(default)]
    pub authorization_server: AsEvidence,
}

/// How a request of the trace ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The answer decided part of the result.
    Used,
    /// Any other answer (404, invalid, rejected, or not needed).
    Skipped,
    NetworkError,
    Timeout,
}

/// One request discovery sent, in the order sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceEntry {
    pub method: String,
    pub url: String,
    /// `null` when no response arrived (or for a browser's opaque redirect).
    pub status: Option<u16>,
    /// Whole milliseconds from send to answer.
    pub ms: u32,
    pub outcome: Outcome,
}

/// The result of `discover`. Field names are the HTTP API's snake_case.
///
/// Every field has a serde default so that `recommendAuthMode` accepts a result that a
/// person edited or trimmed.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct DiscoveryResult {
    #[serde(default)]
    pub requires_auth: bool,
    #[serde(default)]
    pub recommended_auth_mode: Option<AuthMode>,
    /// `authorization_endpoint`.
    #[serde(default)]
    pub auth_url: Option<String>,
    /// `token_endpoint`.
    #[serde(default)]
    pub token_url: Option<String>,
    /// `registration_endpoint`.
    #[serde(default)]
    pub register_url: Option<String>,
    /// The PRM URL that was used.
    #[serde(default)]
    pub resource_metadata_url: Option<String>,
    #[serde(default)]
    pub resource: Option<String>,
    /// Challenge scope, else PRM `scopes_supported`, else empty.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// As advertised; empty when absent.
    #[serde(default)]
    pub token_endpoint_auth_methods_supported: Vec<String>,
    #[serde(default)]
    pub authorization_servers: Vec<String>,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub issuer: Option<String>,
    #[serde(default)]
    pub pkce_s256_supported: Option<bool>,
    #[serde(default)]
    pub client_id_metadata_document_supported: bool,
    #[serde(default)]
    pub grant_types_supported: Vec<String>,
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
    #[serde(default)]
    pub evidence: Evidence,
    #[serde(default)]
    pub warnings: Vec<Warning>,
    /// Not read back by `recommendAuthMode` or hydration: a result handed back in may carry
    /// any trace (or none).
    #[serde(default, skip_deserializing)]
    pub trace: Vec<TraceEntry>,
}
