//! What the Worker keeps sealed in D1 besides a server's config (`servers`): a connection's
//! tokens and a pending consent. Each is sealed (AES-256-GCM, `crate::seal`) with associated
//! data that names its row, so a sealed value moved to another row does not open.

use super::error::{ApiError, ApiResult};
use super::Settings;
use crate::seal;
use crate::token::TokenSet;

fn tokens_aad(server_id: &str, actor_id: &str) -> String {
    format!("connection:{server_id}:{actor_id}:tokens")
}

/// The tokens of `actor_id`'s connection to `server_id` (`""`: the server's own
/// client-credentials token), sealed for their row.
pub fn seal_tokens(
    s: &Settings,
    server_id: &str,
    actor_id: &str,
    tokens: &TokenSet,
) -> ApiResult<String> {
    let plain = serde_json::to_vec(tokens).map_err(|_| ApiError::Internal {
        what_failed: "The tokens could not be written as JSON",
    })?;
    seal::seal(
        &s.seal_key,
        &plain,
        tokens_aad(server_id, actor_id).as_bytes(),
    )
    .map_err(|_| ApiError::Internal {
        what_failed: "The tokens could not be sealed",
    })
}

/// Tokens sealed by [`seal_tokens`] for the same row.
pub fn open_tokens(
    s: &Settings,
    server_id: &str,
    actor_id: &str,
    sealed: &str,
) -> ApiResult<TokenSet> {
    seal::open(
        &s.seal_key,
        sealed,
        tokens_aad(server_id, actor_id).as_bytes(),
    )
    .ok()
    .and_then(|p| serde_json::from_slice(&p).ok())
    .ok_or(ApiError::Unsealable {
        what: "Stored tokens",
    })
}

/// The associated data of a pending consent, named by its state's hash.
pub fn pending_aad(state_hash: &str) -> String {
    format!("pending:{state_hash}")
}
