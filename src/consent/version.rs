//! Config versions (issue 9 item 4): the rule that keeps one provider's secrets away from
//! another provider's endpoints when a server's config changes while they are in use.
//!
//! A server's config version is bumped by every write of its config. A pending consent (its
//! code and PKCE verifier) and a connection (its refresh token) record the version they were
//! made under. A secret is sent only to the endpoints of the config at that same version:
//! the callback compares the flow's version with the server's current one before it
//! exchanges the code (and stores the tokens only if the server is still at that version); a
//! refresh or a revocation compares the connection's version with the version of the config
//! whose token or revocation endpoint it would call. A config change that keeps connections
//! (same endpoint, issuer, client and token endpoint) moves them to the new version.

use super::callback::{CallbackError, PendingConsent};

/// How a secret's config version relates to the config about to be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigMatch {
    /// Made under this config: its endpoints are the secret's own.
    Same,
    /// Made under an older config (or before versions existed): the current endpoints may
    /// belong to another provider. Nothing is sent.
    Stale,
    /// Made under a newer config than the one the caller read (the config changed while the
    /// request ran): nothing is sent; a retry reads the current config.
    Ahead,
}

/// Compares the version a secret was made under (`None`: recorded before versions existed)
/// with the version of the config whose endpoints would receive it.
pub fn config_match(made_under: Option<u64>, config_version: u64) -> ConfigMatch {
    match made_under {
        Some(v) if v == config_version => ConfigMatch::Same,
        Some(v) if v > config_version => ConfigMatch::Ahead,
        _ => ConfigMatch::Stale,
    }
}

/// The callback's check, after the pending consent is consumed and before anything is sent:
/// the server must still be at the flow's config version, else
/// [`CallbackError::ServerChanged`].
pub fn check_flow_config(
    pending: &PendingConsent,
    server_config_version: u64,
) -> Result<(), CallbackError> {
    match config_match(pending.config_version, server_config_version) {
        ConfigMatch::Same => Ok(()),
        ConfigMatch::Stale | ConfigMatch::Ahead => Err(CallbackError::ServerChanged),
    }
}
